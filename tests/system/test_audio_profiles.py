"""Audio profiles: each asound.conf is loaded by the real alsa-lib (through PyAudio and through
libasound itself), and config.txt/asound.conf are edited as the Pi would see them.

alsa-lib reads its configuration once per process, so every ALSA check runs in a fresh Python
subprocess with ALSA_CONFIG_PATH = the stock alsa.conf plus the files under test, and HOME set to
a temp dir so nobody's ~/.asoundrc joins in. This machine has no sound card, so for the hardware
profiles a test-only file redefines the stages that need a real card (dsnoop, dmix, softvol) as
file/null plugins; what the profile itself says is checked by opening it unchanged and asserting
that the only complaint is the missing card.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from device.config.schema import AUDIO_PROFILES
from device.errors import ConfigError
from device.system import audio_profiles
from device.system.asound import BACKUP_SUFFIX
from device.system.audio_profiles import (
    BLOCK_BEGIN,
    BLOCK_END,
    PROFILES,
    AudioProfile,
    apply_profile,
    fix_i2s_frame_pin,
    get_profile,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA is Linux-only")

STOCK_ALSA_CONF = Path("/usr/share/alsa/alsa.conf")
HARDWARE = [name for name, profile in PROFILES.items() if profile.config_txt or name == "usb"]
FRAMES = 8000  # half a second at 16 kHz

# Runs in the subprocess: report what alsa-lib and PortAudio make of the configuration.
_CHILD = r"""
import ctypes, json, sys
request = json.loads(sys.argv[1])
result = {"open": {}}
lib = ctypes.CDLL("libasound.so.2")
handle = ctypes.c_void_p()
for name, stream in request.get("open", []):  # stream 0 = playback, 1 = capture
    code = lib.snd_pcm_open(ctypes.byref(handle), name.encode(), stream, 1)  # 1 = NONBLOCK
    if code == 0:
        lib.snd_pcm_close(handle)
    result["open"][name] = code
