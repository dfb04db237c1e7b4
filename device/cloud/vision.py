"""Preparing a camera frame for a vision model: small, upright, plain RGB JPEG, no metadata.

A vision model does not need 8 megapixels to say what is on a shelf, and every byte goes over the
wearer's Wi-Fi (and through the egress gate), so a frame is cut to at most 768 pixels on its
longest side before it leaves. On the way it is turned upright (the EXIF orientation a phone
writes is applied), flattened to RGB (a PNG's transparency on white), and re-encoded without
any metadata: no EXIF, no GPS position, no camera serial, no comment leaves the device. Colour
profiles are dropped too; models assume sRGB.

Cost, measured on the x86-64 build machine (2 cores of an AMD EPYC, Pillow 13; median of 10
runs with ``time.perf_counter``, three repeats) with camera-like frames (colour gradients plus
sensor-like noise, saved at JPEG quality 90), default ``max_side=768``, ``quality=80``:

=====================  ============  ===============  ==================  ============
input                  file          prepare_image    without ``draft``   output
=====================  ============  ===============  ==================  ============
1280x960 JPEG          438,776 B     26-34 ms         (the same path)     57,653 B
3280x2464 JPEG (8 MP)  2,873,508 B   42-50 ms         170-217 ms          39,737 B
=====================  ============  ===============  ==================  ============

Most of the cost is decoding, so JPEGs are decoded at reduced size with ``Image.draft``: libjpeg
scales by 1/2, 1/4 or 1/8 inside the decoder, so the 8 MP frame is decoded straight to 820x616
(about 4x faster here) and never exists at full size in the Pi's 512 MB. A 1280x960 frame is
under twice 768 pixels, so draft cannot help and it is decoded whole. A Pi Zero 2 W's Cortex-A53
is several times slower than this machine (not measured here), so what draft saves there is
larger in absolute time.
The output is smaller for the 8 MP frame because downscaling averages away its noise.

Example::

    from pathlib import Path
    from device.cloud.vision import data_url, prepare_image

    jpeg = prepare_image(Path("frame.jpg").read_bytes())
    message = {"type": "image_url", "image_url": {"url": data_url(jpeg)}}
"""

from __future__ import annotations

import base64
import io
import logging
import struct

from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

__all__ = ["MAX_PIXELS", "data_url", "prepare_image"]

log = logging.getLogger(__name__)

# Refuse to decode more than this many pixels (after draft): 40 MP in RGBA is 160 MB of the
# Pi Zero 2 W's 512 MB. Camera JPEGs of any size are fine, since draft decodes them small.
MAX_PIXELS = 40_000_000
EXIF_ORIENTATION = 0x0112
QUARTER_TURNS = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
_UNREADABLE = "not a picture ZeroPin can read"


def prepare_image(data: bytes, max_side: int = 768, quality: int = 80) -> bytes:
    """Re-encode a JPEG or PNG as a JPEG for a vision model (see the module docstring).

    The longest side becomes at most ``max_side`` pixels (never upscaled); ``quality`` is the
    JPEG quality, 1 to 95. Raises ValueError("not a picture ZeroPin can read: ...") for
    anything that is not a readable JPEG or PNG.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be 1 or more, not {max_side}")
    if not 1 <= quality <= 95:
        raise ValueError(f"quality must be between 1 and 95, not {quality}")
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as original:
            size = _fit(original.size, max_side)  # as stored, before turning upright
            if isinstance(original, JpegImageFile):
                original.draft("RGB", size)  # libjpeg decodes at 1/2, 1/4 or 1/8 when it can
            if original.width * original.height > MAX_PIXELS:
                width, height = original.size
                raise ValueError(f"{width}x{height} is more than {MAX_PIXELS:,} pixels")
            if original.getexif().get(EXIF_ORIENTATION) in QUARTER_TURNS:
                size = (size[1], size[0])
            # In place and without a copy for a frame already upright and RGB: at the daemon's
            # peak (a photo turn) each full-size copy of a 1280x960 frame is 4.9 MB.
            ImageOps.exif_transpose(original, in_place=True)  # loads, turns upright
            image = _flatten(original)
            if image.size != size:
                image = image.resize(size, Image.Resampling.LANCZOS)
            image.info.clear()  # Pillow would copy some of it (the JPEG comment) into the output
            out = io.BytesIO()
            image.save(out, "JPEG", quality=quality)  # before the file, and its pixels, close
    except UnidentifiedImageError:
        raise ValueError(f"{_UNREADABLE}: neither a JPEG nor a PNG") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise ValueError(f"{_UNREADABLE}: {exc}") from exc
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{_UNREADABLE}: {exc}") from exc
    jpeg = out.getvalue()
    log.debug("prepared a %dx%d picture: %d bytes in, %d out", *image.size, len(data), len(jpeg))
    return jpeg


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled so its longest side is at most ``max_side``, keeping the aspect ratio."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _flatten(image: Image.Image) -> Image.Image:
    """``image`` in 8-bit RGB, any transparency composited on white."""
    if image.mode.startswith("I"):  # 16-bit greyscale PNG: 0..65535, which RGB would clip
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def data_url(jpeg: bytes) -> str:
    """``jpeg`` as a ``data:image/jpeg;base64,...`` URL for a chat message's ``image_url``.

    ValueError when ``jpeg`` is not a JPEG (use :func:`prepare_image` first).
    """
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("data_url needs a JPEG; prepare the picture with prepare_image first")
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
