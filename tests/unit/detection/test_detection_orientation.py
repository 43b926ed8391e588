"""EXIF orientation is applied as Rekognition applies it: JPEG yes, PNG no."""

from __future__ import annotations

from typing import Any

import pytest
from image_encoding import encode
from PIL import Image

from facepipe.local.detection import detect_faces_in_bytes

ORIENTATION = 0x0112


def only_box(data: bytes) -> dict[str, Any]:
    [face] = detect_faces_in_bytes(data, detector="mtcnn")
    return face["BoundingBox"]


def with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = value
    return exif


def assert_same_box(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in ("Left", "Top", "Width", "Height"):
        assert actual[key] == pytest.approx(expected[key], abs=0.02), key


@pytest.mark.parametrize(
    ("orientation", "stored_as"),
    [
        (6, Image.Transpose.ROTATE_90),  # stored turned left; shown turned right again
        (8, Image.Transpose.ROTATE_270),
        (3, Image.Transpose.ROTATE_180),
    ],
)
def test_jpeg_boxes_describe_the_displayed_image(
    portrait: Image.Image, orientation: int, stored_as: Image.Transpose
) -> None:
    upright = only_box(encode(portrait, "JPEG", quality=95))
    sideways = portrait.transpose(stored_as)
    data = encode(sideways, "JPEG", quality=95, exif=with_orientation(orientation))

    assert_same_box(only_box(data), upright)


def test_rotated_jpeg_with_a_non_square_photo_swaps_width_and_height(
    portrait: Image.Image,
) -> None:
    wide = Image.new("RGB", (900, 512), "white")
    wide.paste(portrait, (0, 0))
    upright = only_box(encode(wide, "JPEG", quality=95))
    stored = wide.transpose(Image.Transpose.ROTATE_90)  # 512 wide, 900 high
    data = encode(stored, "JPEG", quality=95, exif=with_orientation(6))

    assert_same_box(only_box(data), upright)


def test_png_orientation_is_not_applied(portrait: Image.Image) -> None:
    # Rekognition corrects only JPEGs: a PNG's pixels are taken as they are stored.
    upright = only_box(encode(portrait, "PNG"))
    data = encode(portrait, "PNG", exif=with_orientation(6))
    assert Image.open(__import__("io").BytesIO(data)).getexif()[ORIENTATION] == 6

    assert_same_box(only_box(data), upright)
