"""One row of ``facepipe run``: a file's intake row and how its execution ended."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facepipe.local.executions import ABORTED
from facepipe.local.intake import NOT_UPLOADED, Source
from facepipe.local.outcome import ExecutionOutcome

NOT_STARTED = "NOT_STARTED"  # Ctrl-C came before its upload or its execution started


@dataclass
class FileResult:
    """One row of ``facepipe run``: the file's intake row, and how its execution ended."""

    row: Source
    outcome: ExecutionOutcome | None = None
    annotated: Path | None = None
    annotate_error: str | None = None

    @property
    def key(self) -> str:
        return self.row.key

    @property
    def execution(self) -> Future[ExecutionOutcome] | None:
        return self.row.execution

    @property
    def status(self) -> str:
        if self.row.status is not None:
            return self.row.status
        if self.outcome is not None:
            return self.outcome.status
        return NOT_STARTED

    @property
    def reason(self) -> str | None:
        if self.row.status is not None:
            return self.row.reason
        if self.outcome is None:
            uploaded = self.row.upload is not None
            return f"interrupted before {'its execution started' if uploaded else 'its upload'}"
        return None

    @property
    def failed(self) -> bool:
        if self.row.status == NOT_UPLOADED:
            return True
        outcome = self.outcome
        return outcome is not None and not outcome.succeeded and outcome.status != ABORTED

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.row.label, "key": self.key}
        if self.outcome is not None:
            data.update(self.outcome.to_dict())
        else:
            data.update(status=self.status, reason=self.reason)
        data["annotated"] = str(self.annotated) if self.annotated else None
        if self.annotate_error:
            data["annotateError"] = self.annotate_error
        return data
