"""The console's one port: where executions, images, records and emails come from.

Two adapters: the offline pipeline (``facepipe.console.local_source``) and a deployed stack
(``facepipe.console.aws_source``). The web app sees only this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from facepipe.summary import Timed


class UploadRefused(ValueError):
    """An upload the console will not store, with a message for the person who sent it."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class UploadReceipt:
    """An image stored in the bucket; its execution starts from the upload event. When
    ``skipped`` says why, nothing was stored: these bytes ran already under ``key``."""

    bucket: str
    key: str
    version_id: str | None
    skipped: str | None = None


@dataclass
class ExecutionItem(Timed):
    """One row of the executions list."""

    execution_arn: str
    name: str
    status: str
    image_key: str
    version_id: str | None
    start_date: datetime | None
    stop_date: datetime | None
    face_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "executionArn": self.execution_arn,
            "name": self.name,
            "status": self.status,
            "imageKey": self.image_key,
            "versionId": self.version_id,
            "startDate": self.start_date.isoformat() if self.start_date else None,
            "stopDate": self.stop_date.isoformat() if self.stop_date else None,
            "durationMs": self.duration_ms,
            "faceCount": self.face_count,
        }


@dataclass
class ExecutionDetail:
    item: ExecutionItem
    bucket: str
    history: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None
    # The definition this execution ran, when not the source's own (a Map Run child's is its
    # Map's ItemProcessor); the Map Run it belongs to; why it has no history, when it has none.
    definition: dict[str, Any] | None = None
    map_run_arn: str | None = None
    execution_type: str = "STANDARD"
    history_note: str | None = None


# AWS keeps no history of an EXPRESS execution; the AWS console says the same of such children.
EXPRESS_NOTE = (
    "An EXPRESS child execution has no execution history in Step Functions: AWS sends it to"
    " CloudWatch Logs only, when the state machine's logging is on."
)
# Offline, the events an EXPRESS child's log group would hold are kept, and drawn as the AWS
# console draws an Express execution from its logs.
EXPRESS_LOGGED_NOTE = (
    "An EXPRESS child execution has no execution history in Step Functions: these are its"
    " events as the state machine's log group holds them (level ALL, without execution data),"
    " which is where the AWS console reads an Express execution from."
)


@dataclass
class ChildPage:
    """One page of ListExecutions --map-run-arn: its entries as the API answers them."""

    executions: list[dict[str, Any]]
    next_token: str | None = None


class ConsoleSource(Protocol):
    """What the console shows, from the offline pipeline or from a deployed stack."""

    @property
    def title(self) -> str: ...

    @property
    def definition(self) -> dict[str, Any]:
        """The ASL definition the executions ran (to draw the graph)."""
        ...

    def list_executions(self, status: str | None = None, limit: int = 100) -> list[ExecutionItem]:
        """Newest first; only ``status`` ones if given."""
        ...

    def execution(self, execution_arn: str) -> ExecutionDetail | None: ...

    def image(self, detail: ExecutionDetail) -> bytes | None:
        """The uploaded image version's bytes (the console serves them as what their first
        bytes say, never as the stored content type, which is the uploader's say)."""
        ...

    def record(self, detail: ExecutionDetail) -> dict[str, Any] | None:
        """The stored record of the image version, as the record store holds it."""
        ...

    def email(self, detail: ExecutionDetail) -> dict[str, str] | None:
        """The email sent for the image version: subject, to, date, body (or None)."""
        ...

    def upload(self, filename: str, data: bytes, content_type: str) -> UploadReceipt:
        """Store the image under the upload prefix; raises UploadRefused when it cannot."""
        ...

    def map_runs(self, execution_arn: str) -> list[dict[str, Any]]:
        """DescribeMapRun's answer for each Map Run the execution started (ListMapRuns),
        oldest first; none for an execution the source does not know."""
        ...

    def map_run(self, map_run_arn: str) -> dict[str, Any] | None:
        """DescribeMapRun's answer, or None for a Map Run the source does not know."""
        ...

    def map_run_children(
        self,
        map_run_arn: str,
        status: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> ChildPage | None:
        """ListExecutions --map-run-arn (newest first, ``status`` only if given), a page of
        at most ``limit``; None for a Map Run the source does not know."""
        ...
