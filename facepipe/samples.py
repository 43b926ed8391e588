"""Sample photos for the demo, tests and benchmarks, written from installed packages.

The photos are the public-domain ones bundled inside scikit-image's wheel (a dev/demo
dependency): nothing is committed to this repository and nothing is downloaded at run time.

- ``portrait.jpg``: NASA astronaut Eileen Collins (one face).
- ``group.jpg``: a 2x2 mosaic of real photos, Collins and "the cameraman", each also mirrored
  (four faces at different positions and sizes).
- ``no_faces.jpg``: a cup of coffee (no face).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

PORTRAIT = "portrait.jpg"
GROUP = "group.jpg"
NO_FACES = "no_faces.jpg"
FACE_COUNTS = {PORTRAIT: 1, GROUP: 4, NO_FACES: 0}
JPEG_QUALITY = 90


class SamplesUnavailableError(RuntimeError):
    """scikit-image (which carries the photos) is not installed."""


def sample_images(dest_dir: str | Path) -> list[Path]:
    """Write the sample photos into ``dest_dir`` (created if needed) and return their paths."""
    from PIL import ImageOps

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    astronaut = _bundled_photo("astronaut.png")
    cameraman = _bundled_photo("camera.png").convert("RGB")
    photos = {
        PORTRAIT: astronaut,
        GROUP: _mosaic(
            [astronaut, cameraman, ImageOps.mirror(cameraman), ImageOps.mirror(astronaut)]
        ),
        NO_FACES: _bundled_photo("coffee.png"),
    }
    paths = []
    for name, photo in photos.items():
        path = dest / name
        photo.convert("RGB").save(path, "JPEG", quality=JPEG_QUALITY)
        paths.append(path)
    return paths


def _bundled_photo(name: str) -> Image.Image:
    from PIL import Image

    try:
        data = resources.files("skimage").joinpath("data", name)
    except ModuleNotFoundError as error:
        raise SamplesUnavailableError(
            "sample photos come from scikit-image's bundled data; "
            "install the dev extra: pip install -e '.[dev]'"
        ) from error
    with data.open("rb") as stream:
        photo = Image.open(stream)
        photo.load()
    return photo


def _mosaic(tiles: list[Image.Image]) -> Image.Image:
    """Tiles (all the same size) two to a row."""
    from PIL import Image

    width, height = tiles[0].size
    rows = (len(tiles) + 1) // 2
    canvas = Image.new("RGB", (2 * width, rows * height), "white")
    for index, tile in enumerate(tiles):
        canvas.paste(tile.convert("RGB"), ((index % 2) * width, (index // 2) * height))
    return canvas
