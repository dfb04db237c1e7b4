"""``zeropin doctor``: each check on real parts (PyAudio through a file-backed ALSA device,
gpiozero MockFactory pins, a loopback OpenAI server, real model files), and the command itself.

Nothing here leaves 127.0.0.1; every wait has a limit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alsa_file_device import INPUT_NAME, OUTPUT_NAME, AlsaFileDevice, alsa_file_device
from conftest import TEST_KEY, BrokenLedFactory
from PIL import Image

from device.cloud.providers import Provider
from device.config.schema import Secret
from device.config.sources import load_config
from device.doctor.checks import (
    TONE_SECONDS,
    Finding,
    Level,
    audio_level,
    check_button,
    check_camera,
    check_clock,
    check_disk,
    check_led,
    check_memory,
    check_mic,
    check_network,
    check_provider,
    check_speaker,
)
from device.doctor.models import check_models, model_findings
from device.doctor.run import exit_code, run_doctor
from device.sim.loopback.server import LoopbackLLM
from device.system.manifest import MANIFEST_PATH, load_manifest, marker_path
from device.system.paths import ENGLISH_COMMANDS, command_rescued
from drivers.audio_format import BYTES_PER_SECOND, RATE
from drivers.buttons import Buttons, press, simulated_pin_factory
from drivers.camera import FolderCamera
from drivers.leds import NoLed, PrivacyLed, SingleLed
from drivers.mic import PyAudioMicrophone
from drivers.speaker import PyAudioSpeaker

needs_alsa = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA is Linux-only")
CHECK_NAMES = "mic speaker camera button led models memory disk network cloud clock".split()
LEVELS = {level.value for level in Level}
WRONG_KEY = "sk-wrong-KEY-must-not-show-51c0"


@pytest.fixture
def alsa(tmp_path: Path) -> Iterator[AlsaFileDevice]:
    with alsa_file_device(tmp_path / "alsa") as device:
        yield device


@pytest.fixture
def factory() -> Iterator[Any]:
    pins = simulated_pin_factory()
    yield pins
    pins.close()


def sine(dbfs: float, seconds: float, hertz: float = 440.0) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return (32767 * 10 ** (dbfs / 20) * np.sin(2 * np.pi * hertz * t)).astype("<i2").tobytes()


def provider(server: LoopbackLLM, key: str, **timeouts: float) -> Provider:
    return Provider("lan", server.base_url, "loopback-chat", api_key=Secret(key), **timeouts)


# --- mic and speaker, through PyAudio on the file-backed ALSA device ------------------------


@needs_alsa
def test_mic_reports_level_and_passes_a_normal_signal(alsa: AlsaFileDevice) -> None:
    alsa.feed(sine(-20, 2.5))
    finding = check_mic(lambda: PyAudioMicrophone(INPUT_NAME))
    assert finding.level is Level.OK, finding
    assert f"'{INPUT_NAME}': -23.0 dBFS RMS, 0.00% of samples clipped over 2.0 s" in finding.detail


@needs_alsa
def test_mic_warns_about_clipping(alsa: AlsaFileDevice) -> None:
    square = np.where(np.sin(np.arange(3 * RATE) * 0.05) >= 0, 32767, -32768).astype("<i2")
    alsa.feed(square.tobytes())
    finding = check_mic(lambda: PyAudioMicrophone(INPUT_NAME))
    assert finding.level is Level.WARN
    assert "clipping" in finding.detail and "100.00% of samples clipped" in finding.detail
    assert "alsamixer" in finding.detail


@needs_alsa
def test_mic_warns_about_silence(alsa: AlsaFileDevice) -> None:
    alsa.feed(sine(-70, 2.5))  # a dead mic's hiss, about -73 dBFS RMS
    finding = check_mic(lambda: PyAudioMicrophone(INPUT_NAME))
    assert finding.level is Level.WARN
    assert ": -73." in finding.detail and ": silent;" in finding.detail
    alsa.feed(bytes(3 * BYTES_PER_SECOND))
    nothing = check_mic(lambda: PyAudioMicrophone(INPUT_NAME))
    assert nothing.level is Level.WARN and "-inf dBFS" in nothing.detail


@needs_alsa
def test_mic_fails_on_a_missing_device_and_says_what_to_set(alsa: AlsaFileDevice) -> None:
    finding = check_mic(lambda: PyAudioMicrophone("seeed"))
    assert finding.level is Level.FAIL
    assert "no audio input device matching 'seeed'" in finding.detail
    assert finding.detail.endswith("set [audio] mic (see `arecord -l`)")
    assert finding.line().startswith("FAIL  mic      no audio input device matching 'seeed'")


def test_audio_level_measures_full_scale_and_silence() -> None:
    dbfs, clipped = audio_level(np.full(100, -32768, dtype="<i2").tobytes())
    assert dbfs == pytest.approx(0.0) and clipped == 1.0
    assert audio_level(bytes(200)) == (-np.inf, 0.0)


@needs_alsa
def test_speaker_plays_the_tone_through_pyaudio(alsa: AlsaFileDevice) -> None:
    finding = check_speaker(lambda: PyAudioSpeaker(OUTPUT_NAME))
    assert finding.level is Level.OK, finding
    assert f"played on '{OUTPUT_NAME}'" in finding.detail
    played = np.frombuffer(alsa.played(), dtype="<i2")
    assert len(played) == int(TONE_SECONDS * RATE)
    assert 0.2 < np.abs(played).max() / 32767 < 0.3  # -12 dBFS peak


# --- cloud: the loopback server, keys never shown ------------------------------------------


def test_provider_key_accepted(llm_server: LoopbackLLM) -> None:
    finding = check_provider(provider(llm_server, TEST_KEY))
    assert finding.level is Level.OK
    assert finding.line() == "OK    cloud    lan: key accepted (HTTP 200, 1 model listed)"
    (request,) = llm_server.requests
    assert request.path == "/v1/models"
    assert request.headers["Authorization"] == f"Bearer {TEST_KEY}"


def test_provider_key_refused_without_showing_it(
    llm_server: LoopbackLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    finding = check_provider(provider(llm_server, WRONG_KEY))
    assert finding.level is Level.FAIL
    assert "key refused (HTTP 401)" in finding.detail
    shown = finding.line() + json.dumps(finding.as_dict()) + caplog.text
    assert WRONG_KEY not in shown and TEST_KEY not in shown


def test_provider_that_never_answers_fails_in_time() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        url = f"http://127.0.0.1:{port}/v1"
        slow = Provider(
            "lan", url, "m", connect_timeout_seconds=0.5, first_token_timeout_seconds=0.3
        )
        finding = check_provider(slow)
    assert finding.level is Level.FAIL
    assert finding.detail == "no answer from 127.0.0.1 within 0.8 s"


def test_network_connects_to_each_host_once(llm_server: LoopbackLLM) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    providers = [
        provider(llm_server, TEST_KEY),
        Provider("chat2", llm_server.base_url, "m"),
        Provider("dead", f"http://127.0.0.1:{dead_port}/v1", "m"),
    ]
    live, dead = check_network(providers)
    assert (live.level, live.subject) == (Level.OK, "lan, chat2")
    assert live.detail.startswith(f"connected to 127.0.0.1:{llm_server.port} in ")
    assert (dead.level, dead.subject) == (Level.FAIL, "dead")
    assert "Connection refused" in dead.detail


def test_network_says_when_a_name_does_not_resolve() -> None:
    def no_such_name(host: str, port: int) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    (finding,) = check_network(
        [Provider("groq", "https://api.groq.com/openai/v1", "m")], resolve=no_such_name
    )
    assert finding.level is Level.FAIL
    assert finding.detail.startswith("cannot resolve api.groq.com (Name or service not known)")


def test_network_without_providers_is_offline_and_fine() -> None:
    assert check_network([]) == [
        Finding("network", Level.OK, "offline: no cloud provider configured")
    ]


# --- models -------------------------------------------------------------------------------


def shipped_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the shipped models folder: (its root, the wake-word model in it)."""
    root = tmp_path / "models"
    spec = load_manifest()["wakeword-hey-zero"]
    model = root / spec.path
    model.parent.mkdir(parents=True)
    shutil.copyfile(MANIFEST_PATH.parent / spec.path, model)
    return root, model


