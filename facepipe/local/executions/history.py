"""Local executions in SQLite: one row per execution, plus its history appended live.

Each history event is written as the engine records it (``on_event``), so another process
(the console, ``facepipe show``) sees a running execution grow. A row stays RUNNING until
``finish``; ``abandoned`` finds RUNNING rows whose runner is gone (killed), which is what a
later resume has to pick up. The pending event an execution resolves is linked and
removed in the same writes as its start and its end (``facepipe.local.executions.pending``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from facepipe.local.executions.file import RUNNING, ExecutionsFile, to_json
from facepipe.local.executions.pending import link_execution, resolve

if TYPE_CHECKING:
    from facepipe.engine import ExecutionRecord, ExecutionResult

ABORTED = "ABORTED"
IMAGE, BACKFILL = "image", "backfill"  # the two workflows an execution may run
_REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")


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
    kind: str = IMAGE  # IMAGE (one upload) or BACKFILL (a prefix, through a Map Run)
    definition: str | None = None  # the definition text it ran (substitutions applied)
    checkpoint: Any = None  # where it stopped (the engine's checkpoint), for a redrive
    redrive_count: int = 0
    redrive_date: str | None = None

    def record(self, history: list[dict[str, Any]]) -> ExecutionRecord:
        """What the engine's redrive takes (``ExecutionRecord``), with ``history``."""
        from facepipe.engine import ExecutionRecord

        return ExecutionRecord(
            execution_arn=self.execution_arn,
            name=self.name,
            status=self.status,
            input=self.input,
            start_date=datetime.fromisoformat(self.start_date),
            stop_date=datetime.fromisoformat(self.stop_date) if self.stop_date else None,
            history=history,
            checkpoint=self.checkpoint,
            definition=self.definition,
            redrive_count=self.redrive_count,
            redrive_date=datetime.fromisoformat(self.redrive_date) if self.redrive_date else None,
            state_machine_arn=self.state_machine_arn,
            output=self.output,
            error=self.error,
            cause=self.cause,
        )

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
            "kind": self.kind,
            "redriveCount": self.redrive_count,
            "redriveDate": self.redrive_date,
        }


