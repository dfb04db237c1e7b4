"""``zeropin doctor``: a self-check a maker runs over SSH, one line per finding.

::

    $ zeropin doctor --button-seconds 5
    OK    mic      'seeed-2mic-voicecard': -38.2 dBFS RMS, 0.00% of samples clipped over 2.0 s
    FAIL  speaker  no audio output device matching 'max98357'; ...; set [audio] speaker
    WARN  models   vosk-small-en-us: not installed at ...: run `zeropin models fetch ...`
    ...

This module is the composition: it picks the Pi's parts, or with ``sim=True`` the simulator's
(gpiozero MockFactory pins pressed by a thread, a microphone reading a generated file, a speaker
writing WAV files, a folder camera, a loopback cloud server), then runs each check of
``device.doctor.checks`` on a thread with a time limit, so a stuck device cannot hang the report.
On the Pi, stop the daemon first (``sudo systemctl stop zeropin``): it holds the sound card and
the GPIO pins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from device.app.hardware import (
    build_buttons,
    build_light,
    build_mic,
    build_privacy_led,
    build_speaker,
    camera_backend,
    open_camera,
)
from device.cloud.providers import Provider, resolve_providers
from device.config import sources
from device.config.calibration import CalibrationRecord, Rule, read_calibration
from device.config.schema import Config, Secret
from device.doctor.calibration import check_calibration
from device.doctor.checks import (
    Finding,
    Level,
    bounded,
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
    ntp_synchronized,
)
from device.doctor.mcp_servers import CHECK_SECONDS, check_mcp_servers
from device.doctor.models import model_findings
from device.errors import ConfigError, ModelError, TtsError
from device.listening.tflite_wake import ModelCard
from device.sim.loopback.server import LOOPBACK_MODEL, LoopbackLLM
from device.system.paths import (
    resolved_state_dir,
    resolved_wake_model,
)
from device.system.status import available_memory_mb
from drivers.audio_format import RATE, write_wav
from drivers.buttons import Buttons, press, simulated_pin_factory
from drivers.camera import Camera, FolderCamera
from drivers.errors import DriverError
from drivers.leds import PrivacyLed, StatusLight
from drivers.mic import Microphone
from drivers.speaker import Speaker

if TYPE_CHECKING:
    from gpiozero.pins.mock import MockFactory

log = logging.getLogger(__name__)

SIM_PHRASE = "Hey zero, what is the time? One, two, three, four."
SIM_PRESS_DELAY_SECONDS = 0.2
SPARE_SECONDS = 10.0  # added to each check's own waits for its overall time limit


@dataclass
class Parts:
    """What the checks run against: the Pi's parts or the simulator's, and how to open them."""

    open_mic: Callable[[], Microphone]
    open_speaker: Callable[[], Speaker]
    open_camera: Callable[[], Camera] | None
    camera_missing: str  # why open_camera is None
    open_buttons: Callable[[], Buttons]
    press: Callable[[], None] | None  # the simulator presses its mock button itself
    open_light: Callable[[], StatusLight]
    open_privacy: Callable[[], PrivacyLed] | None
    providers: list[Provider]
    providers_error: str  # the ConfigError that left providers empty, if any
    network_note: str = ""
    led_seconds: float = 1.0


def run_doctor(
    cfg: Config,
    *,
    sim: bool = False,
    button_seconds: float = 10.0,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], None] = lambda text: print(text, flush=True),
) -> Iterator[Finding]:
    """Every finding, as each check finishes; ``env`` (default os.environ) holds provider keys."""
    env = os.environ if env is None else env
    with contextlib.ExitStack() as stack:
        parts = _sim_parts(cfg, env, stack) if sim else _device_parts(cfg, env)
        keys = [p.api_key.reveal() for p in parts.providers if p.api_key]
        keys += [table.token.reveal() for _, table in cfg.mcp_servers if table.token]
        for name, seconds, check in _checks(cfg, parts, button_seconds, prompt):
            yield from (_scrubbed(finding, keys) for finding in _guarded(name, check, seconds))


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when nothing failed, else 1."""
    return 1 if any(f.level is Level.FAIL for f in findings) else 0


def print_doctor(cfg: Config, *, sim: bool, as_json: bool, button_seconds: float) -> int:
    """Run the checks, print one line (or JSON object) per finding; return the exit code."""
    findings = []
    out = sys.stderr if as_json else sys.stdout  # stdout stays JSON for a script to read

    def ask(text: str) -> None:
        print(f"      {text} ...", file=out, flush=True)

    for finding in run_doctor(cfg, sim=sim, button_seconds=button_seconds, prompt=ask):
        findings.append(finding)
        print(json.dumps(finding.as_dict()) if as_json else finding.line(), flush=True)
    if not as_json:
        counts = {level: sum(f.level is level for f in findings) for level in Level}
        print(", ".join(f"{count} {level.value}" for level, count in counts.items()))
    return exit_code(findings)


