"""prepare_image and data_url on pictures made with Pillow: sizes, orientation, alpha, metadata."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from PIL import ExifTags, Image
from PIL.JpegImagePlugin import JpegImageFile

from device.cloud import vision
from device.cloud.vision import data_url, prepare_image

RED, BLUE, GREEN, WHITE = (220, 20, 20), (20, 20, 220), (20, 200, 20), (255, 255, 255)


def gradient(width: int, height: int) -> Image.Image:
    """Red rising left to right, green rising top to bottom: where a pixel came from shows."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack(
        [255 * x / (width - 1), 255 * y / (height - 1), np.full(x.shape, 128.0)], axis=-1
    )
    return Image.fromarray(pixels.astype(np.uint8))


def halves(width: int, height: int, left: tuple[int, ...], right: tuple[int, ...]) -> Image.Image:
    mode = "RGBA" if len(left) == 4 else "RGB"
    image = Image.new(mode, (width, height), right)
    image.paste(left, (0, 0, width // 2, height))
    return image


def encode(image: Image.Image, kind: str = "JPEG", **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(pixel: Any, colour: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


# --- size --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((3280, 2464), (768, 577)),  # Pi camera v2 full frame
        ((1280, 960), (768, 576)),
        ((960, 1280), (576, 768)),
        ((768, 100), (768, 100)),
        ((100, 50), (100, 50)),  # small pictures are never upscaled
    ],
)
def test_longest_side_is_cut_to_max_side(size: tuple[int, int], expected: tuple[int, int]) -> None:
    out = decode(prepare_image(encode(gradient(*size), quality=90)))
    assert out.format == "JPEG"
    assert out.mode == "RGB"
    assert out.size == expected


def test_the_picture_is_scaled_not_cropped() -> None:
    out = decode(prepare_image(encode(gradient(3280, 2464), quality=95)))
    width, height = out.size
    assert near(out.getpixel((0, 0)), (0, 0, 128))
    assert near(out.getpixel((width - 1, 0)), (255, 0, 128))
    assert near(out.getpixel((0, height - 1)), (0, 255, 128))
    assert near(out.getpixel((width // 2, height // 2)), (128, 128, 128))


def test_max_side_and_quality_are_honoured() -> None:
    data = encode(gradient(1280, 960))
    assert decode(prepare_image(data, max_side=200)).size == (200, 150)
    assert len(prepare_image(data, quality=20)) < len(prepare_image(data, quality=90))


def test_big_jpegs_are_decoded_at_reduced_size(monkeypatch: pytest.MonkeyPatch) -> None:
    requested: list[tuple[Any, ...]] = []
    real_draft = JpegImageFile.draft

    def spy(self: JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> Any:
        requested.append((mode, size))
        result = real_draft(self, mode, size)
        requested.append(self.size)
        return result

    monkeypatch.setattr(JpegImageFile, "draft", spy)
    assert decode(prepare_image(encode(gradient(3280, 2464)))).size == (768, 577)
    assert requested == [("RGB", (768, 577)), (820, 616)]  # libjpeg decoded a quarter size


def test_too_many_pixels_is_refused_but_a_big_jpeg_decodes_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vision, "MAX_PIXELS", 600_000)
    with pytest.raises(ValueError, match="not a picture ZeroPin can read: 1280x960 is more than"):
        prepare_image(encode(gradient(1280, 960), "PNG"))
    assert decode(prepare_image(encode(gradient(3280, 2464)))).size == (768, 577)  # 820x616


# --- orientation, colour, alpha ----------------------------------------------------------------


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return encode(image, quality=95, exif=exif)


@pytest.mark.parametrize("size", [(400, 200), (3280, 2464)])
def test_exif_orientation_is_applied(size: tuple[int, int]) -> None:
    # Stored sideways, red on the left; orientation 6 means "turn 90 degrees clockwise to view",
    # which brings the left side to the top.
    data = with_orientation(halves(*size, RED, BLUE), 6)
    out = decode(prepare_image(data))
    width, height = out.size
    assert height > width
    assert max(out.size) == min(768, max(size))
    assert near(out.getpixel((width // 2, height // 4)), RED)
    assert near(out.getpixel((width // 2, 3 * height // 4)), BLUE)
    assert ExifTags.Base.Orientation not in out.getexif()  # not turned twice by a viewer


def test_upside_down_is_turned_upright() -> None:
    out = decode(prepare_image(with_orientation(halves(400, 200, RED, BLUE), 3)))
    assert out.size == (400, 200)
    assert near(out.getpixel((100, 100)), BLUE)
    assert near(out.getpixel((300, 100)), RED)


def test_png_alpha_is_composited_on_white() -> None:
    transparent, opaque_green = (0, 0, 0, 0), (*GREEN, 255)
    out = decode(prepare_image(encode(halves(200, 100, transparent, opaque_green), "PNG")))
    assert out.mode == "RGB"
    assert near(out.getpixel((50, 50)), WHITE)
    assert near(out.getpixel((150, 50)), GREEN)


def test_palette_png_with_a_transparent_colour_is_composited_on_white() -> None:
    image = Image.new("P", (200, 100), 1)
    image.putpalette([*RED, *GREEN])
    image.paste(0, (0, 0, 100, 100))  # the left half in colour 0, red, made transparent below
    out = decode(prepare_image(encode(image, "PNG", transparency=0)))
    assert near(out.getpixel((50, 50)), WHITE)
    assert near(out.getpixel((150, 50)), GREEN)


def test_greyscale_pictures_come_out_rgb() -> None:
    out = decode(prepare_image(encode(gradient(300, 200).convert("L"))))
    assert out.mode == "RGB"
    sixteen_bit = Image.fromarray(np.full((50, 80), 32768, dtype=np.uint16))
    out = decode(prepare_image(encode(sixteen_bit, "PNG")))
    assert near(out.getpixel((40, 25)), (128, 128, 128), tolerance=2)  # not clipped to white


# --- metadata ----------------------------------------------------------------------------------


def test_no_metadata_leaves_the_device() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "ZeroPinTestCam"
    exif[ExifTags.Base.BodySerialNumber] = "SERIAL-0042"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 26.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 39.0)
    data = encode(gradient(640, 480), exif=exif, comment=b"taken at home", dpi=(300, 300))
    before = decode(data)
    assert before.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert before.info["comment"] == b"taken at home"

    out = prepare_image(data)
    after = decode(out)
    assert dict(after.getexif()) == {}
    assert after.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert not {"exif", "comment", "icc_profile", "xmp"} & set(after.info)
    for secret in (b"Exif", b"ZeroPinTestCam", b"SERIAL-0042", b"taken at home"):
        assert secret not in out


# --- refusals ----------------------------------------------------------------------------------


def truncated_jpeg() -> bytes:
    data = encode(gradient(640, 480))
    return data[: len(data) // 2]


def broken_png() -> bytes:
    data = encode(gradient(64, 48), "PNG")
    return data[:60] + bytes(len(data) - 60)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "neither a JPEG nor a PNG"),
        (b"definitely not a picture", "neither a JPEG nor a PNG"),
        (encode(gradient(32, 32), "GIF"), "neither a JPEG nor a PNG"),
        (truncated_jpeg(), ""),
        (broken_png(), ""),
        (b"\xff\xd8\xff\xe0 a JPEG header and nothing else", ""),
    ],
    ids=["empty", "text", "gif", "truncated-jpeg", "broken-png", "header-only"],
)
def test_junk_is_refused_with_a_clear_value_error(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^not a picture ZeroPin can read: {reason}"):
        prepare_image(data)


@pytest.mark.parametrize(
    "options", [{"max_side": 0}, {"quality": 0}, {"quality": 96}], ids=["side", "q0", "q96"]
)
def test_bad_options_are_refused(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        prepare_image(encode(gradient(10, 10)), **options)


# --- data_url ----------------------------------------------------------------------------------


def test_data_url_carries_the_jpeg() -> None:
    jpeg = prepare_image(encode(gradient(100, 80)))
    url = data_url(jpeg)
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    assert base64.b64decode(url[len(prefix) :], validate=True) == jpeg


def test_data_url_wants_a_jpeg() -> None:
    with pytest.raises(ValueError, match="prepare_image"):
        data_url(encode(gradient(10, 10), "PNG"))