if request.get("pyaudio"):
    import pyaudio
    from drivers.mic import find_pyaudio_device
    pa = pyaudio.PyAudio()
    result["devices"] = [
        pa.get_device_info_by_index(i)["name"] for i in range(pa.get_device_count())
    ]
    mic, speaker, frames = request["mic"], request["speaker"], request["frames"]
    index, _ = find_pyaudio_device(pa, mic, "input")
    stream = pa.open(format=pyaudio.paInt16, channels=1, rate=16000, input=True,
                     input_device_index=index, frames_per_buffer=1600)
    pcm = b"".join(stream.read(1600) for _ in range(frames // 1600))
    stream.close()
    result["captured_bytes"] = len(pcm)
    result["captured_nonzero"] = sum(1 for byte in pcm if byte)
    index, _ = find_pyaudio_device(pa, speaker, "output")
    stream = pa.open(format=pyaudio.paInt16, channels=1, rate=16000, output=True,
                     output_device_index=index, frames_per_buffer=1600)
    stream.write(b"\x01\x02" * frames)
    stream.close()
    pa.terminate()
print("RESULT " + json.dumps(result))
"""


def run_alsa(
    folder: Path, configs: Sequence[Path], request: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """Run the child with ALSA reading only the stock config and ``configs``."""
    env = dict(os.environ)
    env.update(
        HOME=str(folder),
        XDG_CONFIG_HOME=str(folder / ".config"),
        ALSA_CONFIG_PATH=":".join(str(path) for path in (STOCK_ALSA_CONF, *configs)),
    )
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(request)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), done.stderr


def stand_in_for_card(folder: Path) -> Path:
    """Redefine the stages that need a sound card as file/null plugins (this machine has none)."""
    override = folder / "no-card.conf"
    override.write_text(
        f"""
pcm.!zeropin_capture_share {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "/dev/zero"
    format "raw"
}}
pcm.!zeropin_playback_share {{
    type file
    slave.pcm "null"
    file "{folder / "played.raw"}"
    format "raw"
}}
pcm.!zeropin_volume {{
    type plug
    slave.pcm "zeropin_playback_share"
}}
"""
    )
    return override


def write_conf(folder: Path, profile: AudioProfile) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "asound.conf"
    conf.write_text(profile.asound_conf())
    return conf


@pytest.fixture(autouse=True)
def _need_alsa() -> None:
    if not STOCK_ALSA_CONF.exists():
        pytest.skip("alsa-lib's alsa.conf is not installed")


# -- asound.conf through alsa-lib ---------------------------------------------------------------


def test_sim_profile_reads_silence_and_plays_to_nothing(tmp_path: Path) -> None:
    profile = get_profile("sim")
    conf = write_conf(tmp_path, profile)
    for mic, speaker in ((profile.mic, profile.speaker), ("", "")):  # named, then the default
        result, _ = run_alsa(
            tmp_path,
            [conf],
            {"pyaudio": True, "mic": mic, "speaker": speaker, "frames": FRAMES},
        )
        assert {profile.mic, profile.speaker, "default"} <= set(result["devices"])
        assert result["captured_bytes"] == 2 * FRAMES
        assert result["captured_nonzero"] == 0


@pytest.mark.parametrize("name", HARDWARE)
def test_hardware_profile_is_valid_alsa_config_wanting_only_its_card(
    tmp_path: Path, name: str
) -> None:
    profile = get_profile(name)
    conf = write_conf(tmp_path, profile)
    names = [(profile.mic, 1), (profile.speaker, 0), ("default", 1), ("default", 0)]
    result, stderr = run_alsa(tmp_path, [conf], {"open": names})
    # Every field of every plugin is parsed before the slave card is looked up, so a typo would
    # fail with EINVAL and "Unknown field"; a sound config that is right fails only for the card.
    assert set(result["open"].values()) == {-errno.ENODEV}, stderr
    complaints = [line for line in stderr.splitlines() if line.strip()]
    assert complaints and all("Cannot get card index" in line for line in complaints), stderr


def test_the_validity_check_catches_a_broken_plugin(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, get_profile("usb"))
    conf.write_text(conf.read_text().replace("ipc_perm 0666", "ipc_perm 0666\n    bogus 1", 1))
    result, stderr = run_alsa(tmp_path, [conf], {"open": [("zeropin_mic", 1)]})
    assert result["open"]["zeropin_mic"] == -errno.EINVAL
    assert "bogus" in stderr


@pytest.mark.parametrize("name", HARDWARE)
def test_hardware_profile_devices_stream_through_pyaudio(tmp_path: Path, name: str) -> None:
    profile = get_profile(name)
    conf = write_conf(tmp_path, profile)
    result, _ = run_alsa(
        tmp_path,
        [conf, stand_in_for_card(tmp_path)],
        {"pyaudio": True, "mic": profile.mic, "speaker": profile.speaker, "frames": FRAMES},
    )
    assert {profile.mic, profile.speaker, "default"} <= set(result["devices"])
    assert result["captured_bytes"] == 2 * FRAMES
    assert result["captured_nonzero"] == 0
    assert (tmp_path / "played.raw").stat().st_size > 0


def test_usb_card_names_are_the_callers() -> None:
    text = audio_profiles.usb_profile(mic_card="Mic2", speaker_card="Spk7").asound_conf()
    assert 'pcm "hw:CARD=Mic2,DEV=0"' in text
    assert 'pcm "hw:CARD=Spk7,DEV=0"' in text
    assert "Device" not in text


def test_every_profile_names_the_same_devices() -> None:
    for profile in PROFILES.values():
        assert (profile.mic, profile.speaker) == ("zeropin_mic", "zeropin_speaker")
        for args in profile.mixer:
            assert args[:2] == ("-c", args[1]) and args[2] in ("sset", "cset"), args
            assert f'card "{args[1]}"' in profile.asound_conf()  # the card the config uses


# -- get_profile --------------------------------------------------------------------------------


def test_unknown_profile_names_the_setting_and_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        get_profile("respeaker-4mic")
    message = str(caught.value)
    assert "[audio] profile" in message
    assert '"respeaker-4mic"' in message
    for name in ("usb", "respeaker-2mic", "voicehat", "sim"):
        assert f'"{name}"' in message
    assert isinstance(caught.value, ValueError)


# -- apply_profile: config.txt ------------------------------------------------------------------

STOCK_CONFIG_TXT = (
    b"# For more options and information see\n"
    b"dtparam=audio=on\r\n"  # a CRLF line and a non-UTF-8 byte must survive untouched
    b"camera_auto_detect=1\n"
    b"# caf\xe9\n"
    b"[cm4]\n"
    b"otg_mode=1\n"
)


def make_root(tmp_path: Path, config_txt: bytes | None = STOCK_CONFIG_TXT) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    if config_txt is not None:
        (root / "boot" / "firmware").mkdir(parents=True)
        (root / "boot" / "firmware" / "config.txt").write_bytes(config_txt)
    return root


def config_txt(root: Path) -> bytes:
    return (root / "boot" / "firmware" / "config.txt").read_bytes()


def no_mixer(args: Sequence[str]) -> None:
    pass


def test_apply_twice_changes_config_txt_once(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    profile = get_profile("respeaker-2mic")
    assert apply_profile(profile, root, no_mixer) is True
    first = config_txt(root)
    assert apply_profile(profile, root, no_mixer) is False
    assert config_txt(root) == first


def test_block_is_appended_and_the_rest_kept_byte_for_byte(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    profile = get_profile("respeaker-2mic")
    apply_profile(profile, root, no_mixer)
    block = "\n".join((BLOCK_BEGIN, "[all]", *profile.config_txt, BLOCK_END)) + "\n"
    assert config_txt(root) == STOCK_CONFIG_TXT + block.encode()
    # the HAT's dtparam=audio=off comes after the stock audio=on and outside the [cm4] filter
    assert b"dtparam=audio=off" in config_txt(root).split(b"[all]")[-1]


def test_switching_profiles_replaces_the_block(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    apply_profile(get_profile("respeaker-2mic"), root, no_mixer)
    assert apply_profile(get_profile("voicehat"), root, no_mixer) is True
    text = config_txt(root).decode("utf-8", "surrogateescape")
    assert text.count(BLOCK_BEGIN) == 1 and text.count(BLOCK_END) == 1
    assert "dtoverlay=googlevoicehat-soundcard" in text
    assert "wm8960" not in text and "i2c_arm" not in text
    # a profile without overlay removes the block and gives back the file as it was
    assert apply_profile(get_profile("usb"), root, no_mixer) is True
    assert config_txt(root) == STOCK_CONFIG_TXT
    assert apply_profile(get_profile("sim"), root, no_mixer) is False


def test_user_lines_after_the_block_stay_where_they_are(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    apply_profile(get_profile("respeaker-2mic"), root, no_mixer)
    path = root / "boot" / "firmware" / "config.txt"
    path.write_bytes(path.read_bytes() + b"dtoverlay=disable-bt\n")
    apply_profile(get_profile("voicehat"), root, no_mixer)
    assert config_txt(root).startswith(STOCK_CONFIG_TXT + b"dtoverlay=disable-bt\n" + b"# >>>")


def test_a_cut_short_block_keeps_the_lines_after_it(tmp_path: Path) -> None:
    root = make_root(tmp_path, STOCK_CONFIG_TXT + f"{BLOCK_BEGIN}\nmy_own=1\n".encode())
    apply_profile(get_profile("voicehat"), root, no_mixer)
    apply_profile(get_profile("respeaker-2mic"), root, no_mixer)
    text = config_txt(root).decode("utf-8", "surrogateescape")
    assert "my_own=1" in text
    assert text.endswith("dtoverlay=wm8960-soundcard\n" + BLOCK_END + "\n")
    assert "googlevoicehat" not in text


def test_no_config_txt_means_no_reboot(tmp_path: Path) -> None:
    root = make_root(tmp_path, config_txt=None)
    assert apply_profile(get_profile("respeaker-2mic"), root, no_mixer) is False
    assert not (root / "boot").exists()
    assert (root / "etc" / "asound.conf").read_text() == get_profile("respeaker-2mic").asound_conf()


def test_overlay_of_another_profile_outside_the_block_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_root(tmp_path, STOCK_CONFIG_TXT + b"dtoverlay=seeed-2mic-voicecard\n")
    with caplog.at_level(logging.WARNING, logger="device.system.audio_profiles"):
        apply_profile(get_profile("respeaker-2mic"), root, no_mixer)
    assert "dtoverlay=seeed-2mic-voicecard" in caplog.text


# -- apply_profile: asound.conf -----------------------------------------------------------------


def test_foreign_asound_conf_is_backed_up_once(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    theirs = "pcm.!default { type hw card 1 }\n"
    (root / "etc" / "asound.conf").write_text(theirs)
    backup = root / "etc" / ("asound.conf" + BACKUP_SUFFIX)
    apply_profile(get_profile("usb"), root, no_mixer)
    assert backup.read_text() == theirs
    apply_profile(get_profile("voicehat"), root, no_mixer)  # replaces our own file: no new backup
    assert backup.read_text() == theirs
    (root / "etc" / "asound.conf").write_text("# a second hand edit\n")
    apply_profile(get_profile("sim"), root, no_mixer)
    assert backup.read_text() == theirs  # the first original is the one kept
    assert (root / "etc" / "asound.conf").read_text() == get_profile("sim").asound_conf()
    assert sorted(path.name for path in (root / "etc").iterdir()) == [
        "asound.conf",
        "asound.conf" + BACKUP_SUFFIX,
    ]  # no temp files left behind


def test_our_own_asound_conf_is_not_backed_up(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    apply_profile(get_profile("usb"), root, no_mixer)
    apply_profile(get_profile("sim"), root, no_mixer)
    assert not (root / "etc" / ("asound.conf" + BACKUP_SUFFIX)).exists()


# -- apply_profile: mixer -----------------------------------------------------------------------


def test_mixer_settings_go_to_run_mixer_in_order(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    seen: list[tuple[str, ...]] = []
    apply_profile(get_profile("respeaker-2mic"), root, lambda args: seen.append(tuple(args)))
    assert seen == list(get_profile("respeaker-2mic").mixer)
    assert ("-c", "wm8960soundcard", "sset", "Left Input Mixer Boost", "on") in seen


def test_a_failing_mixer_setting_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_root(tmp_path)
    calls: list[Sequence[str]] = []

    def broken(args: Sequence[str]) -> None:
        calls.append(args)
        raise subprocess.CalledProcessError(1, ["amixer", *args])

    with caplog.at_level(logging.WARNING, logger="device.system.audio_profiles"):
        assert apply_profile(get_profile("respeaker-2mic"), root, broken) is True
    assert len(calls) == len(get_profile("respeaker-2mic").mixer)  # one failure stops nothing
    assert "Left Boost Mixer LINPUT1" in caplog.text


def test_amixer_runner_logs_a_failing_amixer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "amixer"
    fake.write_text(
        "#!/bin/sh\necho \"amixer: Unable to find simple control 'Mic',0\" >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    run = audio_profiles._amixer_runner()
    assert run is not None
    with caplog.at_level(logging.WARNING, logger="device.system.audio_profiles"):
        run(["-c", "Device", "sset", "Mic", "80%", "cap"])
    assert "Unable to find simple control" in caplog.text


def test_a_missing_amixer_is_warned_about_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no amixer here
    audio_profiles._warn_no_amixer.cache_clear()  # another test may have warned already
    with caplog.at_level(logging.WARNING, logger="device.system.audio_profiles"):
        assert audio_profiles._amixer_runner() is None
        assert audio_profiles._amixer_runner() is None
    assert caplog.text.count("amixer not found") == 1


# -- the Zero 2 W frame-clock pin ---------------------------------------------------------------


def test_frame_pin_left_as_input_is_set_back_to_pcm_fs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[list[str]] = []

    def pinctrl(args: Sequence[str]) -> str:
        calls.append(list(args))
        return "19: ip    pd | lo // GPIO19 = input\n"

    with caplog.at_level(logging.WARNING, logger="device.system.audio_profiles"):
        assert fix_i2s_frame_pin(pinctrl) is True
    assert calls == [["get", "19"], ["set", "19", "a0"]]
    assert "seeed-voicecard/issues/333" in caplog.text


def test_frame_pin_already_pcm_fs_is_left_alone() -> None:
    calls: list[list[str]] = []

    def pinctrl(args: Sequence[str]) -> str:
        calls.append(list(args))
        return "19: a0    pd | lo // GPIO19 = PCM_FS\n"

    assert fix_i2s_frame_pin(pinctrl) is False
    assert calls == [["get", "19"]]


def test_the_config_knows_exactly_the_profiles_there_are() -> None:
    # config sits below system, so it names the profiles itself: the two lists must not drift
    assert tuple(audio_profiles.PROFILES) == AUDIO_PROFILES