Check = Callable[[], list[Finding]]


def _checks(
    cfg: Config, parts: Parts, button_seconds: float, prompt: Callable[[str], None]
) -> list[tuple[str, float, Check]]:
    state_dir = resolved_state_dir(cfg)
    connect = sum(p.connect_timeout_seconds for p in parts.providers)
    answer = sum(p.connect_timeout_seconds + p.first_token_timeout_seconds for p in parts.providers)
    servers = cfg.mcp_servers
    mcp = [("mcp", CHECK_SECONDS, lambda: check_mcp_servers(servers))] if servers else []
    return [
        ("mic", 2.0, lambda: [check_mic(parts.open_mic)]),
        ("speaker", 1.0, lambda: [check_speaker(parts.open_speaker)]),
        ("camera", 5.0, lambda: [check_camera(parts.open_camera, parts.camera_missing)]),
        (
            "button",
            max(button_seconds, 0),
            lambda: [
                check_button(
                    parts.open_buttons,
                    cfg.buttons.main_pin,
                    button_seconds,
                    prompt=prompt,
                    press=parts.press,
                )
            ],
        ),
        (
            "led",
            2 * parts.led_seconds,
            lambda: [
                check_led(
                    parts.open_light,
                    parts.open_privacy,
                    label=_led_label(cfg),
                    blink_seconds=parts.led_seconds,
                    allow_without_indicator=cfg.led.allow_uploads_without_indicator,
                )
            ],
        ),
        ("models", 10.0, lambda: _models_and_calibration(cfg)),
        ("memory", 0.0, lambda: [check_memory(available_memory_mb())]),
        ("disk", 0.0, lambda: [check_disk(state_dir, _free_mb(state_dir))]),
        ("network", connect, lambda: _network_findings(parts)),
        ("cloud", answer, lambda: _cloud_findings(parts)),
        ("clock", 5.0, lambda: [check_clock(datetime.now(UTC), ntp_synchronized())]),
        *mcp,
    ]


def _guarded(name: str, check: Check, seconds: float) -> list[Finding]:
    """The check's findings; FAIL if it raised something unexpected or took too long."""
    limit = seconds + SPARE_SECONDS
    try:
        return bounded(check, limit)
    except TimeoutError:
        return [Finding(name, Level.FAIL, f"did not finish within {limit:g} s; stuck device?")]
    except Exception as exc:  # a check that breaks must not hide the others
        log.debug("doctor check %s failed", name, exc_info=True)
        return [Finding(name, Level.FAIL, f"check failed: {type(exc).__name__}: {exc}")]


def _scrubbed(finding: Finding, keys: list[str]) -> Finding:
    detail = finding.detail
    for key in keys:
        detail = detail.replace(key, "***")
    return (
        finding
        if detail == finding.detail
        else Finding(finding.check, finding.level, detail, finding.subject)
    )


def _led_label(cfg: Config) -> str:
    led = cfg.led
    if led.kind == "single":
        return f"status LED (GPIO {led.pin})"
    if led.kind == "rgb":
        return f"RGB status LED (GPIO {led.red_pin}/{led.green_pin}/{led.blue_pin})"
    return 'no status LED ([led] kind = "none"), the stand-in'


def _models_and_calibration(cfg: Config) -> list[Finding]:
    findings = model_findings(cfg)
    if cfg.wake.engine == "tflite":
        findings.append(calibration_finding(cfg))
    return findings


def calibration_finding(cfg: Config) -> Finding:
    """The calibration file's record beside the model and [wake] settings in use now."""
    record: CalibrationRecord | None = None
    problem = ""
    try:
        record = read_calibration(sources.CALIBRATION_PATH)
    except ConfigError as exc:
        problem = str(exc)
    card: Rule | None = None
    sha = ""  # the model's problems are the models check's to report
    with contextlib.suppress(ModelError, OSError):
        model = resolved_wake_model(cfg)
        loaded = ModelCard.load(model)
        card = Rule(loaded.threshold, loaded.trigger_level, loaded.smoothing)
        sha = hashlib.sha256(model.read_bytes()).hexdigest()
    wake = cfg.wake
    in_use = Rule(wake.threshold, wake.trigger_level, wake.smoothing)
    return check_calibration(record, in_use=in_use, card=card, model_sha256=sha, problem=problem)


def _free_mb(path: Path) -> int | None:
    path = path.absolute()
    while not path.exists() and path != path.parent:  # the state dir may not be made yet
        path = path.parent
    try:
        return shutil.disk_usage(path).free // (1024 * 1024)
    except OSError:
        return None


def _network_findings(parts: Parts) -> list[Finding]:
    if parts.providers_error:
        return [Finding("network", Level.WARN, "not checked: the provider settings are wrong")]
    return check_network(parts.providers, note=parts.network_note)


