"""The bad-input corpus: every kind of troublesome upload, generated (no binary fixtures in git).

Each ``BadInput`` says what a person uploads (key and bytes) and how the pipeline must end:
a FAILED record with Rekognition's error name and a reason a person understands, or a correct
result where the input is valid. The same corpus runs offline (local detector) and through the
Lambda handlers (Rekognition stubbed with what the service answers for that input).

Bad files carry an image name (``.jpg``/``.png``) on purpose, so their content is what gets
them refused; a file not named as an image is refused by name in Detect before Rekognition is
called (tests/unit/lambdas/test_lambda_state_machine_run.py).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from facepipe.samples import GROUP, NO_FACES, PORTRAIT, sample_images

INVALID_FORMAT = "InvalidImageFormatException"
TOO_LARGE = "ImageTooLargeException"
INVALID_PARAMETER = "InvalidParameterException"
OBJECT_GONE = "InvalidS3ObjectException"

# What Rekognition DetectFaces answers for each error (its documented/observed messages).
REKOGNITION_MESSAGES = {
    INVALID_FORMAT: "Request has invalid image format",
    TOO_LARGE: "Image size is too large",
    INVALID_PARAMETER: "Request has invalid parameters",
    OBJECT_GONE: (
        "Unable to get object metadata from S3. Check object key, region and/or access permissions."
    ),
}

ORIENTATION_TAG = 0x0112
MAX_IMAGE_BYTES = 15 * 1024 * 1024
MOSAIC_SIDE = 10  # a 10x10 mosaic: 100 faces

# Every kind the corpus holds, in upload order (tests are parametrized by these names).
KINDS = (
    "empty file",
    "truncated JPEG",
    "truncated PNG",
    "text named .jpg",
    "PNG named .jpg",
    "GIF",
    "WebP",
    "BMP",
    "TIFF",
    "HEIC",
    "SVG",
    "decompression bomb",
    "over 15 MB",
    "over 10,000 px on a side",
    "under 80 px",
    "CMYK JPEG",
    "16-bit PNG",
    "grayscale",
    "PNG with alpha",
    "EXIF-rotated photo",
    "key with spaces",
    "key with +",
    "key with %",
    "unicode key",
    "key with ../",
    "key deleted before detection",
    "zero-face image",
    "100-face image",
)


@dataclass(frozen=True)
class BadInput:
    """One upload and how it must end.

    ``error`` is None for valid input; then the record is DETECTED with ``faces`` faces
    (``faces_at_least`` loosens it for the 100-face mosaic). ``reason`` is text the FAILED
    record's reason must contain (the local detector's words for what is wrong).
    """

    kind: str
    key: str
    data: bytes
    error: str | None = None
    reason: str = ""
    faces: int = 0
    faces_at_least: int | None = None
    deleted_before_detection: bool = False

    @property
    def valid(self) -> bool:
        return self.error is None


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_bomb(side: int) -> bytes:
    """A real 1-bit PNG of side x side black pixels: ~100 KB that decode to side**2 pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def pad_jpeg(jpeg: bytes, total: int) -> bytes:
    """A still-valid JPEG grown past ``total`` bytes with comment (COM) segments after SOI."""
    body = b"\x00" * 65_533  # a segment's length field counts itself: at most 65,535
    segment = b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body
    count = (total - len(jpeg)) // len(segment) + 1
    return jpeg[:2] + segment * count + jpeg[2:]


def heic_header() -> bytes:
    """The start of a HEIC file: an ISO-BMFF ``ftyp`` box with brand ``heic`` (then a meta box)."""
    ftyp = b"ftyp" + b"heic" + struct.pack(">I", 0) + b"mif1heicmiaf"
    meta = b"meta" + b"\x00" * 28
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", len(meta) + 4) + meta


SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400">
  <circle cx="200" cy="200" r="150" fill="#f2c9a0"/>
  <circle cx="150" cy="170" r="15"/><circle cx="250" cy="170" r="15"/>
  <path d="M140 260 Q200 310 260 260" stroke="black" fill="none" stroke-width="8"/>
</svg>
"""


def face_mosaic(portrait: Image.Image, group: Image.Image) -> Image.Image:
    """A 10x10 mosaic of the sample photos' faces (cropped close so each face stays large).

    2000 px square: the local detector works at 960 px, where each face is still ~45 px wide.
    """
    astronaut = portrait.crop((123, 16, 323, 216))
    cameraman = group.crop((663, 81, 813, 231)).resize((200, 200))  # top-right tile of group
    tiles = [astronaut, ImageOps.mirror(astronaut), cameraman, ImageOps.mirror(cameraman)]
    canvas = Image.new("RGB", (200 * MOSAIC_SIDE, 200 * MOSAIC_SIDE), "white")
    for index in range(MOSAIC_SIDE * MOSAIC_SIDE):
        row, column = divmod(index, MOSAIC_SIDE)
        canvas.paste(tiles[(index + row) % len(tiles)], (column * 200, row * 200))
    return canvas


def with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = value
    return exif


def sixteen_bit_gray(portrait: Image.Image) -> Image.Image:
    gray16 = np.asarray(portrait.convert("L"), dtype=np.uint16) * 257
    return Image.fromarray(gray16)


def with_alpha(portrait: Image.Image) -> Image.Image:
    """Transparent around the astronaut's head and shoulders."""
    rgba = portrait.convert("RGBA")
    alpha = Image.new("L", rgba.size, 0)
    alpha.paste(255, (100, 20, 412, 400))
    rgba.putalpha(alpha)
    return rgba


