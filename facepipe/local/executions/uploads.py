"""The upload journal: files a run means to upload, each a claim on its bytes under its key.

A batch is written up front (``plan``); each planned upload goes once its event is pending
(or the upload rule skipped it), so what a runner killed mid-batch had not uploaded yet is
left for the next runner (``take_orphaned``). Claims are made inside one write transaction
(``claiming``): of two runners of one data home, only one takes the same bytes under a key.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from facepipe.local.executions.file import NO_RUNNER, RUNNING, ExecutionsFile

QUEUED = "QUEUED"  # an upload whose event waits for its execution (``UploadClaims.in_flight``)


class UploadJournal:
    """Planned uploads in the executions file."""

    def __init__(self, file: ExecutionsFile) -> None:
        self._file = file
        self._taken: set[int] = set()  # planned by a dead runner, taken over here

    def plan(self, bucket: str, files: list[tuple[str, str]]) -> list[int]:
        """Remember a batch of ``(source path, object key)`` to upload into ``bucket``;
        their ids, in order."""
        with self._file.write() as conn:
            return [
                int(
                    conn.execute(
                        "INSERT INTO planned_uploads (source, bucket, object_key, owner_runner,"
                        " owner_pid) VALUES (?, ?, ?, ?, ?)",
                        (source, bucket, key, self._file.runner_id, os.getpid()),
                    ).lastrowid
                    or 0
                )
                for source, key in files
            ]

    @contextmanager
    def claiming(self, bucket: str) -> Iterator[UploadClaims]:
        """One write transaction in which to check and claim uploads into ``bucket``.

        It holds the write lock from its start (BEGIN IMMEDIATE), so what is read in it
        (the claims and the queued and running uploads) stays true until it commits: of two
        runners claiming the same content, the second sees the first's claim.
        """
        with self._file.write() as conn:
            yield UploadClaims(self._file.runner_id, conn, bucket)

    def done(self, upload_id: int) -> None:
        with self._file.write() as conn:
            forget_planned(conn, upload_id)

    def take_orphaned(self, bucket: str) -> list[tuple[int, str, str]]:
        """Planned uploads into ``bucket`` whose runner is gone, now this runner's:
        ``(upload id, source path, object key)``. Those for other buckets wait for a
        runner of that bucket (this one's upload rule would not match them)."""
        taken: list[tuple[int, str, str]] = []
        with self._file.write() as conn:
            rows = conn.execute(
                "SELECT * FROM planned_uploads WHERE bucket = ? ORDER BY upload_id", (bucket,)
            ).fetchall()
            for row in rows:
                if not self._file.gone(row["owner_runner"]):
                    continue
                self._file.take(conn, "planned_uploads", "upload_id", row["upload_id"])
                self._taken.add(int(row["upload_id"]))
                taken.append((row["upload_id"], row["source"], row["object_key"]))
        return taken

    def hand_back(self, conn: sqlite3.Connection) -> None:
        """This run's own files not yet uploaded are forgotten; what this runner took over
        from a dead one goes back (part of ``ExecutionStore.stop_unstarted``)."""
        if self._taken:
            marks = ",".join("?" * len(self._taken))
            conn.execute(
                f"UPDATE planned_uploads SET owner_runner = ? WHERE upload_id IN ({marks})"
                " AND owner_runner = ?",
                (NO_RUNNER, *self._taken, self._file.runner_id),
            )
        conn.execute("DELETE FROM planned_uploads WHERE owner_runner = ?", (self._file.runner_id,))


def forget_planned(conn: sqlite3.Connection, upload_id: int) -> None:
    """The planned upload is done, inside another write (its event became pending)."""
    conn.execute("DELETE FROM planned_uploads WHERE upload_id = ?", (upload_id,))


class UploadClaims:
    """Claims on uploads, read and written inside one ``UploadJournal.claiming`` transaction."""

    def __init__(self, runner_id: str, conn: sqlite3.Connection, bucket: str) -> None:
        self._runner_id = runner_id
        self._conn = conn
        self.bucket = bucket
        self._queued: set[str] | None = None

    def holder(self, key: str, etag: str) -> tuple[str, int] | None:
        """``(runner id, process id)`` of the claim on these bytes under ``key``, if any."""
        row = self._conn.execute(
            "SELECT owner_runner, owner_pid FROM planned_uploads"
            " WHERE bucket = ? AND object_key = ? AND etag = ?",
            (self.bucket, key, etag),
        ).fetchone()
        return (str(row["owner_runner"]), int(row["owner_pid"])) if row else None

    def in_flight(self, key: str, version_id: str) -> str | None:
        """RUNNING or QUEUED when that object version's execution runs or waits; else None."""
        running = self._conn.execute(
            "SELECT 1 FROM executions WHERE image_key = ? AND version_id = ? AND status = ?"
            " LIMIT 1",
            (key, version_id, RUNNING),
        ).fetchone()
        if running:
            return RUNNING
        if self._queued is None:  # once per transaction: one scan, not one per file
            rows = self._conn.execute(
                "SELECT json_extract(event, '$.detail.object.\"version-id\"') FROM pending_events"
                " WHERE json_extract(event, '$.detail.bucket.name') = ?",
                (self.bucket,),
            )
            self._queued = {str(row[0]) for row in rows}
        return QUEUED if version_id in self._queued else None

    def claim(self, source: str, key: str, etag: str) -> int:
        """Note the upload of ``source`` (these bytes) as ``key``: the claim; its id."""
        cursor = self._conn.execute(
            "INSERT INTO planned_uploads (source, bucket, object_key, etag, owner_runner,"
            " owner_pid) VALUES (?, ?, ?, ?, ?, ?)",
            (source, self.bucket, key, etag, self._runner_id, os.getpid()),
        )
        return int(cursor.lastrowid or 0)
