"""The composition root's hardware half: configuration -> the microphone, speaker, buttons, LEDs
and camera (or their simulator stand-ins). Only here and in ``device.app`` are backends named.
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from device.config.schema import Config
from device.errors import ConfigError
from drivers.audio_format import RATE
from drivers.buttons import Buttons
from drivers.camera import Camera, FolderCamera, Picamera2Camera
from drivers.errors import DriverError
from drivers.leds import (
    CaptureOnStatusLight,
    NoLed,
    PrivacyLed,
    RgbLed,
    SingleLed,
    StatusLight,
    UploadIndicator,
)
from drivers.mic import FileMicrophone, Microphone, PyAudioMicrophone
from drivers.speaker import PyAudioSpeaker, Speaker, WavSpeaker

log = logging.getLogger(__name__)


def build_light(cfg: Config, pin_factory: Any = None, on_change: Any = None) -> StatusLight:
    led = cfg.led
    if led.kind == "single":
        return SingleLed(led.pin, pin_factory=pin_factory, on_change=on_change)
    if led.kind == "rgb":
        return RgbLed(
            led.red_pin, led.green_pin, led.blue_pin, pin_factory=pin_factory, on_change=on_change
        )
    return NoLed(on_change=on_change)


def build_privacy_led(
    cfg: Config, pin_factory: Any = None, on_change: Any = None
) -> PrivacyLed | None:
    """The privacy LED, or None when ``[led] privacy_pin`` is 0 (none fitted)."""
    if not cfg.led.privacy_pin:
        return None
    return PrivacyLed(cfg.led.privacy_pin, pin_factory=pin_factory, on_change=on_change)


def upload_indicator(light: StatusLight, privacy_led: PrivacyLed | None) -> UploadIndicator | None:
    """What shows an upload: the privacy LED when one is fitted, else the status LED's capture
    pattern; None when the build has neither (``[led] kind = "none"``, no ``privacy_pin``)."""
    if privacy_led is not None:
        return privacy_led
    return CaptureOnStatusLight(light) if light.can_show_capture else None


def frames_for(cfg: Config) -> int:
    """Samples in one microphone chunk of ``[audio] chunk_ms``."""
    return cfg.audio.chunk_ms * RATE // 1000


def build_mic(cfg: Config, recording: Path | None = None, *, realtime: bool = True) -> Microphone:
    """The configured sound card, or a recording played as the microphone.

    ``realtime=False`` hands a recording over as fast as it is read (lockstep replays)."""
    if recording is not None:
        return FileMicrophone(recording, frames_for(cfg), realtime=realtime)
    return PyAudioMicrophone(cfg.audio.mic, frames_for(cfg))


def build_speaker(cfg: Config, folder: Path | None = None) -> Speaker:
    """The configured sound card, or WAV files written into ``folder``."""
    return WavSpeaker(folder) if folder is not None else PyAudioSpeaker(cfg.audio.speaker)


def build_buttons(cfg: Config, pin_factory: Any = None) -> Buttons:
    buttons = cfg.buttons
    if buttons.reset_hold_seconds and buttons.reset_hold_seconds <= buttons.hold_seconds:
        raise ConfigError(
            f"[buttons] reset_hold_seconds ({buttons.reset_hold_seconds:g}) must be longer than "
            f"hold_seconds ({buttons.hold_seconds:g}), or 0 for no reset gesture"
        )
    return Buttons(
        {"main": buttons.main_pin},
        pin_factory=pin_factory,
        hold_seconds=buttons.hold_seconds,
        long_hold_seconds=buttons.reset_hold_seconds,
    )


PICAMERA2_MISSING = (
    "picamera2 is not installed: on Raspberry Pi OS `sudo apt install python3-picamera2` "
    'and a --system-site-packages venv; or set [camera] backend = "none"'
)


def camera_backend(
    cfg: Config, folder: Path | None = None, *, sim: bool = False
) -> tuple[str, str]:
    """("folder" | "picamera2" | "none", why there is none): ``auto`` made concrete.

    ``folder`` (``--camera-folder``) wins over the config. The simulator has no camera unless
    given a folder; on a device, ``auto`` means the Pi camera when picamera2 is installed."""
    backend = "folder" if folder else cfg.camera.backend
    if backend == "none":
        return "none", 'disabled ([camera] backend = "none")'
    if backend == "folder" or (backend == "auto" and cfg.camera.folder):
        if not (folder or cfg.camera.folder):
            raise ConfigError(
                '[camera] backend: "folder" needs [camera] folder, a folder of images'
            )
        return "folder", ""
    if backend == "auto" and sim:
        return "none", "the simulator has no camera: give --camera-folder or [camera] folder"
    if backend == "auto" and find_spec("picamera2") is None:
        return "none", PICAMERA2_MISSING
    return "picamera2", ""


def open_camera(cfg: Config, folder: Path | None = None, *, sim: bool = False) -> Camera | None:
    """The camera ``camera_backend`` chose, opened (DriverError if it fails); None for none."""
    backend, _ = camera_backend(cfg, folder, sim=sim)
    if backend == "folder":
        return FolderCamera(folder or Path(cfg.camera.folder).expanduser())
    if backend == "picamera2":
        return Picamera2Camera((cfg.camera.width, cfg.camera.height))
    return None


def build_camera(cfg: Config, folder: Path | None = None, *, sim: bool = False) -> Camera | None:
    """``open_camera`` for the daemon: with ``auto``, no camera or one that fails to open is
    logged and left out, since a pin without a camera still talks."""
    auto = cfg.camera.backend == "auto" and folder is None
    try:
        camera = open_camera(cfg, folder, sim=sim)
    except DriverError as exc:
        if not auto:
            raise
        log.warning("no camera: %s", exc)
        return None
    if camera is None and auto and not sim:
        log.warning("no camera: %s", camera_backend(cfg)[1])
    return camera
