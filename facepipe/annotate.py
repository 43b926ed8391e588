"""A copy of an image with its face boxes and confidence labels drawn on it.

Boxes are fractions of the image as displayed: like Rekognition (and the local detector), a
JPEG is turned upright by its EXIF orientation first, a PNG is taken as stored. The copy is
written upright, so the boxes sit on the faces in any viewer.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

BOX_COLOUR = (255, 64, 64)
LABEL_TEXT_COLOUR = (255, 255, 255)
JPEG_QUALITY = 90


def displayed_image(data: bytes) -> Image.Image:
    """The image as the detector saw it: JPEG upright by EXIF, PNG as stored, in RGB."""
    from PIL import Image, ImageOps

    opened = Image.open(io.BytesIO(data))
    if opened.format in ("JPEG", "MPO"):
        return ImageOps.exif_transpose(opened).convert("RGB")
    return opened.convert("RGB")


def draw_faces(image: Image.Image, faces: list[dict[str, Any]]) -> Image.Image:
    """Draw each face summary's ``box`` (fractions) and ``confidence`` (percent) on a copy."""
    from PIL import ImageDraw, ImageFont

    canvas = image.copy()
    draw = ImageDraw.Draw(canvas)
    width, height = canvas.size
    line = max(2, round(min(width, height) / 200))
    font = ImageFont.load_default(size=max(12, round(min(width, height) / 30)))
    for face in faces:
        box = face.get("box", {})
        left, top = box.get("left", 0.0) * width, box.get("top", 0.0) * height
        right = left + box.get("width", 0.0) * width
        bottom = top + box.get("height", 0.0) * height
        draw.rectangle((left, top, right, bottom), outline=BOX_COLOUR, width=line)
        label = f"{float(face.get('confidence', 0.0)):.1f}%"
        text_box = draw.textbbox((0, 0), label, font=font)
        text_height = text_box[3] - text_box[1] + 2 * line
        # Above the box, or inside its top edge when the box touches the top of the picture.
        label_top = top - text_height if top >= text_height else top
        draw.rectangle(
            (left, label_top, left + text_box[2] + 2 * line, label_top + text_height),
            fill=BOX_COLOUR,
        )
        draw.text(
            (left + line, label_top + line - text_box[1]), label, fill=LABEL_TEXT_COLOUR, font=font
        )
    return canvas


def annotate_image(data: bytes, faces: list[dict[str, Any]], destination: Path) -> Path:
    """Write the image with ``faces`` drawn (PNG for .png, else JPEG) at ``destination``, or
    beside it as "name (2).jpg" and so on when that name is taken: never over a file."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():  # the pipeline has checked its size (at most 10,000 px)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        drawn = draw_faces(displayed_image(data), faces)
    destination.parent.mkdir(parents=True, exist_ok=True)
    encoded = io.BytesIO()
    if destination.suffix.lower() == ".png":
        drawn.save(encoded, "PNG")
    else:
        drawn.save(encoded, "JPEG", quality=JPEG_QUALITY)
    return write_new_file(destination, encoded.getvalue())


def write_new_file(destination: Path, data: bytes) -> Path:
    """Write ``data`` to ``destination``, or the first free "stem (n)suffix" beside it."""
    for number in range(1, 10_000):
        name = (
            destination if number == 1 else destination.with_stem(f"{destination.stem} ({number})")
        )
        try:
            with open(name, "xb") as out:  # x: fails if the name exists, never replaces
                out.write(data)
        except FileExistsError:
            continue
        return name
    raise FileExistsError(f"no free name beside {destination}")
