"""Map Runs in the executions file: the engine's ``MapRunStore`` port on SQLite.

A DISTRIBUTED Map (the backfill's) leaves a Map Run and one child execution per item
(``facepipe.engine.maprun``); kept here, they outlive the process, so ``facepipe show``, the
console and a later ``facepipe redrive`` read them. The engine hands the store the same
``MapRun`` object at its start and its end and updates its counts in between: this process
keeps the runs it saved in memory (the live counts) and writes their counts to the file as
children end (at most every ``COUNTS_EVERY`` seconds), so another process sees the progress.
Runs this process did not save are read from the file on each call.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from facepipe.engine.maprun import ChildExecution, MapRun
from facepipe.local.executions.file import ExecutionsFile, to_json

COUNTS_EVERY = 0.5  # seconds between two writes of a live run's counts


class SqliteMapRunStore:
    """Map Runs and their children in the executions file (threads and processes share it)."""

    def __init__(self, file: ExecutionsFile) -> None:
        self._file = file
        self._live: dict[str, MapRun] = {}  # the runs this process saved (the same objects)
        self._counts_written: dict[str, float] = {}
        self._lock = threading.Lock()

    # --- the MapRunStore port ----------------------------------------------------------------
    def save_map_run(self, run: MapRun) -> None:
        with self._lock:
            self._live[run.map_run_arn] = run
            self._counts_written[run.map_run_arn] = time.monotonic()
        described = run.describe()
        with self._file.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO map_runs (map_run_arn, execution_arn, state_machine_arn,"
                " max_concurrency, tolerated_failure_percentage, tolerated_failure_count,"
                " start_date, status, stop_date, item_counts, execution_counts, redrive_count,"
                " redrive_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.map_run_arn,
                    run.execution_arn,
                    run.state_machine_arn,
                    run.max_concurrency,
                    run.tolerated_failure_percentage,
                    run.tolerated_failure_count,
                    run.start_date.isoformat(),
                    run.status,
                    _text(run.stop_date),
                    to_json(described["itemCounts"]),
                    to_json(described["executionCounts"]),
                    run.redrive_count,
                    _text(run.redrive_date),
                ),
            )
        if run.stop_date is not None:  # ended: the file has it all now
            with self._lock:
                self._live.pop(run.map_run_arn, None)
                self._counts_written.pop(run.map_run_arn, None)

    def map_run(self, map_run_arn: str) -> MapRun | None:
        with self._lock:
            live = self._live.get(map_run_arn)
        if live is not None:
            return live
        row = (
            self._file.db.connection()
            .execute("SELECT * FROM map_runs WHERE map_run_arn = ?", (map_run_arn,))
            .fetchone()
        )
        return _map_run(row) if row else None

    def map_runs_of(self, execution_arn: str) -> list[MapRun]:
        rows = self._file.db.connection().execute(
            "SELECT map_run_arn FROM map_runs WHERE execution_arn = ? ORDER BY start_date",
            (execution_arn,),
        )
        found = [self.map_run(row["map_run_arn"]) for row in rows.fetchall()]
        with self._lock:  # a run saved here but not yet committed cannot be missing
            known = {run.map_run_arn for run in found if run is not None}
            found += [
                run
                for run in self._live.values()
                if run.execution_arn == execution_arn and run.map_run_arn not in known
            ]
        return [run for run in found if run is not None]

    def save_child(self, child: ChildExecution, history: list[dict[str, Any]] | None) -> None:
        with self._file.write() as conn:
            conn.execute(
                "INSERT INTO map_run_children (execution_arn, map_run_arn, name,"
                " state_machine_arn, execution_type, item_count, input, start_date, status,"
                " stop_date, output, error, cause, child_index, checkpoint, redrive_count,"
                " redrive_date, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?) ON CONFLICT (execution_arn) DO UPDATE SET status = excluded.status,"
                " stop_date = excluded.stop_date, output = excluded.output,"
                " error = excluded.error, cause = excluded.cause,"
                " checkpoint = excluded.checkpoint, redrive_count = excluded.redrive_count,"
                " redrive_date = excluded.redrive_date,"
                # The engine saves a starting child with no history: keep the one it had.
                " history = coalesce(excluded.history, map_run_children.history)",
                (
                    child.execution_arn,
                    child.map_run_arn,
                    child.name,
                    child.state_machine_arn,
                    child.execution_type,
                    child.item_count,
                    child.input,
                    child.start_date.isoformat(),
                    child.status,
                    _text(child.stop_date),
                    child.output,
                    child.error,
                    child.cause,
                    child.index,
                    None if child.checkpoint is None else to_json(child.checkpoint),
                    child.redrive_count,
                    _text(child.redrive_date),
                    None if history is None else to_json(history),
                ),
            )
            self._write_counts(conn, child.map_run_arn)

    def child(self, execution_arn: str) -> ChildExecution | None:
        row = (
            self._file.db.connection()
            .execute("SELECT * FROM map_run_children WHERE execution_arn = ?", (execution_arn,))
            .fetchone()
        )
        return _child(row) if row else None

    def children_of(self, map_run_arn: str) -> list[ChildExecution]:
        rows = self._file.db.connection().execute(
            "SELECT * FROM map_run_children WHERE map_run_arn = ? ORDER BY start_date",
            (map_run_arn,),
        )
        return [_child(row) for row in rows]

    def child_history(self, execution_arn: str) -> list[dict[str, Any]] | None:
        row = (
            self._file.db.connection()
            .execute(
                "SELECT history FROM map_run_children WHERE execution_arn = ?", (execution_arn,)
            )
            .fetchone()
        )
        if row is None or row["history"] is None:
            return None
        return list(json.loads(row["history"]))

    # --- for the host ------------------------------------------------------------------------
    def child_for_image(self, key: str) -> list[ChildExecution]:
        """The children whose item is the object ``key`` (a ListObjectsV2 entry), newest first."""
        rows = self._file.db.connection().execute(
            "SELECT * FROM map_run_children"
            " WHERE json_extract(input, '$.object.Key') = ? ORDER BY start_date DESC",
            (key,),
        )
        return [_child(row) for row in rows]

    def abort_unfinished(self, execution_arn: str, now: datetime) -> None:
        """The execution's Map Runs and children left RUNNING (its runner was killed) end
        ABORTED, as a stopped execution's Map Run does."""
        stamp = now.isoformat()
        with self._file.write() as conn:
            runs = [
                row["map_run_arn"]
                for row in conn.execute(
                    "SELECT map_run_arn FROM map_runs WHERE execution_arn = ? AND status = ?",
                    (execution_arn, "RUNNING"),
                )
            ]
            for arn in runs:
                conn.execute(
                    "UPDATE map_run_children SET status = 'ABORTED', stop_date = ?"
                    " WHERE map_run_arn = ? AND status = 'RUNNING'",
                    (stamp, arn),
                )
                conn.execute(
                    "UPDATE map_runs SET status = 'ABORTED', stop_date = ? WHERE map_run_arn = ?",
                    (stamp, arn),
                )

    def _write_counts(self, conn: Any, map_run_arn: str) -> None:
        """A live run's counts, for readers in other processes (not on every child)."""
        with self._lock:
            run = self._live.get(map_run_arn)
            if run is None:
                return
            now = time.monotonic()
            if now - self._counts_written.get(map_run_arn, 0.0) < COUNTS_EVERY:
                return
            self._counts_written[map_run_arn] = now
        described = run.describe()
        conn.execute(
            "UPDATE map_runs SET item_counts = ?, execution_counts = ?, status = ?"
            " WHERE map_run_arn = ?",
            (
                to_json(described["itemCounts"]),
                to_json(described["executionCounts"]),
                run.status,
                map_run_arn,
            ),
        )


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _date(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _map_run(row: Any) -> MapRun:
    start = _date(row["start_date"])
    assert start is not None
    return MapRun(
        map_run_arn=row["map_run_arn"],
        execution_arn=row["execution_arn"],
        state_machine_arn=row["state_machine_arn"],
        max_concurrency=int(row["max_concurrency"]),
        tolerated_failure_percentage=float(row["tolerated_failure_percentage"]),
        tolerated_failure_count=int(row["tolerated_failure_count"]),
        start_date=start,
        status=row["status"],
        stop_date=_date(row["stop_date"]),
        item_counts=json.loads(row["item_counts"]),
        execution_counts=json.loads(row["execution_counts"]),
        redrive_count=int(row["redrive_count"]),
        redrive_date=_date(row["redrive_date"]),
    )


def _child(row: Any) -> ChildExecution:
    start = _date(row["start_date"])
    assert start is not None
    return ChildExecution(
        execution_arn=row["execution_arn"],
        name=row["name"],
        state_machine_arn=row["state_machine_arn"],
        map_run_arn=row["map_run_arn"],
        execution_type=row["execution_type"],
        item_count=int(row["item_count"]),
        input=row["input"],
        start_date=start,
        status=row["status"],
        stop_date=_date(row["stop_date"]),
        output=row["output"],
        error=row["error"],
        cause=row["cause"],
        index=row["child_index"],
        checkpoint=None if row["checkpoint"] is None else json.loads(row["checkpoint"]),
        redrive_count=int(row["redrive_count"]),
        redrive_date=_date(row["redrive_date"]),
    )
