"""A local, versioned S3 bucket in a folder: the ObjectStore port offline.

Layout under the buckets folder of the data home::

    <bucket>/index.sqlite3      one row per version (and delete marker), with its S3 sequencer
    <bucket>/objects/<id>       the bytes of each version, named by its version id
    <bucket>/.tmp/              uploads in progress (never listed as objects)

Keys never become file names, so any S3 key ("../x", "a b+c%.jpg", unicode) stays inside.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from facepipe.local.database import Database
from facepipe.local.events.sequencer import format_sequencer
from facepipe.local.faults import NO_FAULTS, FaultPlan
from lambdas.domain.errors import InvalidS3ObjectException
from lambdas.domain.model import ObjectInfo

MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length
DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what S3 stores when none is given
_CHUNK = 1024 * 1024
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")

_SCHEMA = [
    (
        """CREATE TABLE versions (
            seq INTEGER PRIMARY KEY,           -- the S3 sequencer, as a number
            object_key TEXT NOT NULL,
            version_id TEXT NOT NULL UNIQUE,
            is_delete_marker INTEGER NOT NULL DEFAULT 0,
            size INTEGER NOT NULL DEFAULT 0,
            etag TEXT NOT NULL DEFAULT '',
            content_type TEXT,
            last_modified TEXT NOT NULL
        )""",
        "CREATE INDEX versions_by_key ON versions (object_key, seq)",
        "CREATE TABLE sequencer (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL)",
        "INSERT INTO sequencer (id, last) VALUES (1, 0)",
    ),
]


class InvalidObjectName(ValueError):
    """A bucket name or object key that S3 would refuse."""


@dataclass(frozen=True)
class StoredObject(ObjectInfo):
    """ObjectInfo plus what the local bucket knows of the version (for events and listings)."""

    sequencer: str = ""
    last_modified: str = ""
    is_delete_marker: bool = False


ObjectCreatedListener = Callable[[StoredObject], None]


class LocalObjectStore:
    """Versioned buckets in folders; ``on_object_created`` hears of every new version."""

    def __init__(
        self,
        buckets_root: Path,
        *,
        on_object_created: ObjectCreatedListener | None = None,
        faults: FaultPlan = NO_FAULTS,
    ) -> None:
        self.root = buckets_root
        self._on_object_created = on_object_created
        self._faults = faults
        self._indexes: dict[str, Database] = {}
        self._indexes_lock = threading.Lock()

    # --- writing ----------------------------------------------------------------------------
    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | os.PathLike[str],
        *,
        content_type: str | None = None,
    ) -> StoredObject:
        """Store a new version (bytes, or the file at a path) and announce it."""
        validate_key(key)
        index = self._index(bucket, create=True)
        version_id = new_version_id()
        size, md5 = self._write_version_file(bucket, version_id, data)
        content_type = content_type or mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        with index.write() as conn:
            seq = _next_sequencer(conn)
            conn.execute(
                "INSERT INTO versions (seq, object_key, version_id, size, etag, content_type,"
                " last_modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, key, version_id, size, f'"{md5}"', content_type, _now()),
            )
            row = conn.execute("SELECT * FROM versions WHERE seq = ?", (seq,)).fetchone()
        stored = _stored_object(bucket, row)
        if self._on_object_created is not None:
            self._on_object_created(stored)
        return stored

    def delete_object(self, bucket: str, key: str, version_id: str | None = None) -> str | None:
        """Without a version: add a delete marker (older versions stay) and return its id.

        With a version: remove that version for good (no error if it is already gone).
        """
        validate_key(key)
        index = self._index(bucket, create=True)
        if version_id is None:
            marker_id = new_version_id()
            with index.write() as conn:
                conn.execute(
                    "INSERT INTO versions (seq, object_key, version_id, is_delete_marker,"
                    " last_modified) VALUES (?, ?, ?, 1, ?)",
                    (_next_sequencer(conn), key, marker_id, _now()),
                )
            return marker_id
        with index.write() as conn:
            conn.execute(
                "DELETE FROM versions WHERE object_key = ? AND version_id = ?", (key, version_id)
            )
        self._version_file(bucket, version_id).unlink(missing_ok=True)
        return None

    # --- reading (the ObjectStore port) -----------------------------------------------------
    def head(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject:
        self._faults.check("objects")
        return self._find(bucket, key, version_id)

    def current(self, bucket: str, key: str) -> StoredObject | None:
        """The current version under ``key`` (None when there is none, or it was deleted).

        Not the ObjectStore port (no injected faults): the intake's own look-up.
        """
        try:
            return self._find(bucket, key, None)
        except InvalidS3ObjectException:
            return None

    def get_bytes(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        self._faults.check("objects")
        found = self._find(bucket, key, version_id)
        path = self._version_file(bucket, str(found.version_id))
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise InvalidS3ObjectException(
                f"the bytes of s3://{bucket}/{key} (version {found.version_id}) are missing "
                f"from {path.parent}"
            ) from None

    def list_objects(self, bucket: str, prefix: str = "") -> list[StoredObject]:
        """The current version of every key (deleted keys left out), ordered by key."""
        index = self._index(bucket, create=False)
        rows = index.connection().execute(
            "SELECT v.* FROM versions v JOIN (SELECT object_key, MAX(seq) AS seq FROM versions"
            " GROUP BY object_key) latest ON v.seq = latest.seq"
            " WHERE v.is_delete_marker = 0 AND substr(v.object_key, 1, length(?)) = ?"
            " ORDER BY v.object_key",
            (prefix, prefix),
        )
        return [_stored_object(bucket, row) for row in rows]

    def list_versions(self, bucket: str, key: str) -> list[StoredObject]:
        """Every version and delete marker of a key, newest first."""
        index = self._index(bucket, create=False)
        rows = index.connection().execute(
            "SELECT * FROM versions WHERE object_key = ? ORDER BY seq DESC", (key,)
        )
        return [_stored_object(bucket, row) for row in rows]

    def close(self) -> None:
        with self._indexes_lock:
            for index in self._indexes.values():
                index.close()
            self._indexes.clear()

    # --- internals --------------------------------------------------------------------------
    def _find(self, bucket: str, key: str, version_id: str | None) -> StoredObject:
        index = self._index(bucket, create=False)
        conn = index.connection()
        if version_id is None:
            row = conn.execute(
                "SELECT * FROM versions WHERE object_key = ? ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT * FROM versions WHERE object_key = ? AND version_id = ?",
                (key, version_id),
            ).fetchone()
        where = f"s3://{bucket}/{key}" + (f" (version {version_id})" if version_id else "")
        if row is None:
            raise InvalidS3ObjectException(f"no object at {where}")
        if row["is_delete_marker"]:
            raise InvalidS3ObjectException(f"the object at {where} was deleted")
        return _stored_object(bucket, row)

    def _index(self, bucket: str, *, create: bool) -> Database:
        validate_bucket_name(bucket)
        with self._indexes_lock:
            index = self._indexes.get(bucket)
            if index is None:
                folder = self.root / bucket
                if not create and not (folder / "index.sqlite3").exists():
                    raise InvalidS3ObjectException(f"bucket {bucket!r} does not exist")
                (folder / "objects").mkdir(parents=True, exist_ok=True)
                (folder / ".tmp").mkdir(exist_ok=True)
                index = Database(folder / "index.sqlite3", _SCHEMA, name=f"bucket {bucket}")
                self._indexes[bucket] = index
            return index

    def _version_file(self, bucket: str, version_id: str) -> Path:
        return self.root / bucket / "objects" / version_id

    def _write_version_file(
        self, bucket: str, version_id: str, data: bytes | os.PathLike[str]
    ) -> tuple[int, str]:
        """Write atomically (temp file, fsync, rename); return size and MD5 hex."""
        temp = self.root / bucket / ".tmp" / f"{version_id}.part"
        final = self._version_file(bucket, version_id)
        try:
            with open(temp, "xb") as out:
                size, md5 = _copy_hashing(data, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return size, md5


def file_etag(path: Path) -> str:
    """The ETag S3 gives ``path``'s bytes in a single-part upload: their MD5, in hex."""
    with path.open("rb") as file:
        md5 = hashlib.file_digest(file, lambda: hashlib.md5(usedforsecurity=False))
    return md5.hexdigest()