def test_models_a_corrupted_shipped_wake_word_model_fails_naming_the_file(tmp_path: Path) -> None:
    root, model = shipped_copy(tmp_path)
    specs = load_manifest()
    fine = check_models(specs, tmp_path / "state", shipped_root=root)
    assert [f.level for f in fine if f.subject == "wakeword-hey-zero"] == [Level.OK]
    data = bytearray(model.read_bytes())
    data[100] ^= 0xFF
    model.write_bytes(bytes(data))
    findings = check_models(
        specs, tmp_path / "state", required=frozenset({"wakeword-hey-zero"}), shipped_root=root
    )
    (wake,) = [f for f in findings if f.subject == "wakeword-hey-zero"]
    assert wake.level is Level.FAIL
    assert str(model) in wake.detail and "sha256" in wake.detail


def test_models_a_configured_wake_model_with_a_bad_card_fails_naming_the_key(
    tmp_path: Path,
) -> None:
    """The daemon refuses to start on it; doctor says why before it does."""
    _, model = shipped_copy(tmp_path)
    shutil.copyfile(MANIFEST_PATH.parent / "wakeword" / "hey_zero.json", model.with_suffix(".json"))
    cfg = load_config(paths=[], env={}, overrides=[f"wake.model={model}"])
    (fine,) = [f for f in model_findings(cfg) if f.subject == "[wake] model"]
    assert fine.level is Level.OK and "'hey zero'" in fine.detail
    card = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps(card | {"phrase_reach_seconds": "long"}))
    (bad,) = [f for f in model_findings(cfg) if f.subject == "[wake] model"]
    assert bad.level is Level.FAIL
    assert bad.detail == (
        f"{model.with_suffix('.json')}: phrase_reach_seconds must be a number of seconds above 0 "
        "(got 'long')"
    )