class ExecutionHistory:
    """Executions and their histories in the executions file."""

    def __init__(self, file: ExecutionsFile) -> None:
        self._file = file

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
        kind: str = IMAGE,
        definition: str | None = None,
    ) -> None:
        """Record a RUNNING execution; the pending event it resolves learns of it in the same
        write, so a kill can never leave the one without the other (and a resume run twice)."""
        with self._file.write() as conn:
            conn.execute(
                "INSERT INTO executions (execution_arn, name, state_machine_arn, bucket,"
                " image_key, version_id, status, start_date, input, owner_runner, owner_pid,"
                " kind, definition) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    execution_arn,
                    name,
                    state_machine_arn,
                    bucket,
                    image_key,
                    version_id,
                    RUNNING,
                    start_date.isoformat(),
                    to_json(input),
                    self._file.runner_id,
                    os.getpid(),
                    kind,
                    definition,
                ),
            )
            if pending_event_id is not None:
                link_execution(conn, pending_event_id, execution_arn)

    def append_event(self, execution_arn: str, event: dict[str, Any]) -> None:
        self.append_events(execution_arn, [event])

    def append_events(self, execution_arn: str, events: list[dict[str, Any]]) -> None:
        with self._file.write() as conn:
            conn.executemany(
                "INSERT INTO execution_events (execution_arn, event_id, event) VALUES (?, ?, ?)",
                [(execution_arn, int(event["id"]), to_json(event)) for event in events],
            )

    def history_writer(self, execution_arn: str) -> HistoryWriter:
        """An ``on_event`` listener for the engine that stores the execution's history live."""
        return HistoryWriter(self, execution_arn)

    def finish(self, result: ExecutionResult, *, pending_event_id: str | None = None) -> None:
        """Store how a run (or a redrive) ended, with what a later redrive needs."""
        self.mark_stopped(
            result.execution_arn,
            status=result.status,
            stop_date=result.stop_date,
            output=result.output,
            error=result.error,
            cause=result.cause,
            pending_event_id=pending_event_id,
        )
        with self._file.write() as conn:
            conn.execute(
                "UPDATE executions SET definition = ?, checkpoint = ?, redrive_count = ?,"
                " redrive_date = ? WHERE execution_arn = ?",
                (
                    result.definition or None,
                    None if result.checkpoint is None else to_json(result.checkpoint),
                    result.redrive_count,
                    result.redrive_date.isoformat() if result.redrive_date else None,
                    result.execution_arn,
                ),
            )

    def begin_redrive(self, execution_arn: str) -> bool:
        """Set an unsuccessful execution RUNNING again, this runner's, for its redrive (so a
        second redrive of it is refused while this one runs); False if it was not
        unsuccessful any more (another process got there first)."""
        with self._file.write() as conn:
            changed = conn.execute(
                "UPDATE executions SET status = ?, stop_date = NULL, owner_runner = ?,"
                f" owner_pid = ? WHERE execution_arn = ? AND status IN {_REDRIVABLE}",
                (RUNNING, self._file.runner_id, os.getpid(), execution_arn),
            ).rowcount
        return changed == 1

    def unsuccessful_since(self, since: datetime) -> list[StoredExecution]:
        """FAILED, TIMED_OUT and ABORTED executions that stopped at ``since`` or later,
        oldest first."""
        rows = self._file.db.connection().execute(
            f"SELECT * FROM executions WHERE status IN {_REDRIVABLE} AND stop_date >= ?"
            " ORDER BY stop_date, rowid",
            (since.isoformat(),),
        )
        return [_execution(row) for row in rows]

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
        with self._file.write() as conn:
            conn.execute(
                "UPDATE executions SET status = ?, stop_date = ?, output = ?, error = ?, cause = ?"
                " WHERE execution_arn = ?",
                (
                    status,
                    stop_date.isoformat() if stop_date else None,
                    None if output is None else to_json(output),
                    error,
                    cause,
                    execution_arn,
                ),
            )
            if pending_event_id is not None:
                resolve(conn, pending_event_id)

    def abort(self, execution_arn: str, *, error: str, cause: str) -> bool:
        """End a RUNNING execution as ABORTED, with an ExecutionAborted event closing its
        history; False when it was not RUNNING (another process got there first)."""
        now = datetime.now(UTC)
        with self._file.write() as conn:
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
                (execution_arn, event["id"], to_json(event)),
            )
        return True

    # --- reading ---------------------------------------------------------------------------
    def get(self, execution_arn: str) -> StoredExecution | None:
        row = (
            self._file.db.connection()
            .execute("SELECT * FROM executions WHERE execution_arn = ?", (execution_arn,))
            .fetchone()
        )
        return _execution(row) if row else None

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's events in order (timestamps as ISO-8601 strings)."""
        rows = self._file.db.connection().execute(
            "SELECT event FROM execution_events WHERE execution_arn = ? ORDER BY event_id",
            (execution_arn,),
        )
        return [json.loads(row["event"]) for row in rows]

    def list_executions(
        self, *, limit: int = 50, status: str | None = None
    ) -> list[StoredExecution]:
        """Newest first; optionally only those with ``status``."""
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        rows = self._file.db.connection().execute(
            f"SELECT * FROM executions {where} ORDER BY start_date DESC, rowid DESC LIMIT ?",
            (*params, limit),
        )
        return [_execution(row) for row in rows]

    def for_image(self, image_key: str, version_id: str | None = None) -> list[StoredExecution]:
        """Executions of one image (one version of it, if given), newest first."""
        sql = "SELECT * FROM executions WHERE image_key = ? AND kind = 'image'"
        params: list[object] = [image_key]
        if version_id is not None:
            sql += " AND version_id = ?"
            params.append(version_id)
        rows = self._file.db.connection().execute(
            sql + " ORDER BY start_date DESC, rowid DESC", params
        )
        return [_execution(row) for row in rows]

    def abandoned(self) -> list[StoredExecution]:
        """RUNNING executions whose runner is gone: left by a crash or kill."""
        running = self.list_executions(limit=1_000_000, status=RUNNING)
        return [found for found in running if self._file.gone(found.owner_runner)]


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

    def __init__(self, store: ExecutionHistory, execution_arn: str) -> None:
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
        kind=row["kind"],
        definition=row["definition"],
        checkpoint=json.loads(row["checkpoint"]) if row["checkpoint"] is not None else None,
        redrive_count=int(row["redrive_count"]),
        redrive_date=row["redrive_date"],
    )
