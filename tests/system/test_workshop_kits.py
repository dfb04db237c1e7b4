"""``zeropin workshop kits``: twenty kit files, each read back by the daemon's config loader, and
one applied by ``zeropin firstboot`` to a folder standing in for a kit's root."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from device.cli.main import main
from device.config.sources import load_config
from device.system.boot_secrets import MOVED_NOTE
from device.system.firstboot import WIFI_CONNECTION, WIFI_MOVED_NOTE, apply_boot_config

GATEWAY = "http://192.168.4.1:4000/v1"
WIFI_PASSWORD = "lab-wifi-pass-9d2"


def _keys(tmp_path: Path, count: int = 20) -> tuple[Path, list[str]]:
    keys = [f"sk-kit{n:02d}-{n * 7919:08x}" for n in range(1, count + 1)]
    path = tmp_path / "keys.txt"
    path.write_text("# one virtual key per kit, from the gateway\n" + "\n".join(keys) + "\n")
    return path, keys


def _kits(tmp_path: Path, *extra: str, key_file: Path | None = None) -> list[str]:
    key_file = key_file or _keys(tmp_path)[0]
    password_file = tmp_path / "wifi.txt"
    password_file.write_text(WIFI_PASSWORD + "\n")
    return [
        "workshop", "kits", "--count", "20", "--prefix", "kit", "--out", str(tmp_path / "cards"),
        "--wifi-ssid", "Science Lab", "--wifi-password-file", str(password_file), "--country", "GB",
        "--timezone", "Europe/London",
        "--profile", "usb", "--provider-url", GATEWAY, "--key-file", str(key_file),
        "--max-requests-per-day", "200", *extra,
    ]  # fmt: skip


def test_twenty_kit_files_each_pass_the_daemons_own_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, keys = _keys(tmp_path)
    assert main(_kits(tmp_path)) == 0
    out = capsys.readouterr()
    assert "wrote 20 kit file(s), kit-01 to kit-20" in out.out
    for key in keys:
        assert key not in out.out + out.err
    assert WIFI_PASSWORD not in out.out + out.err
    files = sorted((tmp_path / "cards").glob("*/zeropin.toml"))
    assert [f.parent.name for f in files] == [f"kit-{n:02d}" for n in range(1, 21)]
    for number, (path, key) in enumerate(zip(files, keys, strict=True), start=1):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        cfg = load_config(paths=[path], env={}, secrets_paths=[])  # raises on any bad line
        assert cfg.system.hostname == f"kit-{number:02d}"
        assert (cfg.system.wifi_ssid, cfg.system.wifi_country) == ("Science Lab", "GB")
        assert cfg.system.timezone == "Europe/London"
        assert cfg.system.wifi_password.reveal() == WIFI_PASSWORD
        assert cfg.audio.profile == "usb" and cfg.llm.chain == ("workshop",)
        assert cfg.llm.max_requests_per_day == 200
        gateway = cfg.provider("workshop")
        assert gateway is not None and gateway.base_url == GATEWAY
        assert gateway.api_key.reveal() == key  # each kit its own key, in the file's order
        assert cfg.buttons.reset_hold_seconds == 8.0  # the reset gesture between visitors
        assert not cfg.web.token  # no page token unless asked for


def test_existing_kit_files_are_kept_without_force(tmp_path: Path) -> None:
    assert main(_kits(tmp_path)) == 0
    first = tmp_path / "cards/kit-01/zeropin.toml"
    first.write_text("# the teacher's own edit\n")
    # The real command, as the teacher types it: one line on stderr, nothing written.
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", *_kits(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2],
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        f"zeropin: {first} is already there (20 of the 20 kit files are); add --force to "
        "write over them\n"
    )
    assert first.read_text() == "# the teacher's own edit\n"
    assert main(_kits(tmp_path, "--force")) == 0
    assert 'hostname = "kit-01"' in first.read_text()


def test_a_bad_value_names_the_file_and_key_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_kits(tmp_path, "--country", "gb")) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"zeropin: {tmp_path / 'cards/kit-01/zeropin.toml'}: [system] ")
    assert "wifi_country" in err and '"gb"' in err
    assert not (tmp_path / "cards").exists()
    assert main(_kits(tmp_path, "--prefix", "Kit_A")) == 1
    assert "[system] hostname" in capsys.readouterr().err


def test_a_short_or_broken_key_file_is_refused_without_showing_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "few.txt"
    key_file.write_text("\n".join(f"sk-{n}" for n in range(12)))
    assert main(_kits(tmp_path, key_file=key_file)) == 1
    assert f"{key_file}: 12 key(s) for 20 kits" in capsys.readouterr().err
    key_file.write_text("sk-one-good\nsk-two pasted with spaces\n")
    assert main(_kits(tmp_path, key_file=key_file)) == 1
    err = capsys.readouterr().err
    assert f"{key_file}: line 2: not a key on its own" in err and "pasted" not in err


def _kit_root(tmp_path: Path, kit_file: Path) -> Path:
    """A folder laid out like a freshly flashed card's root, with the kit's file on its boot
    partition."""
    root = tmp_path / "root"
    (root / "boot/firmware").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "boot/firmware/zeropin.toml").write_bytes(kit_file.read_bytes())
    (root / "boot/firmware/cmdline.txt").write_text("console=serial0,115200 root=PARTUUID=1-02\n")
    (root / "boot/firmware/config.txt").write_text("[all]\ndtparam=audio=on\n")
    (root / "etc/hostname").write_text("raspberrypi\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n")
    return root


def test_firstboot_applies_a_kit_file(tmp_path: Path) -> None:
    _, keys = _keys(tmp_path)
    assert main(_kits(tmp_path)) == 0
    root = _kit_root(tmp_path, tmp_path / "cards/kit-07/zeropin.toml")
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.keys_moved == ["workshop"]
    assert (report.hostname, report.wifi_country) == ("kit-07", "GB")
    assert (report.wifi_network, report.audio_profile) == ("Science Lab", "usb")
    assert (root / "etc/hostname").read_text() == "kit-07\n"
    assert "127.0.1.1\tkit-07" in (root / "etc/hosts").read_text()
    assert "cfg80211.ieee80211_regdom=GB" in (root / "boot/firmware/cmdline.txt").read_text()
    assert (root / "etc/asound.conf").is_file()
    # The key left the card for a file only the daemon's user reads.
    boot = (root / "boot/firmware/zeropin.toml").read_text()
    assert keys[6] not in boot and MOVED_NOTE in boot
    secrets = root / "etc/zeropin/secrets.toml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert tomllib.loads(secrets.read_text())["providers"]["workshop"]["api_key"] == keys[6]
    # The Wi-Fi network, as NetworkManager reads it: a private keyfile.
    connection = root / WIFI_CONNECTION
    assert stat.S_IMODE(connection.stat().st_mode) == 0o600
    text = connection.read_text()
    assert "ssid=Science Lab\n" in text and f"psk={WIFI_PASSWORD}\n" in text
    assert "key-mgmt=wpa-psk" in text
    # and only there: not on the boot partition, which anyone holding the card can read
    assert WIFI_PASSWORD not in boot and WIFI_MOVED_NOTE in boot
    # The daemon then finds the gateway and this kit's key, and its budget.
    cfg = load_config(paths=[root / "boot/firmware/zeropin.toml"], env={}, secrets_paths=[secrets])
    gateway = cfg.provider("workshop")
    assert gateway is not None and gateway.api_key.reveal() == keys[6]
    assert cfg.llm.max_requests_per_day == 200
    # A second boot changes nothing.
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    apply_boot_config(root, run=lambda command: None, owner="")
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_new_wifi_password_on_the_card_is_applied_and_taken_off_again(tmp_path: Path) -> None:
    assert main(_kits(tmp_path)) == 0
    root = _kit_root(tmp_path, tmp_path / "cards/kit-03/zeropin.toml")
    apply_boot_config(root, run=lambda command: None, owner="")
    boot_file, connection = root / "boot/firmware/zeropin.toml", root / WIFI_CONNECTION
    # The teacher changes the lab's password on the card, from any laptop.
    edited = boot_file.read_text().replace(WIFI_MOVED_NOTE, 'wifi_password = "new pass 2"')
    boot_file.write_text(edited)
    apply_boot_config(root, run=lambda command: None, owner="")
    assert "psk=new pass 2\n" in connection.read_text()
    assert "new pass 2" not in boot_file.read_text()
    # Another network named without a password: the old one's password is not carried over.
    boot_file.write_text(boot_file.read_text().replace("Science Lab", "Open Hall"))
    apply_boot_config(root, run=lambda command: None, owner="")
    text = connection.read_text()
    assert "ssid=Open Hall\n" in text and "psk=" not in text


def test_a_wifi_password_kept_off_the_card_never_rewrites_the_boot_file(tmp_path: Path) -> None:
    """Set in /etc/zeropin/config.toml, the password is not on the card: the FAT boot file is
    left untouched at every boot (a write there is a risk at each power cut)."""
    assert main(_kits(tmp_path)) == 0
    root = _kit_root(tmp_path, tmp_path / "cards/kit-05/zeropin.toml")
    boot_file = root / "boot/firmware/zeropin.toml"
    text = boot_file.read_text().replace(f'wifi_password = "{WIFI_PASSWORD}"\n', "")
    boot_file.write_text(text)
    (root / "etc/zeropin").mkdir()
    (root / "etc/zeropin/config.toml").write_text(f'[system]\nwifi_password = "{WIFI_PASSWORD}"\n')
    apply_boot_config(root, run=lambda command: None, owner="")
    assert f"psk={WIFI_PASSWORD}\n" in (root / WIFI_CONNECTION).read_text()
    written = boot_file.stat().st_mtime_ns
    apply_boot_config(root, run=lambda command: None, owner="")
    assert boot_file.stat().st_mtime_ns == written
    assert WIFI_MOVED_NOTE not in boot_file.read_text()  # the key's note only: nothing moved


def test_an_empty_wifi_password_file_is_named_and_nothing_is_written(tmp_path: Path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    arguments = _kits(tmp_path)
    arguments[arguments.index("--wifi-password-file") + 1] = str(empty)
    assert main(arguments) == 1  # a configuration error, as a bad value
    assert f"{empty}: the first line should be the Wi-Fi password" in capsys.readouterr().err
    assert not (tmp_path / "cards").exists()


def test_each_kit_can_have_its_own_page_token_and_the_teacher_a_sheet_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_kits(tmp_path, "--web-tokens", "--reset-hold-seconds", "0",
                      "--max-tokens-per-day", "2000000")) == 0  # fmt: skip
    out = capsys.readouterr().out
    sheet = tmp_path / "cards" / "web-tokens.txt"
    assert f"each kit's companion page and token: {sheet} (mode 0600" in out
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600
    rows = [line.split() for line in sheet.read_text().splitlines()[1:]]
    assert [row[:2] for row in rows] == [
        [f"kit-{n:02d}", f"http://kit-{n:02d}.local/"] for n in range(1, 21)
    ]
    tokens = [row[2] for row in rows]
    assert len(set(tokens)) == 20 and all(len(token) >= 32 for token in tokens)
    assert not any(token in out for token in tokens)
    kit = tmp_path / "cards/kit-07/zeropin.toml"
    cfg = load_config(paths=[kit], env={}, secrets_paths=[])
    assert cfg.web.token.reveal() == tokens[6]
    assert cfg.buttons.reset_hold_seconds == 0
    assert cfg.llm.max_tokens_per_day == 2_000_000  # written as an integer, not 2e+06
    # firstboot takes the token off the card with the key
    root = _kit_root(tmp_path, kit)
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.keys_moved == ["workshop", "web"]
    assert tokens[6] not in (root / "boot/firmware/zeropin.toml").read_text()
    secrets = tomllib.loads((root / "etc/zeropin/secrets.toml").read_text())
    assert secrets["web"] == {"token": tokens[6]}

