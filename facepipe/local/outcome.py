"""What the runtime hands back for one image: its upload, and how its execution ended."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from facepipe.local.objectstore import StoredObject
from facepipe.summary import Timed, face_count


@dataclass(frozen=True)
class ExecutionOutcome(Timed):
    """How one execution of the pipeline ended, for tables, JSON and exit codes."""

    execution_arn: str
    bucket: str
    key: str
    version_id: str
    status: str
    start_date: datetime | None
    stop_date: datetime | None
    output: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def face_count(self) -> int | None:
        return face_count(self.output)

    def to_dict(self) -> dict[str, Any]:
        return {
            "executionArn": self.execution_arn,
            "bucket": self.bucket,
            "key": self.key,
            "versionId": self.version_id,
            "status": self.status,
            "faceCount": self.face_count,
            "durationMs": None if self.duration_ms is None else round(self.duration_ms, 1),
            "error": self.error,
            "cause": self.cause,
        }


@dataclass(frozen=True)
class Upload:
    """An object put into the local bucket, and its execution when the upload rule matched."""

    stored: StoredObject
    execution: Future[ExecutionOutcome] | None

    @property
    def accepted(self) -> bool:
        return self.execution is not None
