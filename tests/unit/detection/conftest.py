"""Sample photos and image encoders for the detector tests (all generated, nothing committed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_encoding import encode
from PIL import Image

from facepipe.samples import GROUP, NO_FACES, PORTRAIT, sample_images


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = sample_images(tmp_path_factory.mktemp("samples"))
    return {path.name: path for path in paths}


@pytest.fixture(scope="session")
def portrait(samples: dict[str, Path]) -> Image.Image:
    with Image.open(samples[PORTRAIT]) as image:
        return image.convert("RGB")


@pytest.fixture(scope="session")
def group_bytes(samples: dict[str, Path]) -> bytes:
    return samples[GROUP].read_bytes()


@pytest.fixture(scope="session")
def no_faces_bytes(samples: dict[str, Path]) -> bytes:
    return samples[NO_FACES].read_bytes()


@pytest.fixture(scope="session")
def portrait_png(portrait: Image.Image) -> bytes:
    return encode(portrait, "PNG")
