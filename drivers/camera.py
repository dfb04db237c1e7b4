"""Cameras: the Pi camera through picamera2, and a folder of pictures that stands in for one."""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drivers.base import Closable, Driver
from drivers.errors import DriverError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless...): they carry the image size.
# 0xC4 (DHT), 0xC8 (JPG) and 0xCC (DAC) sit in the same range but are not frames.
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class Photo:
    """A still picture, encoded."""

    data: bytes  # the whole file
    mime: str  # "image/jpeg" or "image/png"
    width: int  # pixels
    height: int  # pixels

    @classmethod
    def from_bytes(cls, data: bytes) -> Photo:
        """Wrap an encoded JPEG or PNG, reading its size from the header (ValueError if neither)."""
        mime, width, height = image_size(data)
        return cls(data, mime, width, height)


def image_size(data: bytes) -> tuple[str, int, int]:
    """(mime, width, height) of a PNG (from IHDR) or JPEG (from its SOF segment).

    Raises ValueError when ``data`` is neither, or its header is cut short.
    """
    if data.startswith(PNG_SIGNATURE):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ValueError("PNG without an IHDR chunk")
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data.startswith(b"\xff\xd8"):
        width, height = _jpeg_size(data)
        return "image/jpeg", width, height
    raise ValueError("neither a JPEG nor a PNG image")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"JPEG: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header came first
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in SOF_MARKERS:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise ValueError("JPEG without a frame header (SOF)")


class Camera(Closable, Protocol):
    """What skills take pictures with."""

    def capture(self) -> Photo: ...


class Picamera2Camera(Driver):
    """The Raspberry Pi camera (CSI ribbon) through picamera2, as JPEG stills.

    Each capture runs configure-once, then start -> capture -> stop, so the sensor is off between
    pictures. Untested off a Pi: picamera2 needs libcamera, which only Raspberry Pi OS ships.
    Wiring: the camera's ribbon in the Zero 2 W's CSI connector (contacts towards the board).
    Example::

        from drivers.camera import Picamera2Camera

        with Picamera2Camera((1280, 960)) as camera:
            photo = camera.capture()            # Photo(data=b"\\xff\\xd8...", mime="image/jpeg")
    """

    def __init__(self, size: tuple[int, int] = (1280, 960)) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise DriverError(
                "picamera2 is not installed: on Raspberry Pi OS `sudo apt install "
                "python3-picamera2` and make the venv with --system-site-packages"
            ) from exc
        if not Picamera2.global_camera_info():
            raise DriverError(
                "no camera detected: check the ribbon cable and `rpicam-hello --list-cameras`"
            )
        try:
            self._camera: Any = Picamera2()
            self._camera.configure(self._camera.create_still_configuration(main={"size": size}))
        except (RuntimeError, OSError, IndexError) as exc:
            raise DriverError(f"cannot set up the camera at {size}: {exc}") from exc

    def capture(self) -> Photo:
        """Start the sensor, take one JPEG, stop the sensor."""
        if self.closed:
            raise DriverError("the camera is closed")
        buffer = io.BytesIO()
        try:
            self._camera.start()
            try:
                self._camera.capture_file(buffer, format="jpeg")
            finally:
                self._camera.stop()
        except (RuntimeError, OSError) as exc:
            raise DriverError(f"camera capture failed: {exc}") from exc
        return Photo.from_bytes(buffer.getvalue())

    def _release(self) -> None:
        self._camera.close()


class FolderCamera(Driver):
    """Pictures from a folder (.jpg, .jpeg, .png), one per capture in name order, cycling; or
    one picture file, returned at every capture.

    For the simulator, ``zeropin ask --image`` and tests. Example::

        from drivers.camera import FolderCamera

        with FolderCamera("samples/photos") as camera:
            photo = camera.capture()
            print(photo.mime, photo.width, photo.height)
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.is_file():  # one picture; read (and checked) at each capture
            self.paths = [self.folder]
        elif self.folder.is_dir():
            self.paths = sorted(
                path
                for path in self.folder.iterdir()
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
            )
            if not self.paths:
                raise DriverError(
                    f"no .jpg, .jpeg or .png pictures in the camera folder {self.folder}"
                )
        else:
            raise DriverError(f"camera folder or picture not found: {self.folder}")
        self._next = 0

    def capture(self) -> Photo:
        """The next picture; DriverError if it cannot be read or is not a JPEG/PNG."""
        if self.closed:
            raise DriverError(f"the folder camera for {self.folder} is closed")
        path = self.paths[self._next]
        self._next = (self._next + 1) % len(self.paths)
        try:
            return Photo.from_bytes(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise DriverError(f"cannot use {path} as a photo: {exc}") from exc
