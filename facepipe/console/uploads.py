"""Checks on an uploaded image before anything is stored: size, content, object key.

The size is refused from Content-Length before the body is read, and the body is read with
a cap so a lying or missing Content-Length cannot make the server hold more than the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import PurePosixPath

from facepipe.console.source import UploadRefused
from facepipe.local.intake import safe_name

# Rekognition's limit for an image in S3 (DetectFaces); larger ones would only fail there.
MAX_UPLOAD_BYTES = 15 * 1024 * 1024

_SIGNATURES = {
    b"\xff\xd8\xff": ("image/jpeg", (".jpg", ".jpeg")),
    b"\x89PNG\r\n\x1a\n": ("image/png", (".png",)),
}


def refuse_declared_size(content_length: str | None, limit: int) -> None:
    if content_length is None:
        return  # chunked: the streaming cap still applies
    try:
        declared = int(content_length)
    except ValueError:
        raise UploadRefused("the Content-Length header is not a number") from None
    if declared > limit:
        raise UploadRefused(_too_large(declared, limit), status_code=413)


async def read_capped(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, or UploadRefused (413) as soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in chunks:
        body.extend(chunk)
        if len(body) > limit:
            message = f"the image is larger than the limit of {_human(limit)}"
            raise UploadRefused(message, status_code=413)
    return bytes(body)


def sniff_image(data: bytes) -> tuple[str, tuple[str, ...]] | None:
    """The content type and file extensions of a JPEG or PNG by its first bytes, else None."""
    for magic, found in _SIGNATURES.items():
        if data.startswith(magic):
            return found
    return None


def image_type(data: bytes, filename: str) -> tuple[str, tuple[str, ...]]:
    """The content type and file extensions of a JPEG or PNG, by its first bytes."""
    if not data:
        raise UploadRefused(f"{filename!r} is empty")
    found = sniff_image(data)
    if found is not None:
        return found
    raise UploadRefused(
        f"{filename!r} is not a JPEG or PNG image (its content says otherwise);"
        " the pipeline detects faces in JPEG and PNG files only",
        status_code=415,
    )


def upload_key(prefix: str, filename: str, extensions: tuple[str, ...]) -> str:
    """``prefix`` + the file's own name (no folders), cleaned as the CLI cleans a key's parts,
    ending in an extension the rule matches."""
    name = safe_name(PurePosixPath(filename.replace("\\", "/")).name) or "upload"
    if PurePosixPath(name).suffix.lower() not in extensions:
        name += extensions[0]
    return prefix + name


def _too_large(size: int, limit: int) -> str:
    return f"the image is {_human(size)}; the limit is {_human(limit)}"


def _human(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1_048_576:.1f} MiB"
