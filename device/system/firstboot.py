"""``zeropin firstboot``: apply the boot partition's ``zeropin.toml`` to the system, every boot.

A maker flashes a card and edits ``/boot/firmware/zeropin.toml`` from any laptop (the boot
partition is FAT, so every laptop can write it, and read it). At boot, as root and before the
daemon starts (``zeropin-firstboot.service``), this:

1. moves the API keys and tokens out of it into ``/etc/zeropin/secrets.toml`` (mode 0600, owned
   by the daemon's user), whatever else in the file is wrong: anyone with the card can read the
   FAT partition (``device.system.boot_secrets``);
2. reads the file the way the daemon will, so a broken line stops here with the file, key and
   reason, and nothing else is changed;
3. sets the host name, the Wi-Fi country, the Wi-Fi network (a NetworkManager connection file,
   0600, as Raspberry Pi OS Bookworm keeps its own, after which the password's line on the
   boot partition is replaced by a note), the time zone and the audio profile (ALSA config,
   overlay, mixer).

Every step is idempotent, so it runs on every boot and a later edit of the file takes effect at
the next one. ``root`` lets tests (and image builds) apply it to a folder instead of ``/``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import tomllib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from device.config.schema import Config
from device.config.sources import load_config
from device.system.boot_secrets import (
    DAEMON_USER,
    move_secrets,
    write_file,
)

log = logging.getLogger(__name__)

BOOT_CONFIG = Path("boot/firmware/zeropin.toml")  # paths here are relative to the root
SYSTEM_CONFIG = Path("etc/zeropin/config.toml")
SECRETS = Path("etc/zeropin/secrets.toml")
WIFI_CONNECTION = Path("etc/NetworkManager/system-connections/zeropin-wifi.nmconnection")
CMDLINE = Path("boot/firmware/cmdline.txt")
LOCALTIME = Path("etc/localtime")
ZONEINFO = Path("usr/share/zoneinfo")
WIFI_MOVED_NOTE = "# wifi_password moved into the Wi-Fi connection by zeropin firstboot"

_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")  # [table], not [[array of tables]]
_WIFI_PASSWORD_LINE = re.compile(r"^\s*(wifi_password|\"wifi_password\")\s*=")
_REGDOM = re.compile(r"\s*\bcfg80211\.ieee80211_regdom=\S*")

Runner = Callable[[Sequence[str]], None]


@dataclass
class FirstbootReport:
    """What one run changed; ``reboot_needed`` when an overlay changed in config.txt."""

    keys_moved: list[str] = field(default_factory=list)  # provider names, and WEB
    hostname: str = ""
    wifi_country: str = ""
    wifi_network: str = ""  # the SSID of the connection written
    timezone: str = ""
    audio_profile: str = ""
    reboot_needed: bool = False


def apply_boot_config(
    root: Path = Path("/"),
    boot_config: Path | None = None,
    *,
    run: Runner | None = None,
    owner: str = DAEMON_USER,
) -> FirstbootReport:
    """Apply ``boot_config`` (default ``<root>/boot/firmware/zeropin.toml``) to ``root``.

    ``run`` carries out system commands (``hostname``, ``iw``) only when ``root`` is ``/``;
    it defaults to running them when they are installed.
    """
    boot_file = boot_config or root / BOOT_CONFIG
    report = FirstbootReport()
    if not boot_file.is_file():
        log.info("%s: not there, nothing to apply", boot_file)
        return report
    report.keys_moved = move_secrets(boot_file, root / SECRETS, owner)
    # Raises ConfigError naming the file and key; nothing but the keys has been changed yet.
    cfg = load_config(
        paths=[root / SYSTEM_CONFIG, boot_file], env={}, secrets_paths=[], page_paths=[]
    )
    live = root.resolve() == Path("/")
    runner = run or (_run_if_installed if live else None)
    report.hostname = _apply_hostname(cfg, root, runner)
    report.wifi_country = _apply_wifi_country(cfg, root, runner)
    report.wifi_network = _apply_wifi_network(cfg, root)
    report.timezone = _apply_timezone(cfg, root)
    if report.wifi_network and cfg.system.wifi_password.reveal():
        _take_wifi_password(boot_file)  # when the boot partition is where it was written
    if cfg.audio.profile:
        report.audio_profile, report.reboot_needed = _apply_audio(cfg, root)
    return report


# -- host name, Wi-Fi country, audio ------------------------------------------------------------


def _apply_hostname(cfg: Config, root: Path, run: Runner | None) -> str:
    name = cfg.system.hostname
    if not name:
        return ""
    hostname_file = root / "etc/hostname"
    old = hostname_file.read_text().strip() if hostname_file.is_file() else ""
    if old != name:
        write_file(hostname_file, name + "\n", mode=None)
    _set_hosts_line(root / "etc/hosts", name)
    if run is not None and socket.gethostname() != name:
        run(["hostname", name])
    return name


def _set_hosts_line(hosts: Path, name: str) -> None:
    """Point 127.0.1.1 at ``name`` (as Debian's installer does), so sudo and mDNS find it."""
    lines = hosts.read_text().splitlines() if hosts.is_file() else ["127.0.0.1\tlocalhost"]
    wanted = f"127.0.1.1\t{name}"
    kept = [line for line in lines if not line.startswith("127.0.1.1")]
    new = [*kept, wanted]
    if new != lines:
        write_file(hosts, "\n".join(new) + "\n", mode=None)


def _apply_wifi_country(cfg: Config, root: Path, run: Runner | None) -> str:
    """The regulatory domain on the kernel command line (as raspi-config sets it), and now."""
    country = cfg.system.wifi_country
    if not country:
        return ""
    cmdline = root / CMDLINE
    if cmdline.is_file():
        old = cmdline.read_text().strip()
        new = _REGDOM.sub("", old) + f" cfg80211.ieee80211_regdom={country}"
        if new != old:
            write_file(cmdline, new + "\n", mode=None)
    else:
        log.info("no %s (not a Raspberry Pi image): the country applies until reboot", cmdline)
    if run is not None:
        run(["iw", "reg", "set", country])
        run(["rfkill", "unblock", "wifi"])  # Raspberry Pi OS keeps Wi-Fi off until this
    return country


def _apply_timezone(cfg: Config, root: Path) -> str:
    """/etc/localtime and /etc/timezone, as timedatectl and raspi-config leave them. Read by the
    daemon when it starts, which is after firstboot."""
    zone = cfg.system.timezone
    if not zone:
        return ""
    data = root / ZONEINFO / zone
    if not data.is_file():
        log.warning("no %s in this system's tz database: the time zone is left as it was", zone)
        return ""
    localtime = root / LOCALTIME
    target = Path("/") / ZONEINFO / zone
    if localtime.is_symlink() and Path(os.readlink(localtime)) == target:
        return zone
    link = localtime.with_name(f".{localtime.name}.zeropin")
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    os.replace(link, localtime)  # at no moment is there no /etc/localtime
    write_file(root / "etc/timezone", zone + "\n", mode=0o644)
    return zone


def _apply_wifi_network(cfg: Config, root: Path) -> str:
    """A NetworkManager keyfile for ``[system] wifi_ssid``, read when NetworkManager starts
    (firstboot runs before the network). Mode 0600, owned by root: it holds the password, and
    NetworkManager ignores a connection file others may read."""
    ssid = cfg.system.wifi_ssid
    if not ssid:
        return ""
    # A fixed id and uuid: the same file every boot, so an unchanged setting writes nothing.
    uuid_ = uuid.uuid5(uuid.NAMESPACE_URL, "zeropin-wifi")
    lines = [
        "# Written by zeropin firstboot from [system] wifi_ssid in /boot/firmware/zeropin.toml",
        "[connection]",
        "id=zeropin-wifi",
        f"uuid={uuid_}",
        "type=wifi",
        "autoconnect=true",
        "",
        "[wifi]",
        "mode=infrastructure",
        f"ssid={_keyfile_escaped(ssid)}",
        "",
    ]
    path = root / WIFI_CONNECTION
    # Once moved off the card (``_take_wifi_password``), the password lives only in the
    # connection: kept while the network is the same one.
    password = cfg.system.wifi_password.reveal() or _kept_password(path, ssid)
    if password:
        lines += ["[wifi-security]", "key-mgmt=wpa-psk", f"psk={_keyfile_escaped(password)}", ""]
    lines += ["[ipv4]", "method=auto", "", "[ipv6]", "method=auto", ""]
    text = "\n".join(lines)
    if not path.is_file() or path.read_text(encoding="utf-8", errors="replace") != text:
        write_file(path, text, mode=0o600)
    return ssid


def _kept_password(connection: Path, ssid: str) -> str:
    """The password already in the connection file, when it is for ``ssid`` ("" if not)."""
    try:
        lines = connection.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    if f"ssid={_keyfile_escaped(ssid)}" not in lines:
        return ""
    escaped = next((line[4:] for line in lines if line.startswith("psk=")), "")
    return _keyfile_unescaped(escaped)


def _take_wifi_password(boot_file: Path) -> None:
    """The boot partition is FAT, readable by anyone holding the card: once the connection
    has the Wi-Fi password, its line there is replaced by a note (as API keys are), when
    nothing else in the file would change; otherwise it is left, with a warning."""
    text = boot_file.read_text(encoding="utf-8-sig")
    expected = tomllib.loads(text)
    if "wifi_password" not in expected.get("system", {}):
        return  # set in /etc/zeropin/config.toml, off the card already: nothing to write
    lines, table = [], ""
    for line in text.splitlines(keepends=True):
        header = _TABLE_HEADER.match(line)
        if header:
            table = header.group(1).replace(" ", "")
        if table == "system" and _WIFI_PASSWORD_LINE.match(line):
            line = WIFI_MOVED_NOTE + ("\r\n" if line.endswith("\r\n") else "\n")
        lines.append(line)
    result = "".join(lines)
    expected["system"].pop("wifi_password")
    try:
        same = tomllib.loads(result) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        log.warning(
            "%s: the Wi-Fi password is written in a form firstboot cannot take out safely; "
            'write it as wifi_password = "..." under [system]',
            boot_file,
        )
        return
    write_file(boot_file, result, mode=None)
    log.warning("moved the Wi-Fi password from %s into the Wi-Fi connection", boot_file)


def _keyfile_unescaped(value: str) -> str:
    """The inverse of ``_keyfile_escaped``."""
    value = " " + value[2:] if value.startswith("\\s") else value
    return value.replace("\\\\", "\\")


def _keyfile_escaped(value: str) -> str:
    """A value as GLib's key files read it back: backslashes doubled, leading space kept."""
    value = value.replace("\\", "\\\\")
    return "\\s" + value[1:] if value.startswith(" ") else value


def _apply_audio(cfg: Config, root: Path) -> tuple[str, bool]:
    from device.system.audio_profiles import apply_profile, get_profile

    profile = get_profile(cfg.audio.profile)
    return profile.name, apply_profile(profile, root)


def _run_if_installed(command: Sequence[str]) -> None:
    """Run a system command; one that is missing or fails is logged, not fatal."""
    if shutil.which(command[0]) is None:
        log.warning("%s is not installed: skipped %s", command[0], " ".join(command))
        return
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode:
        log.warning("%s failed: %s", " ".join(command), result.stderr.strip()[:200])