def noise_png(width: int, height: int) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (height, width), dtype=np.uint8)
    return encode(Image.fromarray(pixels), "PNG")


def build_corpus(workdir: Path) -> list[BadInput]:
    """Every kind, generated from the sample photos into memory (``workdir`` holds the photos)."""
    photos = {path.name: path for path in sample_images(workdir)}
    portrait_jpeg = photos[PORTRAIT].read_bytes()
    with Image.open(photos[PORTRAIT]) as opened:
        portrait = opened.convert("RGB")
    with Image.open(photos[GROUP]) as opened:
        group = opened.convert("RGB")
    gray_text = b"name,age\nada,36\ngrace,45\n" * 20
    kinds = [
        BadInput("empty file", "uploads/empty.jpg", b"", INVALID_FORMAT, "empty (0 bytes)"),
        BadInput(
            "truncated JPEG",
            "uploads/truncated.jpg",
            portrait_jpeg[: len(portrait_jpeg) // 2],
            INVALID_FORMAT,
            "JPEG data is corrupt or truncated",
        ),
        BadInput(
            "truncated PNG",
            "uploads/truncated.png",
            encode(portrait, "PNG")[:20_000],
            INVALID_FORMAT,
            "PNG data is corrupt or truncated",
        ),
        BadInput(
            "text named .jpg", "uploads/notes.jpg", gray_text, INVALID_FORMAT, "text, not an image"
        ),
        BadInput("PNG named .jpg", "uploads/really-a-png.jpg", encode(portrait, "PNG"), faces=1),
        BadInput(
            "GIF", "uploads/animation.jpg", encode(portrait, "GIF"), INVALID_FORMAT, "a GIF file"
        ),
        BadInput(
            "WebP", "uploads/phone.jpg", encode(portrait, "WEBP"), INVALID_FORMAT, "a WebP file"
        ),
        BadInput("BMP", "uploads/scan.png", encode(portrait, "BMP"), INVALID_FORMAT, "a BMP file"),
        BadInput(
            "TIFF", "uploads/scan.jpeg", encode(portrait, "TIFF"), INVALID_FORMAT, "a TIFF file"
        ),
        BadInput("HEIC", "uploads/IMG_0001.jpg", heic_header(), INVALID_FORMAT, "a HEIC"),
        BadInput("SVG", "uploads/smiley.png", SVG, INVALID_FORMAT, "an SVG drawing"),
        BadInput(
            "decompression bomb",
            "uploads/bomb.png",
            png_bomb(30_000),  # ~100 KB, 900 million pixels
            INVALID_PARAMETER,
            "30000x30000 px, too many pixels to decode safely; at most 10,000 px per side",
        ),
        BadInput(
            "over 15 MB",
            "uploads/huge.jpg",
            pad_jpeg(portrait_jpeg, MAX_IMAGE_BYTES + 1),
            TOO_LARGE,
            "the limit is 15 MB",
        ),
        BadInput(
            "over 10,000 px on a side",
            "uploads/panorama.png",
            noise_png(10_001, 120),
            INVALID_PARAMETER,
            "10001x120 px; at most 10,000 px per side",
        ),
        BadInput(
            "under 80 px",
            "uploads/thumbnail.png",
            encode(portrait.resize((79, 79)), "PNG"),
            INVALID_PARAMETER,
            "79x79 px; at least 80 px per side",
        ),
        BadInput(
            "CMYK JPEG",
            "uploads/print.jpg",
            encode(portrait.convert("CMYK"), "JPEG", quality=92),
            faces=1,
        ),
        BadInput(
            "16-bit PNG", "uploads/scan16.png", encode(sixteen_bit_gray(portrait), "PNG"), faces=1
        ),
        BadInput(
            "grayscale",
            "uploads/gray.jpg",
            encode(portrait.convert("L"), "JPEG", quality=92),
            faces=1,
        ),
        BadInput(
            "PNG with alpha", "uploads/cutout.png", encode(with_alpha(portrait), "PNG"), faces=1
        ),
        BadInput(
            "EXIF-rotated photo",
            "uploads/rotated.jpg",
            # Stored turned left; orientation 6 tells viewers to turn it right again.
            encode(
                portrait.transpose(Image.Transpose.ROTATE_90),
                "JPEG",
                quality=95,
                exif=with_orientation(6),
            ),
            faces=1,
        ),
        BadInput("key with spaces", "uploads/team photo 2026.jpg", portrait_jpeg, faces=1),
        BadInput("key with +", "uploads/alice+bob.jpg", portrait_jpeg, faces=1),
        BadInput("key with %", "uploads/100% real %2B.jpg", portrait_jpeg, faces=1),
        BadInput("unicode key", "uploads/Grüße aus Köln 👋.jpg", portrait_jpeg, faces=1),
        BadInput("key with ../", "uploads/../../etc/passwd.jpg", portrait_jpeg, faces=1),
        BadInput(
            "key deleted before detection",
            "uploads/deleted.jpg",
            portrait_jpeg,
            OBJECT_GONE,
            "no object at s3://",
            deleted_before_detection=True,
        ),
        BadInput("zero-face image", "uploads/coffee.jpg", photos[NO_FACES].read_bytes(), faces=0),
        BadInput(
            "100-face image",
            "uploads/class of 2026.jpg",
            encode(face_mosaic(portrait, group), "JPEG", quality=90),
            faces=100,
            faces_at_least=95,
        ),
    ]
    if tuple(item.kind for item in kinds) != KINDS:
        raise ValueError("build_corpus and KINDS disagree; keep them in the same order")
    return kinds