def test_models_a_damaged_command_rescue_warns_as_in_use_when_pocketsphinx_hears(
    tmp_path: Path,
) -> None:
    """The daemon runs without it (the grammar alone hears), so WARN, not FAIL; but it is not
    called unused when the configuration would run it."""
    specs = {ENGLISH_COMMANDS: load_manifest()[ENGLISH_COMMANDS]}
    (missing,) = check_models(specs, tmp_path, shipped_root=tmp_path / "models")
    assert missing.level is Level.WARN and "not in use" in missing.detail
    (in_use,) = check_models(
        specs, tmp_path, in_use=frozenset({ENGLISH_COMMANDS}), shipped_root=tmp_path / "models"
    )
    assert in_use.level is Level.WARN and "not in use" not in in_use.detail
    pocketsphinx = load_config(paths=[], env={}, overrides=["asr.vosk_model=/nonexistent"])
    assert command_rescued(pocketsphinx)
    vosk = load_config(paths=[], env={}, overrides=["asr.vosk_model=" + str(tmp_path)])
    off = load_config(paths=[], env={}, overrides=["asr.command_rescue=false"])
    chinese = load_config(paths=[], env={}, overrides=["device.language=zh"])
    assert not any(command_rescued(cfg) for cfg in (vosk, off, chinese))


def test_models_missing_vosk_warns_with_the_fetch_command_or_fails_when_required(
    tmp_path: Path,
) -> None:
    specs = {"vosk-small-en-us": load_manifest()["vosk-small-en-us"]}
    (optional,) = check_models(specs, tmp_path, fallbacks={"vosk-small-en-us": "pocketsphinx"})
    assert optional.level is Level.WARN
    assert "run `zeropin models fetch vosk-small-en-us`; pocketsphinx" in optional.detail
    (needed,) = check_models(specs, tmp_path, required=frozenset({"vosk-small-en-us"}))
    assert needed.level is Level.FAIL
    installed = tmp_path / specs["vosk-small-en-us"].unpacks_to
    installed.mkdir()
    marker_path(installed).write_text(specs["vosk-small-en-us"].sha256 + "\n")
    (present,) = check_models(specs, tmp_path, required=frozenset({"vosk-small-en-us"}))
    assert present.level is Level.OK and "verified" in present.detail