def bytes_etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _copy_hashing(data: bytes | os.PathLike[str], out: BinaryIO) -> tuple[int, str]:
    md5 = hashlib.md5(usedforsecurity=False)  # S3's ETag of a single-part upload
    if isinstance(data, bytes | bytearray | memoryview):
        out.write(data)
        md5.update(data)
        return len(data), md5.hexdigest()
    if isinstance(data, str):
        raise TypeError("put_object takes bytes or a pathlib.Path, not a str")
    size = 0
    with open(data, "rb") as source:
        while chunk := source.read(_CHUNK):
            out.write(chunk)
            md5.update(chunk)
            size += len(chunk)
    return size, md5.hexdigest()


def _next_sequencer(conn: sqlite3.Connection) -> int:
    """Monotonic across threads, processes and restarts: the write lock is held, and the
    counter never goes back (it follows the wall clock when that is ahead)."""
    last = conn.execute("SELECT last FROM sequencer WHERE id = 1").fetchone()[0]
    seq = max(last + 1, time.time_ns())
    conn.execute("UPDATE sequencer SET last = ? WHERE id = 1", (seq,))
    return int(seq)


def _stored_object(bucket: str, row: sqlite3.Row) -> StoredObject:
    return StoredObject(
        bucket=bucket,
        key=row["object_key"],
        version_id=row["version_id"],
        etag=row["etag"],
        size=row["size"],
        content_type=row["content_type"],
        sequencer=format_sequencer(row["seq"]),
        last_modified=row["last_modified"],
        is_delete_marker=bool(row["is_delete_marker"]),
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_version_id() -> str:
    """An opaque, URL- and file-name-safe id of 32 characters, like S3's."""
    return secrets.token_urlsafe(24)


def validate_bucket_name(bucket: str) -> None:
    """S3's bucket naming rules (which also keep the name a safe folder name)."""
    if not isinstance(bucket, str) or not _BUCKET_NAME.match(bucket):
        raise InvalidObjectName(
            f"bucket name {bucket!r} is not valid: use 3-63 lower-case letters, digits, dots "
            "or hyphens, starting and ending with a letter or digit"
        )
    if ".." in bucket or _IP_ADDRESS.match(bucket):
        raise InvalidObjectName(f"bucket name {bucket!r} is not valid: no '..', not an IP")


def validate_key(key: str) -> None:
    """S3 accepts any UTF-8 key of 1-1024 bytes."""
    if not isinstance(key, str) or not key:
        raise InvalidObjectName("an object key must be a non-empty string")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidObjectName(f"object key {key!r} is not valid UTF-8") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidObjectName(
            f"object key is {len(encoded)} bytes in UTF-8; S3 allows at most {MAX_KEY_BYTES}"
        )
