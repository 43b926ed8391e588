"""Local executions in SQLite: one row per execution, plus its history appended live.

Each history event is written as the engine records it (``on_event``), so another process
(the console, ``facepipe show``) sees a running execution grow. A row stays RUNNING until
``finish``; ``abandoned`` finds RUNNING rows whose runner is gone (killed), which is what a
later resume has to pick up. Each store is a runner, alive while it holds its lock
(``facepipe.local.runners``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facepipe.local.database import Database
from facepipe.local.runners import RunnerLease, runner_alive, sweep_dead

if TYPE_CHECKING:
    from facepipe.engine import ExecutionResult
    from facepipe.local.home import DataHome

RUNNING = "RUNNING"
NO_RUNNER = ""  # owner of work handed back for the next runner: no runner holds this id

_SCHEMA = [
    (
        """CREATE TABLE executions (
            execution_arn TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            state_machine_arn TEXT NOT NULL,
            bucket TEXT NOT NULL,
            image_key TEXT NOT NULL,
            version_id TEXT NOT NULL,
            status TEXT NOT NULL,
            start_date TEXT NOT NULL,
            stop_date TEXT,
            input TEXT NOT NULL,                -- JSON
            output TEXT,                        -- JSON, when SUCCEEDED
            error TEXT,
            cause TEXT,
            owner_runner TEXT NOT NULL,         -- who runs it, to find ones left by a crash
            owner_pid INTEGER NOT NULL          -- that runner's process, for messages
        )""",
        "CREATE INDEX executions_by_image ON executions (image_key, version_id, start_date)",
        "CREATE INDEX executions_by_status ON executions (status, start_date)",
        """CREATE TABLE execution_events (
            execution_arn TEXT NOT NULL REFERENCES executions (execution_arn),
            event_id INTEGER NOT NULL,
            event TEXT NOT NULL,                -- JSON, GetExecutionHistory-shaped
            PRIMARY KEY (execution_arn, event_id)
        )""",
    ),
    (
        # Uploads whose execution has not ended yet, written when the upload rule matches and
        # removed when the execution stops: what a runner killed mid-batch left to do.
        """CREATE TABLE pending_events (
            event_id TEXT PRIMARY KEY,          -- the EventBridge event's id
            event TEXT NOT NULL,                -- JSON: the execution's input
            received_at TEXT NOT NULL,
            execution_arn TEXT,                 -- once its execution has started
            owner_runner TEXT NOT NULL,
            owner_pid INTEGER NOT NULL
        )""",
    ),
    (
        # Files a run was asked to upload and has not yet: written for the whole batch up
        # front, each removed once its upload's event is pending (or the rule skipped it).
        """CREATE TABLE planned_uploads (
            upload_id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,               -- the file's absolute path
            bucket TEXT NOT NULL,
            object_key TEXT NOT NULL,
            owner_runner TEXT NOT NULL,
            owner_pid INTEGER NOT NULL
        )""",
    ),
    (
        # A planned upload is also the claim on its content: the file's MD5 (the ETag S3
        # gives a single-part upload) under its key. Unique, so two runners of one data home
        # can never both take the same bytes under the same key (facepipe.local.intake).
        "ALTER TABLE planned_uploads ADD COLUMN etag TEXT",
        "CREATE UNIQUE INDEX planned_uploads_claim ON planned_uploads (bucket, object_key, etag)",
    ),
]
ABORTED = "ABORTED"
QUEUED = "QUEUED"  # an upload whose event waits for its execution (``UploadClaims.in_flight``)


def executions_db_path(home: DataHome) -> Path:
    return home.root / "executions.sqlite3"


@dataclass(frozen=True)
class StoredExecution:
    execution_arn: str
    name: str
    state_machine_arn: str
    bucket: str
    image_key: str
    version_id: str
    status: str
    start_date: str
    stop_date: str | None
    input: Any
    output: Any
    error: str | None
    cause: str | None
    owner_runner: str
    owner_pid: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "executionArn": self.execution_arn,
            "name": self.name,
            "stateMachineArn": self.state_machine_arn,
            "bucket": self.bucket,
            "imageKey": self.image_key,
            "versionId": self.version_id,
            "status": self.status,
            "startDate": self.start_date,
            "stopDate": self.stop_date,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
        }


def _json(value: Any) -> str:
    # History timestamps are datetimes (as boto3 gives them); stored as ISO-8601 text.
    return json.dumps(value, default=_iso, ensure_ascii=False, separators=(",", ":"))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ExecutionStore:
    """Executions and their histories in one SQLite file (threads and processes may share)."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, _SCHEMA, name="executions")
        self._runners = path.parent / "runners"
        sweep_dead(self._runners)
        self._lease = RunnerLease(self._runners)
        self._taken_uploads: set[int] = set()  # planned by a dead runner, taken over here
        # Workers of this process queue here rather than in SQLite's busy handler, which
        # sleeps for milliseconds at a time; other processes still meet SQLite's lock.
        self._write_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._db.path

    def close(self) -> None:
        self._db.close()
        self._lease.release()

    def _gone(self, runner_id: str) -> bool:
        return runner_id != self._lease.id and not runner_alive(self._runners, runner_id)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, self._db.write() as conn:
            yield conn

    # --- writing, as an execution runs -----------------------------------------------------
    def start(
        self,
        *,
        execution_arn: str,
        name: str,
        state_machine_arn: str,
        bucket: str,
        image_key: str,
        version_id: str,
        input: Any,
        start_date: datetime,
        pending_event_id: str | None = None,
    ) -> None:
        """Record a RUNNING execution; the pending event it resolves learns of it in the same
        write, so a kill can never leave the one without the other (and a resume run twice)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO executions (execution_arn, name, state_machine_arn, bucket,"
                " image_key, version_id, status, start_date, input, owner_runner, owner_pid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    execution_arn,
                    name,
                    state_machine_arn,
                    bucket,
                    image_key,
                    version_id,
                    RUNNING,
                    start_date.isoformat(),
                    _json(input),
                    self._lease.id,
                    os.getpid(),
                ),
            )
            if pending_event_id is not None:
                conn.execute(
                    "UPDATE pending_events SET execution_arn = ? WHERE event_id = ?",
                    (execution_arn, pending_event_id),
                )

    def append_event(self, execution_arn: str, event: dict[str, Any]) -> None:
        self.append_events(execution_arn, [event])

    def append_events(self, execution_arn: str, events: list[dict[str, Any]]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO execution_events (execution_arn, event_id, event) VALUES (?, ?, ?)",
                [(execution_arn, int(event["id"]), _json(event)) for event in events],
            )

    def history_writer(self, execution_arn: str) -> HistoryWriter:
        """An ``on_event`` listener for the engine that stores the execution's history live."""
        return HistoryWriter(self, execution_arn)

    def finish(self, result: ExecutionResult, *, pending_event_id: str | None = None) -> None:
        self.mark_stopped(
            result.execution_arn,
            status=result.status,
            stop_date=result.stop_date,
            output=result.output,
            error=result.error,
            cause=result.cause,
            pending_event_id=pending_event_id,
        )

    def mark_stopped(
        self,
        execution_arn: str,
        *,
        status: str,
        stop_date: datetime | None,
        output: Any = None,
        error: str | None = None,
        cause: str | None = None,
        pending_event_id: str | None = None,
    ) -> None:
        """Store how the execution ended; its pending event (if any) goes in the same step."""
        with self._write() as conn:
            conn.execute(
                "UPDATE executions SET status = ?, stop_date = ?, output = ?, error = ?, cause = ?"
                " WHERE execution_arn = ?",
                (
                    status,
                    stop_date.isoformat() if stop_date else None,
                    None if output is None else _json(output),
                    error,
                    cause,
                    execution_arn,
                ),
            )
            if pending_event_id is not None:
                conn.execute("DELETE FROM pending_events WHERE event_id = ?", (pending_event_id,))

    # --- pending events: what is left to do after a crash ------------------------------------
    def add_pending(
        self, event_id: str, event: dict[str, Any], *, planned_upload: int | None = None
    ) -> None:
        """Remember that ``event`` needs an execution (before it is queued for one); the
        planned upload it comes from is done in the same step."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO pending_events (event_id, event, received_at,"
                " owner_runner, owner_pid) VALUES (?, ?, ?, ?, ?)",
                (event_id, _json(event), _utc_now(), self._lease.id, os.getpid()),
            )
            if planned_upload is not None:
                conn.execute("DELETE FROM planned_uploads WHERE upload_id = ?", (planned_upload,))

    def plan_uploads(self, bucket: str, files: list[tuple[str, str]]) -> list[int]:
        """Remember a batch of ``(source path, object key)`` to upload into ``bucket``;
        their ids, in order."""
        with self._write() as conn:
            return [
                int(
                    conn.execute(
                        "INSERT INTO planned_uploads (source, bucket, object_key, owner_runner,"
                        " owner_pid) VALUES (?, ?, ?, ?, ?)",
                        (source, bucket, key, self._lease.id, os.getpid()),
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
        with self._write() as conn:
            yield UploadClaims(self, conn, bucket)

    def runner_gone(self, runner_id: str) -> bool:
        """Whether ``runner_id`` (not this store's own runner) no longer runs."""
        return self._gone(runner_id)

    @property
    def runner_id(self) -> str:
        return self._lease.id

    def upload_done(self, upload_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM planned_uploads WHERE upload_id = ?", (upload_id,))

    def take_orphaned_uploads(self, bucket: str) -> list[tuple[int, str, str]]:
        """Planned uploads into ``bucket`` whose runner is gone, now this runner's:
        ``(upload id, source path, object key)``. Those for other buckets wait for a
        runner of that bucket (this one's upload rule would not match them)."""
        taken: list[tuple[int, str, str]] = []
        with self._write() as conn:
            rows = conn.execute(
                "SELECT * FROM planned_uploads WHERE bucket = ? ORDER BY upload_id", (bucket,)
            ).fetchall()
            for row in rows:
                if not self._gone(row["owner_runner"]):
                    continue
                self._take(conn, "planned_uploads", "upload_id", row["upload_id"])
                self._taken_uploads.add(int(row["upload_id"]))
                taken.append((row["upload_id"], row["source"], row["object_key"]))
        return taken

    def _take(self, conn: sqlite3.Connection, table: str, key: str, value: object) -> None:
        conn.execute(
            f"UPDATE {table} SET owner_runner = ?, owner_pid = ? WHERE {key} = ?",
            (self._lease.id, os.getpid(), value),
        )

    def stop_unstarted(self) -> None:
        """A deliberate stop: this run's own files not yet uploaded are forgotten; events
        whose objects are in the bucket are handed to the next runner (``resume``), as S3
        would still deliver them; what this runner took over from a dead one goes back."""
        with self._write() as conn:
            if self._taken_uploads:
                marks = ",".join("?" * len(self._taken_uploads))
                conn.execute(
                    f"UPDATE planned_uploads SET owner_runner = ? WHERE upload_id IN ({marks})"
                    " AND owner_runner = ?",
                    (NO_RUNNER, *self._taken_uploads, self._lease.id),
                )
            conn.execute("DELETE FROM planned_uploads WHERE owner_runner = ?", (self._lease.id,))
            conn.execute(
                "UPDATE pending_events SET owner_runner = ? WHERE owner_runner = ?",
                (NO_RUNNER, self._lease.id),
            )

    def pending_for(self, execution_arn: str) -> bool:
        """Whether a pending event (anyone's) is to run again what ``execution_arn`` began."""
        row = (
            self._db.connection()
            .execute(
                "SELECT 1 FROM pending_events WHERE execution_arn = ? LIMIT 1", (execution_arn,)
            )
            .fetchone()
        )
        return row is not None

    def pending_count(self) -> int:
        row = self._db.connection().execute("SELECT count(*) FROM pending_events").fetchone()
        return int(row[0])

    def take_orphaned_pending(self) -> list[PendingEvent]:
        """Pending events whose runner is gone, now this runner's."""
        taken: list[PendingEvent] = []
        with self._write() as conn:
            for row in conn.execute("SELECT * FROM pending_events").fetchall():
                if not self._gone(row["owner_runner"]):
                    continue
                self._take(conn, "pending_events", "event_id", row["event_id"])
                taken.append(
                    PendingEvent(row["event_id"], json.loads(row["event"]), row["execution_arn"])
                )
        return taken

    def abort(self, execution_arn: str, *, error: str, cause: str) -> bool:
        """End a RUNNING execution as ABORTED, with an ExecutionAborted event closing its
        history; False when it was not RUNNING (another process got there first)."""
        now = datetime.now(UTC)
        with self._write() as conn:
            stopped = conn.execute(
                "UPDATE executions SET status = ?, stop_date = ?, error = ?, cause = ?"
                " WHERE execution_arn = ? AND status = ?",
                (ABORTED, now.isoformat(), error, cause, execution_arn, RUNNING),
            ).rowcount
            if not stopped:
                return False
            last = conn.execute(
                "SELECT max(event_id) FROM execution_events WHERE execution_arn = ?",
                (execution_arn,),
            ).fetchone()[0]
            event = {
                "id": (last or 0) + 1,
                "previousEventId": last or 0,
                "timestamp": now,
                "type": "ExecutionAborted",
                "executionAbortedEventDetails": {"error": error, "cause": cause},
            }
            conn.execute(
                "INSERT INTO execution_events (execution_arn, event_id, event) VALUES (?, ?, ?)",
                (execution_arn, event["id"], _json(event)),
            )
        return True

    # --- reading ---------------------------------------------------------------------------
    def get(self, execution_arn: str) -> StoredExecution | None:
        row = (
            self._db.connection()
            .execute("SELECT * FROM executions WHERE execution_arn = ?", (execution_arn,))
            .fetchone()
        )
        return _execution(row) if row else None

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's events in order (timestamps as ISO-8601 strings)."""
        rows = self._db.connection().execute(
            "SELECT event FROM execution_events WHERE execution_arn = ? ORDER BY event_id",
            (execution_arn,),
        )
        return [json.loads(row["event"]) for row in rows]

    def list_executions(
        self, *, limit: int = 50, status: str | None = None
    ) -> list[StoredExecution]:
        """Newest first; optionally only those with ``status``."""
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        rows = self._db.connection().execute(
            f"SELECT * FROM executions {where} ORDER BY start_date DESC, rowid DESC LIMIT ?",
            (*params, limit),
        )
        return [_execution(row) for row in rows]

    def for_image(self, image_key: str, version_id: str | None = None) -> list[StoredExecution]:
        """Executions of one image (one version of it, if given), newest first."""
        sql = "SELECT * FROM executions WHERE image_key = ?"
        params: list[object] = [image_key]
        if version_id is not None:
            sql += " AND version_id = ?"
            params.append(version_id)
        rows = self._db.connection().execute(sql + " ORDER BY start_date DESC, rowid DESC", params)
        return [_execution(row) for row in rows]

    def abandoned(self) -> list[StoredExecution]:
        """RUNNING executions whose runner is gone: left by a crash or kill."""
        running = self.list_executions(limit=1_000_000, status=RUNNING)
        return [found for found in running if self._gone(found.owner_runner)]


class UploadClaims:
    """Claims on uploads, read and written inside one ``ExecutionStore.claiming`` transaction."""

    def __init__(self, store: ExecutionStore, conn: sqlite3.Connection, bucket: str) -> None:
        self._store = store
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
            (source, self.bucket, key, etag, self._store.runner_id, os.getpid()),
        )
        return int(cursor.lastrowid or 0)


@dataclass(frozen=True)
class PendingEvent:
    """An upload's event still waiting for its execution to end."""

    event_id: str
    event: dict[str, Any]
    execution_arn: str | None  # the execution that was running it, if one had started


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()


def _engine_waits_after(event_type: str) -> bool:
    """Events after which the engine waits (a task runs, a retry or Wait sleeps) or stops."""
    return event_type.endswith(_WAITING_SUFFIXES) or event_type in _WAITING_TYPES


_WAITING_SUFFIXES = ("Started", "Failed", "TimedOut", "Aborted")
_WAITING_TYPES = frozenset({"WaitStateEntered", "ExecutionSucceeded"})


class HistoryWriter:
    """Stores history events in batches, written whenever the engine is about to wait.

    The events between two waits come microseconds apart; writing them together keeps the
    stored history as current as a watcher can tell, in a few writes per execution instead
    of one per event.
    """

    def __init__(self, store: ExecutionStore, execution_arn: str) -> None:
        self._store = store
        self._execution_arn = execution_arn
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # Map and Parallel branches record from their threads

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append(event)
            if _engine_waits_after(str(event.get("type", ""))):
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._store.append_events(self._execution_arn, self._pending)
            self._pending = []


def _execution(row: Any) -> StoredExecution:
    return StoredExecution(
        execution_arn=row["execution_arn"],
        name=row["name"],
        state_machine_arn=row["state_machine_arn"],
        bucket=row["bucket"],
        image_key=row["image_key"],
        version_id=row["version_id"],
        status=row["status"],
        start_date=row["start_date"],
        stop_date=row["stop_date"],
        input=json.loads(row["input"]),
        output=json.loads(row["output"]) if row["output"] is not None else None,
        error=row["error"],
        cause=row["cause"],
        owner_runner=row["owner_runner"],
        owner_pid=row["owner_pid"],
    )
