"""zeropin firstboot: the boot partition's zeropin.toml applied to a folder standing in for /."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from device.errors import ConfigError
from device.system.boot_secrets import (
    MOVED_NOTE,
    TOKEN_MOVED_NOTE,
    WEB,
    describe_moved,
    move_secrets,
)
from device.system.firstboot import apply_boot_config

KEY = "sk-proj-firstboot-0123456789"
OTHER_KEY = "gsk_second_provider_key_42"


def _root(tmp_path: Path, boot_toml: str) -> Path:
    root = tmp_path / "root"
    (root / "boot/firmware").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "boot/firmware/zeropin.toml").write_text(boot_toml)
    (root / "boot/firmware/cmdline.txt").write_text("console=serial0,115200 root=PARTUUID=1-02\n")
    (root / "etc/hostname").write_text("raspberrypi\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n")
    return root


MAKER = f"""\
# my kit
[system]
hostname = "zeropin-07"
wifi_country = "GB"

[llm]
chain = ["openai", "groq"]

[providers.openai]
api_key = "{KEY}"   # from the workshop sheet
model = "gpt-4o-mini"

[providers.groq]
api_key = '{OTHER_KEY}'
"""


def test_keys_move_to_a_0600_secrets_file_and_everything_else_stays(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER)
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.keys_moved == ["openai", "groq"]
    secrets = root / "etc/zeropin/secrets.toml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    providers = tomllib.loads(secrets.read_text())["providers"]
    assert providers == {"openai": {"api_key": KEY}, "groq": {"api_key": OTHER_KEY}}
    left = (root / "boot/firmware/zeropin.toml").read_text()
    assert KEY not in left and OTHER_KEY not in left
    assert left.count(MOVED_NOTE) == 2
    assert left.startswith("# my kit\n")  # the maker's comments and layout are kept
    expected = tomllib.loads(MAKER)
    for table in expected["providers"].values():
        del table["api_key"]
    assert tomllib.loads(left) == expected


def test_the_daemon_then_reads_the_key_from_the_secrets_file(tmp_path: Path) -> None:
    from device.config.sources import load_config

    root = _root(tmp_path, MAKER)
    apply_boot_config(root, run=lambda command: None, owner="")
    cfg = load_config(
        paths=[root / "boot/firmware/zeropin.toml"],
        env={},
        secrets_paths=[root / "etc/zeropin/secrets.toml"],
    )
    openai = cfg.provider("openai")
    assert openai is not None and openai.api_key.reveal() == KEY
    assert openai.model == "gpt-4o-mini"


def test_a_second_boot_changes_nothing(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER)
    apply_boot_config(root, run=lambda command: None, owner="")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.keys_moved == []
    assert {p: p.read_bytes() for p in files} == before


def test_keys_added_later_join_the_ones_already_moved(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER)
    apply_boot_config(root, run=lambda command: None, owner="")
    boot = root / "boot/firmware/zeropin.toml"
    boot.write_text(boot.read_text() + '\n[providers.gemini]\napi_key = "AIza-new"\n')
    apply_boot_config(root, run=lambda command: None, owner="")
    providers = tomllib.loads((root / "etc/zeropin/secrets.toml").read_text())["providers"]
    assert providers["openai"]["api_key"] == KEY
    assert providers["gemini"]["api_key"] == "AIza-new"


def test_a_key_in_an_inline_table_is_left_where_it_is_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = f'[providers]\nopenai = {{ api_key = "{KEY}" }}\n'
    root = _root(tmp_path, text)
    boot = root / "boot/firmware/zeropin.toml"
    assert move_secrets(boot, root / "etc/zeropin/secrets.toml", owner="") == []
    assert boot.read_text() == text  # nothing lost: the key stays until moved by hand
    assert not (root / "etc/zeropin/secrets.toml").exists()
    assert "inline table" in caplog.text and KEY not in caplog.text


def test_an_unreadable_secrets_file_is_never_overwritten(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER)
    secrets = root / "etc/zeropin/secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text("[providers.old]\napi_key = 'unterminated\n")
    with pytest.raises(ConfigError, match="secrets.toml: cannot read it"):
        apply_boot_config(root, run=lambda command: None, owner="")
    assert "unterminated" in secrets.read_text()
    assert KEY in (root / "boot/firmware/zeropin.toml").read_text()  # still where it was


def _keys_moved_off_the_boot_partition(root: Path) -> None:
    boot = (root / "boot/firmware/zeropin.toml").read_text()
    assert KEY not in boot and OTHER_KEY not in boot
    assert boot.count(MOVED_NOTE) == 2
    secrets = root / "etc/zeropin/secrets.toml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    providers = tomllib.loads(secrets.read_text())["providers"]
    assert providers == {"openai": {"api_key": KEY}, "groq": {"api_key": OTHER_KEY}}


def test_a_broken_line_names_the_file_and_key_and_changes_nothing_but_the_keys(
    tmp_path: Path,
) -> None:
    root = _root(tmp_path, MAKER.replace('wifi_country = "GB"', 'wifi_country = "uk"'))
    with pytest.raises(ConfigError, match=r"zeropin.toml: \[system\] wifi_country: must be a two"):
        apply_boot_config(root, run=lambda command: None, owner="")
    _keys_moved_off_the_boot_partition(root)  # the FAT partition is readable by anyone
    assert (root / "etc/hostname").read_text() == "raspberrypi\n"
    assert "regdom" not in (root / "boot/firmware/cmdline.txt").read_text()


def test_an_invalid_host_name_still_moves_the_keys_first(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER.replace('"zeropin-07"', '"Kit_07"'))
    ran: list[list[str]] = []
    with pytest.raises(ConfigError) as caught:
        apply_boot_config(root, run=lambda command: ran.append(list(command)), owner="")
    message = str(caught.value)
    assert str(root / "boot/firmware/zeropin.toml") in message
    assert "[system] hostname" in message and "Kit_07" in message
    assert KEY not in message
    _keys_moved_off_the_boot_partition(root)
    assert (root / "etc/hostname").read_text() == "raspberrypi\n" and ran == []


def test_a_file_that_is_not_toml_still_has_its_keys_moved(tmp_path: Path) -> None:
    broken = MAKER.replace('wifi_country = "GB"', "wifi_country = GB")  # quotes forgotten
    root = _root(tmp_path, broken)
    with pytest.raises(ConfigError, match=r"zeropin.toml.*line 4"):
        apply_boot_config(root, run=lambda command: None, owner="")
    _keys_moved_off_the_boot_partition(root)
    # Every other line exactly as the maker wrote it, for them to fix.
    assert (root / "boot/firmware/zeropin.toml").read_text() == "".join(
        MOVED_NOTE + "\n" if "api_key" in line else line
        for line in broken.splitlines(keepends=True)
    )


def test_hostname_and_wifi_country_are_set_in_files_and_commands(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER)
    ran: list[list[str]] = []
    report = apply_boot_config(root, run=lambda command: ran.append(list(command)), owner="")
    assert (report.hostname, report.wifi_country) == ("zeropin-07", "GB")
    assert (root / "etc/hostname").read_text() == "zeropin-07\n"
    hosts = (root / "etc/hosts").read_text().splitlines()
    assert hosts == ["127.0.0.1\tlocalhost", "127.0.1.1\tzeropin-07"]
    cmdline = (root / "boot/firmware/cmdline.txt").read_text()
    assert cmdline == "console=serial0,115200 root=PARTUUID=1-02 cfg80211.ieee80211_regdom=GB\n"
    assert ["iw", "reg", "set", "GB"] in ran and ["rfkill", "unblock", "wifi"] in ran


def test_a_new_country_replaces_the_old_one_on_the_command_line(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER)
    apply_boot_config(root, run=lambda command: None, owner="")
    boot = root / "boot/firmware/zeropin.toml"
    boot.write_text(boot.read_text().replace('"GB"', '"DE"'))
    apply_boot_config(root, run=lambda command: None, owner="")
    cmdline = (root / "boot/firmware/cmdline.txt").read_text()
    assert cmdline.count("ieee80211_regdom") == 1 and cmdline.endswith("regdom=DE\n")


def test_no_boot_file_means_nothing_to_do(tmp_path: Path) -> None:
    root = _root(tmp_path, "")
    (root / "boot/firmware/zeropin.toml").unlink()
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.keys_moved == [] and report.hostname == ""
    assert not (root / "etc/zeropin").exists()


def test_the_audio_profile_writes_alsa_config(tmp_path: Path) -> None:
    root = _root(tmp_path, '[audio]\nprofile = "sim"\n')
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.audio_profile == "sim"
    assert "pcm" in (root / "etc/asound.conf").read_text()
    assert report.reboot_needed is False  # no config.txt: nothing to reboot for


def test_the_cli_moves_the_keys_then_names_the_bad_setting(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER.replace('"zeropin-07"', '"Kit_07"'))
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "firstboot", "--root", str(root)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 1
    assert "moved the API keys of openai, groq" in result.stderr
    assert "zeropin: " in result.stderr and "[system] hostname" in result.stderr
    assert "Traceback" not in result.stderr
    assert KEY not in result.stdout + result.stderr
    _keys_moved_off_the_boot_partition(root)


def test_the_cli_applies_a_root_and_says_what_it_did(tmp_path: Path) -> None:
    root = _root(tmp_path, MAKER)
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "firstboot", "--root", str(root)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "moved the API keys of openai, groq" in result.stdout
    assert "host name zeropin-07" in result.stdout
    assert KEY not in result.stdout + result.stderr


def test_every_audio_profile_is_a_valid_setting_and_nothing_else_is(tmp_path: Path) -> None:
    from device.config.sources import load_config
    from device.system.audio_profiles import PROFILES

    for name in PROFILES:
        assert load_config(paths=[], env={}, overrides=[f"audio.profile={name}"]).audio.profile
    with pytest.raises(ConfigError, match=r"\[audio\] profile: must be one of .*\"usb\""):
        load_config(paths=[], env={}, overrides=["audio.profile=respeaker"])


PAGE_TOKEN = "page-token-on-the-boot-partition-5e"


def test_the_page_token_moves_to_the_secrets_file_beside_the_keys(tmp_path: Path) -> None:
    from device.config.sources import load_config

    root = _root(tmp_path, MAKER + f'\n[web]\ntoken = "{PAGE_TOKEN}"  # for my phone\n')
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.keys_moved == ["openai", "groq", WEB]
    secrets = root / "etc/zeropin/secrets.toml"
    assert tomllib.loads(secrets.read_text())["web"] == {"token": PAGE_TOKEN}
    left = (root / "boot/firmware/zeropin.toml").read_text()
    assert PAGE_TOKEN not in left and left.count(TOKEN_MOVED_NOTE) == 1
    assert describe_moved(report.keys_moved) == (
        "the API keys of openai, groq and the companion page's token"
    )
    cfg = load_config(paths=[root / "boot/firmware/zeropin.toml"], env={}, secrets_paths=[secrets])
    assert cfg.web.token.reveal() == PAGE_TOKEN


def test_a_token_alone_moves_even_from_a_file_with_a_mistake(tmp_path: Path) -> None:
    broken = f'[web]\ntoken = "{PAGE_TOKEN}"\n[tts]\nrate_wpm = = 3\n'
    root = _root(tmp_path, broken)
    boot_file = root / "boot/firmware/zeropin.toml"
    secrets = root / "etc/zeropin/secrets.toml"
    assert move_secrets(boot_file, secrets, owner="") == [WEB]
    assert PAGE_TOKEN not in boot_file.read_text()
    assert "rate_wpm = = 3" in boot_file.read_text()  # the mistake is for the loader to name
    assert tomllib.loads(secrets.read_text()) == {"web": {"token": PAGE_TOKEN}}


def test_an_mcp_servers_token_moves_too(tmp_path: Path) -> None:
    from device.config.sources import load_config

    server = '[mcp.servers.home]\nurl = "http://homeassistant.local:8123/api/mcp"\n'
    root = _root(tmp_path, server + 'token = "ha-long-lived-token-0123456789"\n')
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.keys_moved == ["mcp.servers.home"]
    assert describe_moved(report.keys_moved) == "the tokens of MCP servers home"
    boot_file = root / "boot/firmware/zeropin.toml"
    left = boot_file.read_text()
    assert "ha-long-lived" not in left and TOKEN_MOVED_NOTE in left
    secrets = root / "etc/zeropin/secrets.toml"
    cfg = load_config(paths=[boot_file], env={}, secrets_paths=[secrets])
    (name, home), = cfg.mcp_servers
    assert name == "home" and home.token.reveal() == "ha-long-lived-token-0123456789"
    assert home.url == "http://homeassistant.local:8123/api/mcp"


def test_the_time_zone_is_set_as_timedatectl_sets_it_and_only_once(tmp_path: Path) -> None:
    root = _root(tmp_path, '[system]\ntimezone = "Europe/London"\n')
    zone = root / "usr/share/zoneinfo/Europe/London"
    zone.parent.mkdir(parents=True)
    zone.write_bytes(b"TZif2 stand-in")  # the image's tz database; the link is what matters
    (root / "etc/localtime").symlink_to("/usr/share/zoneinfo/Etc/UTC")
    report = apply_boot_config(root, run=lambda command: None, owner="")
    assert report.timezone == "Europe/London"
    assert os.readlink(root / "etc/localtime") == "/usr/share/zoneinfo/Europe/London"
    assert (root / "etc/timezone").read_text() == "Europe/London\n"
    before = {p: p.stat().st_mtime_ns for p in (root / "etc").iterdir()}
    apply_boot_config(root, run=lambda command: None, owner="")  # every boot: nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in (root / "etc").iterdir()} == before


def test_a_time_zone_the_image_lacks_is_left_alone_and_a_wrong_name_refused(
    tmp_path: Path,
) -> None:
    root = _root(tmp_path, '[system]\ntimezone = "Europe/London"\n')  # no tz database in it
    assert apply_boot_config(root, run=lambda command: None, owner="").timezone == ""
    assert not (root / "etc/localtime").exists()
    bad = _root(tmp_path / "bad", '[system]\ntimezone = "London"\n')
    with pytest.raises(ConfigError) as caught:
        apply_boot_config(bad, run=lambda command: None, owner="")
    assert str(caught.value).endswith(
        '[system] timezone: must be a time zone name, like "Europe/London" or "America/New_York", '
        'got "London"'
    )


def test_a_provider_name_with_a_dot_moves_its_key_and_then_the_loader_names_it(
    tmp_path: Path,
) -> None:
    """A quoted table name with a dot in it is one table, not a path: the key still leaves the
    card, and the name's own mistake is then reported in one line, not as a traceback."""
    root = _root(tmp_path, f'[providers."my.lan"]\napi_key = "{KEY}"\n')
    with pytest.raises(ConfigError, match=r'\[providers\] "my.lan": a provider name holds only'):
        apply_boot_config(root, run=lambda command: None, owner="")
    assert KEY not in (root / "boot/firmware/zeropin.toml").read_text()
    secrets = tomllib.loads((root / "etc/zeropin/secrets.toml").read_text())
    assert secrets == {"providers": {"my.lan": {"api_key": KEY}}}