# --- memory, disk, clock: injected readings -------------------------------------------------


def test_memory_and_disk_thresholds(tmp_path: Path) -> None:
    assert check_memory(49).level is Level.WARN
    assert "49 MB available, under 50 MB" in check_memory(49).detail
    assert check_memory(50).level is Level.OK
    assert check_memory(None).level is Level.WARN
    assert check_disk(tmp_path, 199).level is Level.WARN
    assert f"delete old photos in {tmp_path / 'photos'}" in check_disk(tmp_path, 199).detail
    assert check_disk(tmp_path, 200).level is Level.OK


def test_clock() -> None:
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    assert check_clock(now, True).level is Level.OK
    assert check_clock(now, False).level is Level.WARN
    assert "cannot tell" in check_clock(now, None).detail
    unset = check_clock(datetime(1970, 1, 1, tzinfo=UTC), True)
    assert unset.level is Level.WARN and "not set yet" in unset.detail


# --- camera, button, LEDs: real drivers on mock pins and files ------------------------------


def test_camera_reports_the_frame_size_or_what_is_missing(tmp_path: Path) -> None:
    Image.new("RGB", (640, 480), (10, 20, 30)).save(tmp_path / "a.png")
    finding = check_camera(lambda: FolderCamera(tmp_path))
    assert finding.level is Level.OK and "640x480 image/png" in finding.detail
    assert check_camera(None, "picamera2 is not installed").level is Level.WARN
    assert check_camera(lambda: FolderCamera(tmp_path / "none")).level is Level.FAIL


def test_button_press_on_the_mock_pin_passes(factory: Any) -> None:
    prompts: list[str] = []

    def finger() -> None:
        threading.Timer(0.1, press, (factory, 17)).start()

    finding = check_button(
        lambda: Buttons({"main": 17}, pin_factory=factory),
        17,
        5,
        prompt=prompts.append,
        press=finger,
    )
    assert finding.level is Level.OK, finding
    assert prompts == ["press the main button (GPIO 17) within 5 s"]


def test_button_without_a_press_fails_and_zero_seconds_skips(factory: Any) -> None:
    def buttons() -> Buttons:
        return Buttons({"main": 17}, pin_factory=factory)

    missed = check_button(buttons, 17, 0.2, prompt=lambda _: None)
    assert missed.level is Level.FAIL and "--button-seconds 0" in missed.detail
    skipped = check_button(buttons, 17, 0, prompt=lambda _: None)
    assert (skipped.level, skipped.detail) == (Level.WARN, "skipped (--button-seconds 0)")


def test_led_blinks_and_lights_the_privacy_led(factory: Any) -> None:
    finding = check_led(
        lambda: SingleLed(12, pin_factory=factory),
        lambda: PrivacyLed(16, pin_factory=factory),
        label="status LED (GPIO 12)",
        blink_seconds=0.02,
    )
    assert finding.level is Level.OK, finding
    assert "showed listening, thinking, off" in finding.detail
    assert "privacy LED (GPIO 16) lit and went out" in finding.detail
    assert [bool(state) for _, state in factory.pin(16).states] == [False, True, False]
    assert any(state for _, state in factory.pin(12).states)  # the status LED was lit


def test_led_fails_when_the_privacy_pin_is_dead(factory: Any) -> None:
    broken = BrokenLedFactory()
    try:
        finding = check_led(
            lambda: SingleLed(12, pin_factory=factory),
            lambda: PrivacyLed(16, pin_factory=broken),
            label="status LED",
            blink_seconds=0.0,
        )
    finally:
        broken.close()
    assert finding.level is Level.FAIL and "privacy LED on pin 16" in finding.detail


def test_without_a_privacy_led_the_status_led_shows_uploads(factory: Any) -> None:
    finding = check_led(
        lambda: SingleLed(12, pin_factory=factory), None, label="status LED", blink_seconds=0.02
    )
    assert finding.level is Level.OK, finding
    assert "capture for uploads" in finding.detail


