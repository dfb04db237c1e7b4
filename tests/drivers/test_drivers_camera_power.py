"""Cameras (folder of pictures, picamera2's absence) and the battery gauge on a fake sysfs tree."""

from __future__ import annotations

import struct
import sys
import types
import zlib
from pathlib import Path
from typing import Any

import pytest

from drivers.camera import FolderCamera, Photo, Picamera2Camera, image_size
from drivers.errors import DriverError
from drivers.power import Battery


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of mid-grey pixels, built from the spec with zlib and struct."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\x00" + b"\x80" * 3 * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def jpeg_header(width: int, height: int, sof: int = 0xC0) -> bytes:
    """The segments a camera writes before the picture data: enough to read the size from."""
    frame = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xE1, b"Exif\x00\x00" + b"\xff\xc0\x00\x11\x08\x00\x01\x00\x01")  # decoy SOF
        + segment(0xDB, b"\x00" + bytes(range(64)))
        + segment(0xC4, b"\x00" + bytes(16) + b"\x00")  # DHT lies in the SOF range
        + b"\xff"  # a fill byte before the next marker
        + segment(sof, frame)
        + segment(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")
        + b"\x12\x34\xff\x00\x56"
        + b"\xff\xd9"
    )


# --- image headers ---------------------------------------------------------------------------


def test_image_size_reads_png_and_jpeg_headers() -> None:
    assert image_size(png(3, 2)) == ("image/png", 3, 2)
    assert image_size(jpeg_header(640, 480)) == ("image/jpeg", 640, 480)
    assert image_size(jpeg_header(4056, 3040, sof=0xC2)) == ("image/jpeg", 4056, 3040)
    photo = Photo.from_bytes(png(7, 5))
    assert (photo.mime, photo.width, photo.height) == ("image/png", 7, 5)


@pytest.mark.parametrize(
    "data",
    [b"", b"GIF89a....", b"\xff\xd8\xff\xd9", jpeg_header(640, 480)[:40], b"\x89PNG\r\n\x1a\n"],
)
def test_image_size_rejects_what_it_cannot_read(data: bytes) -> None:
    with pytest.raises(ValueError):
        image_size(data)


# --- FolderCamera ----------------------------------------------------------------------------


def test_folder_camera_cycles_through_pictures_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.png").write_bytes(png(3, 2))
    (tmp_path / "a.JPG").write_bytes(jpeg_header(640, 480))
    (tmp_path / "c.jpeg").write_bytes(jpeg_header(320, 240))
    (tmp_path / "notes.txt").write_text("not a picture")
    with FolderCamera(tmp_path) as camera:
        photos = [camera.capture() for _ in range(4)]
    assert [(p.mime, p.width, p.height) for p in photos] == [
        ("image/jpeg", 640, 480),
        ("image/png", 3, 2),
        ("image/jpeg", 320, 240),
        ("image/jpeg", 640, 480),
    ]
    assert photos[1].data == png(3, 2)
    camera.close()
    with pytest.raises(DriverError):
        camera.capture()


def test_folder_camera_missing_empty_or_broken(tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="not found"):
        FolderCamera(tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("no pictures here")
    with pytest.raises(DriverError, match="no .jpg"):
        FolderCamera(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not really a png")
    with FolderCamera(tmp_path) as camera, pytest.raises(DriverError, match="broken.png"):
        camera.capture()


# --- Picamera2Camera -------------------------------------------------------------------------


def test_picamera2_camera_without_picamera2_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails, as off a Pi
    with pytest.raises(DriverError, match="sudo apt install python3-picamera2") as caught:
        Picamera2Camera()
    assert "--system-site-packages" in str(caught.value)


class RecordingPicamera2:
    """Stands in for picamera2.Picamera2 (which needs libcamera) to check the call order."""

    cameras: list[dict[str, Any]] = [{"Model": "imx708"}]
    calls: list[str] = []

    @classmethod
    def global_camera_info(cls) -> list[dict[str, Any]]:
        return cls.cameras

    def create_still_configuration(self, main: dict[str, Any]) -> dict[str, Any]:
        return {"main": main}

    def configure(self, config: dict[str, Any]) -> None:
        self.calls.append(f"configure {config['main']['size']}")

    def start(self) -> None:
        self.calls.append("start")

    def capture_file(self, target: Any, format: str) -> None:
        self.calls.append(f"capture {format}")
        target.write(jpeg_header(1280, 960))

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


def test_picamera2_camera_configures_starts_captures_stops_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("picamera2")
    module.Picamera2 = RecordingPicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setattr(RecordingPicamera2, "calls", [])
    with Picamera2Camera((1280, 960)) as camera:
        photo = camera.capture()
    camera.close()
    assert (photo.mime, photo.width, photo.height) == ("image/jpeg", 1280, 960)
    assert RecordingPicamera2.calls == [
        "configure (1280, 960)",
        "start",
        "capture jpeg",
        "stop",
        "close",
    ]
    monkeypatch.setattr(RecordingPicamera2, "cameras", [])
    with pytest.raises(DriverError, match="no camera detected"):
        Picamera2Camera()


# --- Battery ---------------------------------------------------------------------------------


def supply(root: Path, name: str, **files: str) -> None:
    (root / name).mkdir(parents=True)
    for key, value in files.items():
        (root / name / key).write_text(value + "\n")


def test_battery_reads_capacity_and_status(tmp_path: Path) -> None:
    supply(tmp_path, "AC", type="Mains", online="1")
    supply(tmp_path, "BAT0", type="Battery", capacity="83", status="Discharging")
    with Battery(tmp_path) as battery:
        assert battery.percent() == 83
        assert battery.charging() is False
        (tmp_path / "BAT0" / "status").write_text("Charging\n")
        assert battery.charging() is True


def test_battery_from_charge_counters_and_unknown_status(tmp_path: Path) -> None:
    supply(
        tmp_path, "max17048", type="Battery", charge_now="1500", charge_full="2000", status="Weird"
    )
    battery = Battery(tmp_path)
    assert battery.percent() == 75
    assert battery.charging() is None


def test_no_fuel_gauge_reads_none(tmp_path: Path) -> None:
    supply(tmp_path, "AC", type="Mains", online="1")
    assert (Battery(tmp_path).percent(), Battery(tmp_path).charging()) == (None, None)
    missing = Battery(tmp_path / "no-sysfs")
    assert (missing.percent(), missing.charging()) == (None, None)


def test_folder_camera_takes_one_picture_file(tmp_path: Path) -> None:
    picture = tmp_path / "sign.png"
    picture.write_bytes(png(40, 30))
    with FolderCamera(picture) as camera:
        assert [camera.capture().width for _ in range(2)] == [40, 40]
