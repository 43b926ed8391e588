"""Check and decode an image the way Rekognition DetectFaces accepts or refuses it.

Limits are Rekognition's (Guidelines and quotas): JPEG or PNG by content, at most 15 MB as
an S3 object, 80 to 10,000 px on each side. Sizes are read from the header, so an image
with huge dimensions (a decompression bomb) is refused before any pixel is decoded.

EXIF orientation, as Rekognition documents it for DetectFaces: a JPEG whose Exif metadata
carries an orientation is corrected first and the boxes describe the corrected (displayed)
image; PNGs and JPEGs without orientation are not corrected. ``OrientationCorrection`` is
always null today, so there is nothing else to report.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambdas.domain.errors import (
    ImageTooLargeException,
    InvalidImageFormatException,
    InvalidParameterException,
)

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

MAX_IMAGE_BYTES = 15 * 1024 * 1024
MIN_SIDE_PX = 80
MAX_SIDE_PX = 10_000

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Formats people upload by mistake, named so the error says what the file really is.
_OTHER_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x01\x00", "ICO"),
)


@dataclass(frozen=True)
class DecodedImage:
    """Pixels as displayed (RGB, 8 bit) plus the size Rekognition reports boxes against."""

    rgb: np.ndarray
    width: int
    height: int
    format: str  # "JPEG" or "PNG"


def sniff_format(data: bytes) -> str:
    """Return "JPEG" or "PNG" from the magic bytes, or refuse with what the data looks like."""
    if not data:
        raise InvalidImageFormatException("the image is empty (0 bytes)")
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    raise InvalidImageFormatException(
        f"the image is {_describe(data)}; only JPEG and PNG images are supported"
    )


def _describe(data: bytes) -> str:
    for magic, name in _OTHER_MAGICS:
        if data.startswith(magic):
            return f"a {name} file"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP file"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "a HEIC/AVIF file"
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "not a JPEG or PNG (unknown binary data)"
    if "<svg" in text.lower():
        return "an SVG drawing"
    return "text, not an image"


def check_byte_size(size: int) -> None:
    if size > MAX_IMAGE_BYTES:
        # Bytes too: just over the limit would otherwise read "15.0 MB; the limit is 15 MB".
        raise ImageTooLargeException(
            f"the image is {size / 1_048_576:.1f} MB ({size:,} bytes); "
            f"the limit is 15 MB ({MAX_IMAGE_BYTES:,} bytes)"
        )


def check_dimensions(width: int, height: int) -> None:
    if width > MAX_SIDE_PX or height > MAX_SIDE_PX:
        raise InvalidParameterException(
            f"the image is {width}x{height} px; at most {MAX_SIDE_PX:,} px per side is allowed"
        )
    if width < MIN_SIDE_PX or height < MIN_SIDE_PX:
        raise InvalidParameterException(
            f"the image is {width}x{height} px; at least {MIN_SIDE_PX} px per side is required"
        )


def open_checked(data: bytes) -> Image.Image:
    """Open (header only) and check an image; pixels are not decoded yet."""
    from PIL import Image, UnidentifiedImageError

    check_byte_size(len(data))
    expected = sniff_format(data)
    try:
        with warnings.catch_warnings():
            # Pillow warns past 89 Mpx; an image within 10,000 px a side is one Rekognition
            # takes, and one over it is refused just below, so the warning only adds noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_PIL_FORMATS[expected])
    except Image.DecompressionBombError as error:
        raise InvalidParameterException(
            f"the image is {_header_size(data, expected)}, too many pixels to decode safely; "
            f"at most {MAX_SIDE_PX:,} px per side is allowed"
        ) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InvalidImageFormatException(
            f"the {expected} header is corrupt or truncated ({error})"
        ) from error
    check_dimensions(*image.size)
    return image


def _header_size(data: bytes, fmt: str) -> str:
    """ "WxH px" from the header alone (the plugin classes skip Image.open's bomb check)."""
    from PIL import JpegImagePlugin, PngImagePlugin

    opener = PngImagePlugin.PngImageFile if fmt == "PNG" else JpegImagePlugin.JpegImageFile
    try:
        width, height = opener(io.BytesIO(data)).size
    except (OSError, SyntaxError, ValueError):
        return "too large"
    return f"{width}x{height} px"


# Pillow's JPEG opener also returns multi-picture JPEGs from phone cameras (format "MPO").
_PIL_FORMATS = {"JPEG": ("JPEG",), "PNG": ("PNG",)}


def decode(data: bytes, *, max_long_side: int | None = None) -> DecodedImage:
    """Check, decode and orient an image; optionally shrink JPEG decoding toward a size.

    ``max_long_side`` lets JPEG decode at a reduced DCT scale and shrinks any image by a
    whole factor (never below that size) to save time and memory on large photos; callers
    resize the rest of the way. Width/height always describe the full-size displayed image.
    """
    from PIL import ImageOps

    image = open_checked(data)
    fmt = "JPEG" if image.format in ("JPEG", "MPO") else "PNG"
    full_size = image.size
    if fmt == "JPEG" and max_long_side:
        image.draft("RGB", _draft_target(image.size, max_long_side))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidImageFormatException(
            f"the {fmt} data is corrupt or truncated ({error})"
        ) from error
    width, height = full_size
    if fmt == "JPEG":
        orientation = image.getexif().get(0x0112, 1)
        image = ImageOps.exif_transpose(image)
        if orientation in (5, 6, 7, 8):
            width, height = height, width
    if max_long_side:
        image = _reduce(image, max_long_side)
    return DecodedImage(rgb=to_rgb8(image), width=width, height=height, format=fmt)


def _reduce(image: Image.Image, max_long_side: int) -> Image.Image:
    """Shrink by a whole factor (box filter) before the RGB copy, to bound memory."""
    factor = max(image.size) // max_long_side
    if factor < 2:
        return image
    if image.mode == "1":
        image = image.convert("L")
    if image.mode not in _REDUCIBLE_MODES:
        return image
    return image.reduce(factor)


_REDUCIBLE_MODES = {"L", "LA", "RGB", "RGBA", "I", "F", "CMYK"}


def _draft_target(size: tuple[int, int], max_long_side: int) -> tuple[int, int]:
    scale = max_long_side / max(size)
    if scale >= 1:
        return size
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Any PNG/JPEG mode as 8-bit RGB: 16-bit scaled down, alpha composited on white."""
    import numpy as np
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: Pillow's own convert would clip at 255 (a white image).
        gray16 = np.asarray(image, dtype=np.uint32)
        gray8 = (np.clip(gray16, 0, 65535) // 257).astype(np.uint8)
        return np.repeat(gray8[:, :, None], 3, axis=2)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels are shown as a page would show them: on white.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"))