@pytest.mark.parametrize(("allow", "level"), [(False, Level.WARN), (True, Level.FAIL)])
def test_with_no_light_at_all_uploads_are_refused_or_the_opt_out_fails(
    allow: bool, level: Level
) -> None:
    finding = check_led(NoLed, None, label="no LED", allow_without_indicator=allow)
    assert finding.level is level, finding
    expected = "sends them anyway" if allow else "will not be sent"
    assert expected in finding.detail


# --- the whole doctor ---------------------------------------------------------------------


def test_run_doctor_in_the_simulator_never_shows_a_configured_key(tmp_path: Path) -> None:
    cfg = load_config(
        paths=[], env={}, secrets_paths=[], overrides=[f"device.state_dir={tmp_path}"]
    )
    env = {"OPENAI_API_KEY": WRONG_KEY}
    findings = list(run_doctor(cfg, sim=True, env=env, prompt=lambda _: None))
    assert {f.check for f in findings} == set(CHECK_NAMES)
    assert exit_code(findings) == 0, [f.line() for f in findings if f.level is Level.FAIL]
    (network,) = [f for f in findings if f.check == "network"]
    assert "env not contacted" in network.detail
    assert WRONG_KEY not in "".join(f.line() for f in findings)
    assert exit_code([*findings, Finding("mic", Level.FAIL, "x")]) == 1


def _zeropin(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    config = home / "empty.toml"
    config.write_text("")
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "--config", str(config), "doctor", *args],
        env={"PATH": os.environ["PATH"], "HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_zeropin_doctor_sim_exits_0_and_prints_every_check(tmp_path: Path) -> None:
    result = _zeropin(["--sim"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = [line.split()[1] for line in result.stdout.splitlines() if line[:4].strip() in LEVELS]
    assert set(checks) == set(CHECK_NAMES)
    assert "OK    button   main (GPIO 17) pressed after" in result.stdout
    assert "OK    cloud    loopback: key accepted" in result.stdout


def test_zeropin_doctor_json_on_real_audio_with_a_refused_key(
    tmp_path: Path, llm_server: LoopbackLLM
) -> None:
    with alsa_file_device(tmp_path / "alsa") as alsa:
        alsa.feed(sine(-20, 2.5))
        result = _zeropin(
            [
                "--json",
                "--button-seconds",
                "0",
            ],
            alsa.folder,
            OPENAI_BASE_URL=llm_server.base_url,
            OPENAI_API_KEY=WRONG_KEY,
            ZEROPIN_AUDIO_MIC=INPUT_NAME,
            ZEROPIN_AUDIO_SPEAKER=OUTPUT_NAME,
            GPIOZERO_PIN_FACTORY="mock",
        )
    assert result.returncode == 1, result.stderr
    findings = {(f["check"], f["subject"]): f for f in map(json.loads, result.stdout.splitlines())}
    assert findings["mic", ""]["level"] == "OK"
    assert findings["speaker", ""]["level"] == "OK"
    assert findings["button", ""]["level"] == "WARN"
    assert findings["network", "env"]["level"] == "OK"
    assert findings["cloud", "env"]["level"] == "FAIL"
    assert "key refused" in findings["cloud", "env"]["detail"]
    assert WRONG_KEY not in result.stdout + result.stderr


def test_models_a_chinese_device_is_told_pocketsphinx_has_no_chinese(tmp_path: Path) -> None:
    chinese = load_config(paths=[], env={}, overrides=["device.language=zh"])
    findings = {f.subject: f for f in model_findings(chinese)}
    assert findings["Chinese"].level is Level.OK
    assert "pocketsphinx has no Chinese model" in findings["Chinese"].detail
    assert findings["vosk-small-cn"].level is Level.WARN  # optional: the command model hears
    assert "until then the command model recognises the commands only" in (
        findings["vosk-small-cn"].detail
    )
    asked = load_config(
        paths=[], env={}, overrides=["device.language=zh", "asr.engine=pocketsphinx"]
    )
    chinese_finding = next(f for f in model_findings(asked) if f.subject == "Chinese")
    assert chinese_finding.level is Level.FAIL
