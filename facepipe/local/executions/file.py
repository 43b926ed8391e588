"""The executions file: one SQLite file shared by the execution history, the pending-event
queue and the upload journal, with the runner that holds it.

Each opener is a runner, alive while it holds its lock (``facepipe.local.runners``); work a
dead runner owned (its rows' ``owner_runner``) is taken over by the next one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facepipe.local.database import Database
from facepipe.local.runners import RunnerLease, runner_alive, sweep_dead

if TYPE_CHECKING:
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
    (
        # What the engine's redrive needs of an execution (facepipe/engine/README.md, "What
        # the host keeps"), and which workflow it ran: "image" (face_pipeline.asl.json, one
        # upload) or "backfill" (backfill.asl.json over a prefix).
        "ALTER TABLE executions ADD COLUMN definition TEXT",
        "ALTER TABLE executions ADD COLUMN checkpoint TEXT",
        "ALTER TABLE executions ADD COLUMN redrive_count INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE executions ADD COLUMN redrive_date TEXT",
        "ALTER TABLE executions ADD COLUMN kind TEXT NOT NULL DEFAULT 'image'",
        # Map Runs of a Distributed Map and their child executions (map_runs.py).
        """CREATE TABLE map_runs (
            map_run_arn TEXT PRIMARY KEY,
            execution_arn TEXT NOT NULL,        -- the execution whose Map state started it
            state_machine_arn TEXT NOT NULL,
            max_concurrency INTEGER NOT NULL,
            tolerated_failure_percentage REAL NOT NULL,
            tolerated_failure_count INTEGER NOT NULL,
            start_date TEXT NOT NULL,
            status TEXT NOT NULL,
            stop_date TEXT,
            item_counts TEXT NOT NULL,          -- JSON, DescribeMapRun's itemCounts
            execution_counts TEXT NOT NULL,     -- JSON, DescribeMapRun's executionCounts
            redrive_count INTEGER NOT NULL,
            redrive_date TEXT
        )""",
        "CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, start_date)",
        """CREATE TABLE map_run_children (
            execution_arn TEXT PRIMARY KEY,
            map_run_arn TEXT NOT NULL,
            name TEXT NOT NULL,
            state_machine_arn TEXT NOT NULL,
            execution_type TEXT NOT NULL,
            item_count INTEGER NOT NULL,
            input TEXT NOT NULL,                -- JSON text, as the child got it
            start_date TEXT NOT NULL,
            status TEXT NOT NULL,
            stop_date TEXT,
            output TEXT,
            error TEXT,
            cause TEXT,
            child_index INTEGER,
            checkpoint TEXT,                    -- JSON
            redrive_count INTEGER NOT NULL,
            redrive_date TEXT,
            history TEXT                        -- JSON list, once a STANDARD child ended
        )""",
        "CREATE INDEX map_run_children_by_run ON map_run_children (map_run_arn, start_date)",
    ),
]


def executions_db_path(home: DataHome) -> Path:
    return home.root / "executions.sqlite3"


def to_json(value: Any) -> str:
    # History timestamps are datetimes (as boto3 gives them); stored as ISO-8601 text.
    return json.dumps(value, default=_iso, ensure_ascii=False, separators=(",", ":"))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ExecutionsFile:
    """The SQLite file and this process's runner (threads and processes may share the file)."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path, _SCHEMA, name="executions")
        self._runners = path.parent / "runners"
        sweep_dead(self._runners)
        self._lease = RunnerLease(self._runners)
        # Workers of this process queue here rather than in SQLite's busy handler, which
        # sleeps for milliseconds at a time; other processes still meet SQLite's lock.
        self._write_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def runner_id(self) -> str:
        return self._lease.id

    def close(self) -> None:
        self.db.close()
        self._lease.release()

    def gone(self, runner_id: str) -> bool:
        """Whether ``runner_id`` (not this file's own runner) no longer runs."""
        return runner_id != self._lease.id and not runner_alive(self._runners, runner_id)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, self.db.write() as conn:
            yield conn

    def take(self, conn: sqlite3.Connection, table: str, key: str, value: object) -> None:
        """Make the row of ``table`` whose ``key`` is ``value`` this runner's."""
        conn.execute(
            f"UPDATE {table} SET owner_runner = ?, owner_pid = ? WHERE {key} = ?",
            (self._lease.id, os.getpid(), value),
        )
