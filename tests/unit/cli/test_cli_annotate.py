"""Face boxes drawn on a copy of the image, in the displayed (EXIF-upright) frame."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from facepipe.annotate import BOX_COLOUR, annotate_image

# A face in the right half, lower part of the displayed picture.
FACE = {"confidence": 99.5, "box": {"left": 0.5, "top": 0.5, "width": 0.25, "height": 0.25}}


def is_box_colour(pixel: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(pixel[:3], BOX_COLOUR, strict=True))


def grey_jpeg(size: tuple[int, int], orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (128, 128, 128))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def test_box_edges_are_drawn_where_the_face_is(tmp_path: Path) -> None:
    written = annotate_image(grey_jpeg((400, 300)), [FACE], tmp_path / "out.jpg")

    drawn = Image.open(written).convert("RGB")
    assert drawn.size == (400, 300)
    assert is_box_colour(drawn.getpixel((200, 190)))  # left edge (x = 0.5 * 400)
    assert is_box_colour(drawn.getpixel((250, 225)))  # bottom edge (y = 0.75 * 300)
    assert not is_box_colour(drawn.getpixel((250, 190)))  # inside the box: untouched
    assert is_box_colour(drawn.getpixel((205, 140)))  # the label sits above the box


def test_jpeg_with_exif_orientation_is_drawn_upright(tmp_path: Path) -> None:
    """Stored 300x400 with orientation 6 (rotate 90° clockwise): displayed 400x300."""
    written = annotate_image(grey_jpeg((300, 400), orientation=6), [FACE], tmp_path / "up.jpg")

    drawn = Image.open(written).convert("RGB")
    assert drawn.size == (400, 300)
    assert is_box_colour(drawn.getpixel((200, 190)))
    assert is_box_colour(drawn.getpixel((250, 225)))


def test_png_keeps_its_format_and_no_faces_leaves_the_picture_as_it_was(tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.new("RGB", (120, 90), (10, 200, 30)).save(png, "PNG")

    written = annotate_image(png.getvalue(), [], tmp_path / "same.png")

    assert Image.open(written).format == "PNG"
    assert Image.open(written).convert("RGB").tobytes() == Image.open(png).convert("RGB").tobytes()
