"""The pending-event queue: uploads whose execution has not ended yet.

An event is written when the upload rule matches (``add``) and removed when its execution
stops, in the same write as the execution's end; what a killed runner left is taken over
by the next one (``take_orphaned``) and run again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from facepipe.local.executions.file import NO_RUNNER, ExecutionsFile, to_json
from facepipe.local.executions.uploads import forget_planned


class PendingEvents:
    """Pending events in the executions file."""

    def __init__(self, file: ExecutionsFile) -> None:
        self._file = file

    def add(
        self, event_id: str, event: dict[str, Any], *, planned_upload: int | None = None
    ) -> None:
        """Remember that ``event`` needs an execution (before it is queued for one); the
        planned upload it comes from is done in the same step."""
        with self._file.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO pending_events (event_id, event, received_at,"
                " owner_runner, owner_pid) VALUES (?, ?, ?, ?, ?)",
                (event_id, to_json(event), _utc_now(), self._file.runner_id, os.getpid()),
            )
            if planned_upload is not None:
                forget_planned(conn, planned_upload)

    def waiting_for(self, execution_arn: str) -> bool:
        """Whether a pending event (anyone's) is to run again what ``execution_arn`` began."""
        row = (
            self._file.db.connection()
            .execute(
                "SELECT 1 FROM pending_events WHERE execution_arn = ? LIMIT 1", (execution_arn,)
            )
            .fetchone()
        )
        return row is not None

    def count(self) -> int:
        row = self._file.db.connection().execute("SELECT count(*) FROM pending_events").fetchone()
        return int(row[0])

    def take_orphaned(self) -> list[PendingEvent]:
        """Pending events whose runner is gone, now this runner's."""
        taken: list[PendingEvent] = []
        with self._file.write() as conn:
            for row in conn.execute("SELECT * FROM pending_events").fetchall():
                if not self._file.gone(row["owner_runner"]):
                    continue
                self._file.take(conn, "pending_events", "event_id", row["event_id"])
                taken.append(
                    PendingEvent(row["event_id"], json.loads(row["event"]), row["execution_arn"])
                )
        return taken

    def hand_back(self, conn: sqlite3.Connection) -> None:
        """This runner's events go to the next runner (``resume``), as S3 would still
        deliver them (part of ``ExecutionStore.stop_unstarted``)."""
        conn.execute(
            "UPDATE pending_events SET owner_runner = ? WHERE owner_runner = ?",
            (NO_RUNNER, self._file.runner_id),
        )


def link_execution(conn: sqlite3.Connection, event_id: str, execution_arn: str) -> None:
    """The pending event's execution has started (inside the write that records it)."""
    conn.execute(
        "UPDATE pending_events SET execution_arn = ? WHERE event_id = ?",
        (execution_arn, event_id),
    )


def resolve(conn: sqlite3.Connection, event_id: str) -> None:
    """The pending event's execution has stopped (inside the write that records it)."""
    conn.execute("DELETE FROM pending_events WHERE event_id = ?", (event_id,))


@dataclass(frozen=True)
class PendingEvent:
    """An upload's event still waiting for its execution to end."""

    event_id: str
    event: dict[str, Any]
    execution_arn: str | None  # the execution that was running it, if one had started


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()
