"""The bucket as the engine sees it: the ObjectStore port (three S3 calls) and two adapters.

A Distributed Map reads items (`ItemReader`) and writes results (`ResultWriter`) through this
port only, so the engine stays free of facepipe's services. The calls are S3's own:

- `list_objects_v2(bucket, prefix, continuation_token)`: one page of at most 1,000 objects,
  ordered by key, each `{"Key", "ETag", "LastModified" (aware datetime), "Size",
  "StorageClass"}` as boto3 gives them, and the token of the next page (None on the last);
- `get_object(bucket, key)`: the bytes;
- `put_object(bucket, key, body)`.

A missing bucket or key raises `ObjectStoreError` with S3's code (`NoSuchBucket`,
`NoSuchKey`) and message. `MemoryObjectStore` holds buckets in a dict (tests);
`FolderObjectStore` reads a folder whose sub-folders are buckets and whose files are objects
(`python -m facepipe.engine --bucket-root DIR`).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

PAGE_SIZE = 1000  # ListObjectsV2's MaxKeys default and maximum


class ObjectStoreError(Exception):
    """An S3 error: `code` as S3 names it (NoSuchBucket, NoSuchKey, AccessDenied...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class ObjectPage:
    """One ListObjectsV2 page: `contents` as S3 lists them, `next_token` for the next page."""

    contents: list[dict[str, Any]]
    next_token: str | None = None


class ObjectStore(Protocol):
    def list_objects_v2(
        self, bucket: str, prefix: str = "", continuation_token: str | None = None
    ) -> ObjectPage: ...

    def get_object(self, bucket: str, key: str) -> bytes: ...

    def put_object(self, bucket: str, key: str, body: bytes) -> None: ...


def no_such_bucket(bucket: str) -> ObjectStoreError:
    return ObjectStoreError("NoSuchBucket", f"The specified bucket does not exist: {bucket}")


def no_such_key(bucket: str, key: str) -> ObjectStoreError:
    return ObjectStoreError("NoSuchKey", f"The specified key does not exist: {bucket}/{key}")


def page_of(objects: list[dict[str, Any]], continuation_token: str | None) -> ObjectPage:
    """A page of `objects` (sorted by key) after the key the token names."""
    start = 0
    if continuation_token is not None:
        start = next(
            (i for i, o in enumerate(objects) if o["Key"] > continuation_token), len(objects)
        )
    page = objects[start : start + PAGE_SIZE]
    more = start + PAGE_SIZE < len(objects)
    return ObjectPage(page, page[-1]["Key"] if more and page else None)


def listed(key: str, body: bytes, modified: datetime) -> dict[str, Any]:
    return {
        "Key": key,
        "LastModified": modified,
        "ETag": f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"',
        "Size": len(body),
        "StorageClass": "STANDARD",
    }


@dataclass
class MemoryObjectStore:
    """Buckets in memory: `{"bucket": {"key": b"bytes"}}`; a bucket must exist to be used."""

    buckets: dict[str, dict[str, bytes]] = field(default_factory=dict)
    modified: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def _bucket(self, bucket: str) -> dict[str, bytes]:
        if bucket not in self.buckets:
            raise no_such_bucket(bucket)
        return self.buckets[bucket]

    def list_objects_v2(
        self, bucket: str, prefix: str = "", continuation_token: str | None = None
    ) -> ObjectPage:
        with self._lock:
            items = sorted(self._bucket(bucket).items())
        objects = [listed(k, v, self.modified) for k, v in items if k.startswith(prefix)]
        return page_of(objects, continuation_token)

    def get_object(self, bucket: str, key: str) -> bytes:
        with self._lock:
            objects = self._bucket(bucket)
            if key not in objects:
                raise no_such_key(bucket, key)
            return objects[key]

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        with self._lock:
            self._bucket(bucket)[key] = bytes(body)


class FolderObjectStore:
    """A folder of buckets: `<root>/<bucket>/<key>` (a key's `/` are sub-folders).

    Keys that do not fit a file path (`..`, a trailing `/`) are refused as S3 would not be:
    this adapter is for tests and the command line, not for facepipe's bucket
    (`facepipe/local/engine_bucket.py` adapts that one).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _bucket(self, bucket: str) -> Path:
        folder = self.root / bucket
        if "/" in bucket or bucket in ("", ".", "..") or not folder.is_dir():
            raise no_such_bucket(bucket)
        return folder

    def _path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ObjectStoreError("InvalidArgument", f"a folder bucket cannot hold the key {key}")
        return self._bucket(bucket).joinpath(*parts)

    def list_objects_v2(
        self, bucket: str, prefix: str = "", continuation_token: str | None = None
    ) -> ObjectPage:
        folder = self._bucket(bucket)
        objects = []
        for path in folder.rglob("*"):
            key = path.relative_to(folder).as_posix()
            if path.is_file() and key.startswith(prefix):
                stat = path.stat()
                modified = datetime.fromtimestamp(int(stat.st_mtime), UTC)
                objects.append(listed(key, path.read_bytes(), modified))
        objects.sort(key=lambda o: str(o["Key"]))
        return page_of(objects, continuation_token)

    def get_object(self, bucket: str, key: str) -> bytes:
        path = self._path(bucket, key)
        if not path.is_file():
            raise no_such_key(bucket, key)
        return path.read_bytes()

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
