"""Encode a Pillow image to bytes in a given format (shared by the detection tests)."""

from __future__ import annotations

import io

from PIL import Image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
