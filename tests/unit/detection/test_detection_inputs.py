"""Every kind of bad (or merely unusual) input gets Rekognition's answer and a clear reason."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from image_encoding import encode
from PIL import Image

from facepipe.local.detection import detect_faces_in_bytes
from lambdas.domain.errors import (
    ImageTooLargeException,
    InvalidImageFormatException,
    InvalidParameterException,
)


def test_empty_image() -> None:
    with pytest.raises(InvalidImageFormatException, match="empty"):
        detect_faces_in_bytes(b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image(portrait: Image.Image, fmt: str) -> None:
    data = encode(portrait, fmt)

    with pytest.raises(InvalidImageFormatException, match="corrupt or truncated"):
        detect_faces_in_bytes(data[: len(data) // 2])


def test_header_only_jpeg_is_corrupt() -> None:
    with pytest.raises(InvalidImageFormatException, match=r"JPEG .*corrupt or truncated"):
        detect_faces_in_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 200)


def test_text_is_not_an_image() -> None:
    with pytest.raises(InvalidImageFormatException, match="text, not an image"):
        detect_faces_in_bytes(b"name,age\nada,36\n")


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "BMP", "TIFF"])
def test_other_image_formats_are_refused_by_content(portrait: Image.Image, fmt: str) -> None:
    data = encode(portrait, fmt)
    shown = "WebP" if fmt == "WEBP" else fmt

    with pytest.raises(InvalidImageFormatException, match=f"a {shown} file; only JPEG and PNG"):
        detect_faces_in_bytes(data)


def test_over_15_mb_is_too_large() -> None:
    noise = np.random.default_rng(7).integers(0, 256, (2300, 2300, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "PNG", compress_level=0)
    assert len(data) > 15 * 1024 * 1024

    with pytest.raises(ImageTooLargeException, match="the limit is 15 MB"):
        detect_faces_in_bytes(data)


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ((10_001, 120), "10001x120 px; at most 10,000"),
        ((120, 10_001), "120x10001 px; at most 10,000"),
        ((79, 200), "79x200 px; at least 80"),
        ((200, 79), "200x79 px; at least 80"),
    ],
)
def test_sides_outside_rekognition_limits(size: tuple[int, int], message: str) -> None:
    data = encode(Image.new("L", size, 128), "PNG")

    with pytest.raises(InvalidParameterException, match=message):
        detect_faces_in_bytes(data)


def test_smallest_and_largest_allowed_sides_pass() -> None:
    assert detect_faces_in_bytes(encode(Image.new("L", (80, 80), 128), "PNG")) == []
    assert detect_faces_in_bytes(encode(Image.new("L", (10_000, 80), 128), "PNG")) == []


def png_bomb(side: int) -> bytes:
    """A real 1-bit PNG of side x side black pixels: ~100 KB that decode to side**2 pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


# Peak memory from VmHWM, not ru_maxrss: Linux carries ru_maxrss across execve, so a child of
# a big pytest process would report the parent's size.
BOMB_CHECK = """
import re, sys
from facepipe.local.detection import detect_faces_in_bytes
from lambdas.domain.errors import InvalidParameterException
data = open(sys.argv[1], "rb").read()
try:
    detect_faces_in_bytes(data)
except InvalidParameterException as error:
    print("refused:", error.reason)
status = open("/proc/self/status").read()
print("peak_mb", int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024)
"""


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(30_000))  # 900 million pixels: 2.7 GB as RGB
    assert bomb.stat().st_size < 1_000_000

    run = subprocess.run(
        [sys.executable, "-c", BOMB_CHECK, str(bomb)], capture_output=True, text=True, check=True
    )

    assert "refused: " in run.stdout and "10,000 px per side" in run.stdout
    peak_mb = int(run.stdout.split("peak_mb")[1])
    assert peak_mb < 400, f"the bomb was decoded: peak memory {peak_mb} MB"


def test_png_data_named_jpg_is_valid(portrait: Image.Image, tmp_path: Path) -> None:
    named_jpg = tmp_path / "photo.jpg"
    named_jpg.write_bytes(encode(portrait, "PNG"))

    assert len(detect_faces_in_bytes(named_jpg.read_bytes())) == 1


@pytest.mark.parametrize(
    ("label", "convert"),
    [
        ("CMYK JPEG", lambda im: encode(im.convert("CMYK"), "JPEG", quality=92)),
        ("grayscale JPEG", lambda im: encode(im.convert("L"), "JPEG", quality=92)),
        ("grayscale PNG", lambda im: encode(im.convert("L"), "PNG")),
        ("palette PNG", lambda im: encode(im.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")),
    ],
)
def test_unusual_but_valid_modes_find_the_face(
    portrait: Image.Image, label: str, convert: Callable[[Image.Image], bytes]
) -> None:
    faces = detect_faces_in_bytes(convert(portrait))

    assert len(faces) == 1, label


def test_16_bit_png_is_scaled_not_clipped(portrait: Image.Image) -> None:
    gray16 = np.asarray(portrait.convert("L"), dtype=np.uint16) * 257
    image = Image.fromarray(gray16)
    assert image.mode == "I;16"

    faces = detect_faces_in_bytes(encode(image, "PNG"))

    assert len(faces) == 1
    assert 20 < faces[0]["Quality"]["Brightness"] < 90  # clipping would make it white


def test_png_with_alpha_is_shown_on_white(portrait: Image.Image) -> None:
    rgba = portrait.convert("RGBA")
    alpha = Image.new("L", rgba.size, 0)
    alpha.paste(255, (100, 20, 412, 400))  # the astronaut's head and shoulders stay opaque
    rgba.putalpha(alpha)

    faces = detect_faces_in_bytes(encode(rgba, "PNG"))

    assert len(faces) == 1


def test_unknown_attributes_value() -> None:
    with pytest.raises(InvalidParameterException, match="DEFAULT, ALL"):
        detect_faces_in_bytes(b"\xff\xd8\xff", attributes="EVERYTHING")


def test_random_binary_is_named_unknown() -> None:
    with pytest.raises(InvalidImageFormatException, match="unknown binary data"):
        detect_faces_in_bytes(os.urandom(64).replace(b"\xff", b"\xfe") + b"\xff\xfe\x80")
