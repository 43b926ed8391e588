"""Face records in SQLite: the RecordStore port offline, with the DynamoDB store's rules.

One row per image version plus a per-key "latest" row that only moves forward. Whether a
new record may replace a stored one is decided by ``lambdas.domain.ordering.supersedes``,
the same rule the DynamoDB store writes as its condition, here inside one write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facepipe.local.database import Database
from facepipe.local.faults import NO_FAULTS, FaultPlan
from lambdas.domain.model import FaceRecord
from lambdas.domain.ordering import DETECTED, sortable_sequencer, supersedes

_SCHEMA = [
    (
        """CREATE TABLE face_records (
            image_key TEXT NOT NULL,
            version_id TEXT NOT NULL,
            bucket TEXT NOT NULL,
            etag TEXT NOT NULL,
            size INTEGER NOT NULL,
            sequencer TEXT NOT NULL,
            sortable_sequencer TEXT NOT NULL,
            status TEXT NOT NULL,
            face_count INTEGER NOT NULL,
            faces TEXT NOT NULL,                -- JSON: Rekognition-shaped face summaries
            detected_at TEXT NOT NULL,
            execution_arn TEXT NOT NULL,
            error TEXT,
            reason TEXT,
            event_time TEXT NOT NULL,
            notified_at TEXT,
            PRIMARY KEY (image_key, version_id)
        )""",
        "CREATE INDEX face_records_newest ON face_records (detected_at DESC)",
        """CREATE TABLE latest_records (
            image_key TEXT PRIMARY KEY,
            version_id TEXT NOT NULL,
            sequencer TEXT NOT NULL,
            sortable_sequencer TEXT NOT NULL,
            status TEXT NOT NULL
        )""",
    ),
    # Who holds the notification claim (an execution ARN), so a resume may release the
    # claims of a killed runner and no one else's.
    ("ALTER TABLE face_records ADD COLUMN notified_by TEXT",),
    # When the claimed email was sent and its message id: a sent claim is never taken again.
    (
        "ALTER TABLE face_records ADD COLUMN sent_at TEXT",
        "ALTER TABLE face_records ADD COLUMN message_id TEXT",
    ),
    # Items that are not face records, in a table of their own: a backfill's tally (the
    # counts and first failures its summary email reports), as DynamoDB attribute values.
    (
        """CREATE TABLE backfill_items (
            partition_key TEXT NOT NULL,
            sort_key TEXT NOT NULL,
            item TEXT NOT NULL,                 -- JSON: {name: {"N"|"S"|"L"|"M": ...}}
            PRIMARY KEY (partition_key, sort_key)
        )""",
    ),
]
_COLUMN_NAMES = (
    "image_key",
    "version_id",
    "bucket",
    "etag",
    "size",
    "sequencer",
    "sortable_sequencer",
    "status",
    "face_count",
    "faces",
    "detected_at",
    "execution_arn",
    "error",
    "reason",
    "event_time",
    "notified_at",
)
_COLUMNS = ", ".join(_COLUMN_NAMES)


class SqliteRecordStore:
    """Face records in one SQLite file, safe for many threads and processes at once."""

    def __init__(self, path: Path, *, faults: FaultPlan = NO_FAULTS) -> None:
        self._db = Database(path, _SCHEMA, name="records")
        self._faults = faults

    @property
    def path(self) -> Path:
        return self._db.path

    def close(self) -> None:
        self._db.close()

    # --- the RecordStore port ---------------------------------------------------------------
    def put_if_newer(self, record: FaceRecord) -> bool:
        self._faults.check("store")
        sortable = sortable_sequencer(record.sequencer)  # bad input fails before any write
        with self._db.write() as conn:
            stored = conn.execute(
                "SELECT sequencer, status FROM face_records WHERE image_key = ? AND version_id = ?",
                (record.key, record.version_id),
            ).fetchone()
            written = stored is None or supersedes(
                record.sequencer, record.status, stored["sequencer"], stored["status"]
            )
            if written:
                # A fresh record has not been notified yet (as DynamoDB's put replaces the item).
                conn.execute(
                    f"INSERT OR REPLACE INTO face_records ({_COLUMNS}) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    _row_values(record, sortable),
                )
            _move_latest_forward(conn, record, sortable)
        return written

    def get(self, key: str, version_id: str) -> FaceRecord | None:
        self._faults.check("store")
        row = (
            self._db.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM face_records WHERE image_key = ? AND version_id = ?",
                (key, version_id),
            )
            .fetchone()
        )
        return _record(row) if row else None

    def claim_notification(
        self,
        key: str,
        version_id: str,
        claimant: str | None = None,
        sequencer: str | None = None,
    ) -> bool:
        self._faults.check("store")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        sortable = sortable_sequencer(sequencer) if sequencer is not None else None
        with self._db.write() as conn:
            claimed = conn.execute(
                "UPDATE face_records SET notified_at = ?, notified_by = ?"
                " WHERE image_key = ? AND version_id = ?"
                # free, or (with a claimant) its own claim with no email sent yet
                " AND (notified_at IS NULL"
                "  OR (? IS NOT NULL AND notified_by = ? AND sent_at IS NULL))"
                # only the record of this upload
                " AND (? IS NULL OR sortable_sequencer = ?)",
                (now, claimant, key, version_id, claimant, claimant, sortable, sortable),
            ).rowcount
        return claimed == 1

    def mark_notification_sent(
        self, key: str, version_id: str, message_id: str, claimant: str | None = None
    ) -> bool:
        self._faults.check("store")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.write() as conn:
            marked = conn.execute(
                "UPDATE face_records SET sent_at = ?, message_id = ?"
                " WHERE image_key = ? AND version_id = ? AND notified_at IS NOT NULL"
                " AND (? IS NULL OR notified_by = ?)",
                (now, message_id, key, version_id, claimant, claimant),
            ).rowcount
        return marked == 1

    def release_notification(self, key: str, version_id: str, claimant: str | None = None) -> None:
        self._faults.check("store")
        with self._db.write() as conn:
            conn.execute(
                "UPDATE face_records SET notified_at = NULL, notified_by = NULL"
                " WHERE image_key = ? AND version_id = ? AND sent_at IS NULL"
                " AND (? IS NULL OR notified_by = ?)",
                (key, version_id, claimant, claimant),
            )

    # --- queries for the CLI and the console ------------------------------------------------
    def status_of(self, key: str, version_id: str) -> str | None:
        """The record's status (DETECTED, FAILED), or None; never a fault (not a step's call)."""
        row = (
            self._db.connection()
            .execute(
                "SELECT status FROM face_records WHERE image_key = ? AND version_id = ?",
                (key, version_id),
            )
            .fetchone()
        )
        return str(row["status"]) if row else None

    def record_fields(self, key: str, version_id: str) -> dict[str, str] | None:
        """The record's status and S3 sequencer (what a backfill reads), or None."""
        row = (
            self._db.connection()
            .execute(
                "SELECT status, sequencer FROM face_records WHERE image_key = ? AND version_id = ?",
                (key, version_id),
            )
            .fetchone()
        )
        return {"status": row["status"], "sequencer": row["sequencer"]} if row else None

    def backfill_item(self, partition_key: str, sort_key: str) -> dict[str, Any] | None:
        """A backfill item (DynamoDB attribute values), or None."""
        row = (
            self._db.connection()
            .execute(
                "SELECT item FROM backfill_items WHERE partition_key = ? AND sort_key = ?",
                (partition_key, sort_key),
            )
            .fetchone()
        )
        return dict(json.loads(row["item"])) if row else None

    def change_backfill_item(
        self,
        partition_key: str,
        sort_key: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any]],
    ) -> dict[str, Any]:
        """Replace the item with ``change(item)`` in one write transaction (so concurrent
        changes from threads and processes all land, as DynamoDB's UpdateItem does); what
        ``change`` raises leaves the item as it was."""
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT item FROM backfill_items WHERE partition_key = ? AND sort_key = ?",
                (partition_key, sort_key),
            ).fetchone()
            item = change(dict(json.loads(row["item"])) if row else None)
            conn.execute(
                "INSERT OR REPLACE INTO backfill_items (partition_key, sort_key, item)"
                " VALUES (?, ?, ?)",
                (partition_key, sort_key, json.dumps(item)),
            )
        return item

    def count_records(self, *, faces_only: bool = False) -> int:
        """How many records ``list_records`` would give without a limit."""
        where, params = (
            (" WHERE face_count > 0 AND status = ?", [DETECTED]) if faces_only else ("", [])
        )
        row = self._db.connection().execute(f"SELECT count(*) FROM face_records{where}", params)
        return int(row.fetchone()[0])

    def latest_version_id(self, key: str) -> str | None:
        """The version id of the newest recorded upload of ``key``, by S3 sequencer."""
        row = (
            self._db.connection()
            .execute("SELECT version_id FROM latest_records WHERE image_key = ?", (key,))
            .fetchone()
        )
        return str(row["version_id"]) if row else None

    def get_latest(self, key: str) -> FaceRecord | None:
        """The record of the newest upload of ``key`` (by S3 sequencer, not by arrival)."""
        version_id = self.latest_version_id(key)
        return self.get(key, version_id) if version_id is not None else None

    def list_records(
        self, *, limit: int = 50, faces_only: bool = False, latest_only: bool = False
    ) -> list[FaceRecord]:
        """Records newest detection first; optionally only those with faces, or only each
        key's latest version."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        where = ["r.face_count > 0 AND r.status = ?"] if faces_only else []
        params: list[object] = [DETECTED] if faces_only else []
        join = (
            " JOIN latest_records l ON l.image_key = r.image_key AND l.version_id = r.version_id"
            if latest_only
            else ""
        )
        sql = (
            f"SELECT {', '.join('r.' + name for name in _COLUMN_NAMES)}"
            f" FROM face_records r{join}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY r.detected_at DESC, r.rowid DESC LIMIT ?"
        )
        rows = self._db.connection().execute(sql, (*params, limit))
        return [_record(row) for row in rows]


def _move_latest_forward(conn: sqlite3.Connection, record: FaceRecord, sortable: str) -> None:
    """The per-key latest row follows the same rule, so it never moves back."""
    latest = conn.execute(
        "SELECT sequencer, status FROM latest_records WHERE image_key = ?", (record.key,)
    ).fetchone()
    if latest is not None and not supersedes(
        record.sequencer, record.status, latest["sequencer"], latest["status"]
    ):
        return
    conn.execute(
        "INSERT OR REPLACE INTO latest_records"
        " (image_key, version_id, sequencer, sortable_sequencer, status) VALUES (?, ?, ?, ?, ?)",
        (record.key, record.version_id, record.sequencer, sortable, record.status),
    )


def _row_values(record: FaceRecord, sortable: str) -> tuple[object, ...]:
    return (
        record.key,
        record.version_id,
        record.bucket,
        record.etag,
        record.size,
        record.sequencer,
        sortable,
        record.status,
        record.face_count,
        json.dumps(record.faces),
        record.detected_at,
        record.execution_arn,
        record.error,
        record.reason,
        record.event_time,
    )


def _record(row: sqlite3.Row) -> FaceRecord:
    return FaceRecord(
        bucket=row["bucket"],
        key=row["image_key"],
        version_id=row["version_id"],
        etag=row["etag"],
        size=row["size"],
        sequencer=row["sequencer"],
        status=row["status"],
        face_count=row["face_count"],
        faces=json.loads(row["faces"]),
        detected_at=row["detected_at"],
        execution_arn=row["execution_arn"],
        error=row["error"],
        reason=row["reason"],
        event_time=row["event_time"],
        notified_at=row["notified_at"],
    )
