"""The local bucket behind the engine's ObjectStore port (Distributed Map ItemReader/ResultWriter).

`EngineBucket(LocalObjectStore)` answers the three S3 calls the engine makes
(`facepipe.engine.objectstore.ObjectStore`): ListObjectsV2 pages of the current versions
(1,000 a page, by key, S3's fields), GetObject of the current version, PutObject of a new
version. S3's errors come back as the engine's `ObjectStoreError` with S3's codes
(NoSuchBucket, NoSuchKey, InvalidBucketName, KeyTooLongError).

A put goes through `LocalObjectStore.put_object`, so it is announced like any upload: a
ResultWriter prefix the upload rule matches would start executions, as it would in AWS.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from facepipe.engine.objectstore import (
    ObjectPage,
    ObjectStoreError,
    no_such_bucket,
    no_such_key,
    page_of,
)
from facepipe.local.objectstore import (
    MAX_KEY_BYTES,
    InvalidObjectName,
    LocalObjectStore,
    StoredObject,
)
from lambdas.domain.errors import InvalidS3ObjectException

_LISTINGS_KEPT = 8


class EngineBucket:
    """Adapts facepipe's local object store to the engine's ObjectStore port."""

    def __init__(self, store: LocalObjectStore) -> None:
        self.store = store
        # The local store lists a prefix whole; a listing being paged through is kept until
        # its last page is served (as one ListObjectsV2 pass sees one listing).
        self._listings: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def list_objects_v2(
        self, bucket: str, prefix: str = "", continuation_token: str | None = None
    ) -> ObjectPage:
        with self._lock:
            objects = (
                self._listings.pop((bucket, prefix, continuation_token), None)
                if continuation_token is not None
                else None
            )
        if objects is None:
            try:
                objects = [_listed(o) for o in self.store.list_objects(bucket, prefix)]
            except InvalidS3ObjectException:
                raise no_such_bucket(bucket) from None
            except InvalidObjectName as bad:
                raise ObjectStoreError("InvalidBucketName", str(bad)) from None
        page = page_of(objects, continuation_token)
        if page.next_token is not None:
            with self._lock:
                while len(self._listings) >= _LISTINGS_KEPT:  # passes left unfinished
                    self._listings.pop(next(iter(self._listings)))
                self._listings[(bucket, prefix, page.next_token)] = objects
        return page

    def get_object(self, bucket: str, key: str) -> bytes:
        try:
            return self.store.get_bytes(bucket, key)
        except InvalidS3ObjectException:
            # The bucket's index file is what makes a bucket (see the store's layout).
            if not (self.store.root / bucket / "index.sqlite3").exists():
                raise no_such_bucket(bucket) from None
            raise no_such_key(bucket, key) from None
        except InvalidObjectName as bad:
            raise ObjectStoreError("InvalidArgument", str(bad)) from None

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        if len(key.encode()) > MAX_KEY_BYTES:
            raise ObjectStoreError("KeyTooLongError", "Your key is too long")
        try:
            self.store.put_object(bucket, key, body, content_type="application/json")
        except InvalidObjectName as bad:
            raise ObjectStoreError("InvalidArgument", str(bad)) from None


def _listed(stored: StoredObject) -> dict[str, Any]:
    modified = datetime.strptime(stored.last_modified, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return {
        "Key": stored.key,
        "LastModified": modified,
        "ETag": stored.etag,
        "Size": stored.size,
        "StorageClass": "STANDARD",
    }