def _cloud_findings(parts: Parts) -> list[Finding]:
    if parts.providers_error:
        return [Finding("cloud", Level.FAIL, parts.providers_error)]
    if not parts.providers:
        return [Finding("cloud", Level.OK, "offline: no cloud provider configured")]
    return [check_provider(provider) for provider in parts.providers]


def _providers(cfg: Config, env: Mapping[str, str]) -> tuple[list[Provider], str]:
    try:
        return resolve_providers(cfg, env), ""
    except ConfigError as exc:
        return [], str(exc)


# -- the Pi's parts ---------------------------------------------------------------------------


def _device_parts(cfg: Config, env: Mapping[str, str]) -> Parts:
    providers, error = _providers(cfg, env)
    open_camera, missing = _device_camera(cfg)
    return Parts(
        open_mic=lambda: build_mic(cfg),
        open_speaker=lambda: build_speaker(cfg),
        open_camera=open_camera,
        camera_missing=missing,
        open_buttons=lambda: build_buttons(cfg),
        press=None,
        open_light=lambda: build_light(cfg),
        open_privacy=(lambda: _privacy(cfg, None)) if cfg.led.privacy_pin else None,
        providers=providers,
        providers_error=error,
    )


def _privacy(cfg: Config, factory: object) -> PrivacyLed:
    led = build_privacy_led(cfg, factory)
    assert led is not None  # only asked for when privacy_pin is set
    return led


def _device_camera(cfg: Config) -> tuple[Callable[[], Camera] | None, str]:
    """How ``zeropin run`` would open the camera, or why it would have none."""
    try:
        backend, why = camera_backend(cfg)
    except ConfigError as exc:
        return None, str(exc)
    if backend == "none":
        return None, why
    return (lambda: _open_camera(cfg)), ""


def _open_camera(cfg: Config) -> Camera:
    camera = open_camera(cfg)
    if camera is None:  # camera_backend said there is one
        raise DriverError("no camera backend")
    return camera


# -- the simulator's parts ----------------------------------------------------------------------


def _sim_parts(cfg: Config, env: Mapping[str, str], stack: contextlib.ExitStack) -> Parts:
    """Stand-ins that need no sound card, GPIO, camera or network; temp files are removed."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zeropin-doctor-")))
    factory = simulated_pin_factory()
    stack.callback(factory.close)
    configured, error = _providers(cfg, env)
    server = stack.enter_context(LoopbackLLM(api_key=secrets.token_urlsafe(24)))
    loopback = Provider(
        name="loopback",
        base_url=server.base_url,
        model=LOOPBACK_MODEL,
        api_key=Secret(server.api_key),
    )
    skipped = ", ".join(p.name for p in configured)
    pin = cfg.buttons.main_pin
    return Parts(
        open_mic=lambda: build_mic(cfg, _sim_recording(folder)),
        open_speaker=lambda: build_speaker(cfg, folder / "speaker"),
        open_camera=lambda: FolderCamera(_sim_picture(cfg, folder)),
        camera_missing="",
        open_buttons=lambda: build_buttons(cfg, factory),
        press=lambda: _press_soon(factory, pin),
        open_light=lambda: build_light(cfg, factory),
        open_privacy=(lambda: _privacy(cfg, factory)) if cfg.led.privacy_pin else None,
        providers=[loopback],
        providers_error=error,
        network_note=" (simulator: a loopback server"
        + (f"; {skipped} not contacted)" if skipped else ")"),
        led_seconds=0.2,
    )


def _sim_recording(folder: Path) -> Path:
    """espeak-ng saying a phrase (a tone if espeak-ng is missing), as the mic's WAV file."""
    from device.speaking.tts import EspeakSynthesizer

    path = folder / "mic.wav"
    try:
        pcm = EspeakSynthesizer(volume_percent=60).synthesize(SIM_PHRASE)
    except TtsError as exc:
        log.warning("simulated microphone: %s; using a tone", exc)
        t = np.arange(2 * RATE) / RATE
        pcm = (3000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    write_wav(path, pcm)
    return path


def _sim_picture(cfg: Config, folder: Path) -> Path:
    """The configured camera folder, or a generated picture of the configured size."""
    if cfg.camera.folder:
        return Path(cfg.camera.folder).expanduser()
    from PIL import Image

    path = folder / "camera.jpg"
    size = (cfg.camera.width, cfg.camera.height)
    Image.linear_gradient("L").resize(size).convert("RGB").save(path, quality=80)
    return path


def _press_soon(factory: MockFactory, pin: int) -> None:
    """Press the mock button from another thread, as a finger would, once the check waits."""

    def later() -> None:
        threading.Event().wait(SIM_PRESS_DELAY_SECONDS)
        press(factory, pin)

    threading.Thread(target=later, name="doctor-sim-press", daemon=True).start()
