"""Uploading an image to the stack's bucket under its upload prefix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.domain.model import IMAGE_SUFFIXES

_CONTENT_TYPES = dict(zip(IMAGE_SUFFIXES, ("image/jpeg", "image/jpeg", "image/png"), strict=True))


@dataclass(frozen=True)
class UploadedImage:
    bucket: str
    key: str
    version_id: str | None


def upload_image(s3: Any, bucket: str, prefix: str, image: Path) -> UploadedImage:
    """PutObject ``prefix + file name``; a clear ValueError for a file the pipeline refuses."""
    content_type = _CONTENT_TYPES.get(image.suffix.lower())
    if content_type is None:
        raise ValueError(f"{image}: only .jpg, .jpeg and .png files are processed by the pipeline")
    if not image.is_file():
        raise ValueError(f"{image}: no such file")
    key = prefix + image.name
    with image.open("rb") as body:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return UploadedImage(bucket, key, answer.get("VersionId"))
