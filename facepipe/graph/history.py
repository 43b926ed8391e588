"""What each state did in one execution, read from GetExecutionHistory-shaped events.

Works on the local engine's history and on boto3's ``get_execution_history`` events alike:
timestamps may be ``datetime`` objects or ISO-8601 strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class StateStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CAUGHT = "caught"  # failed, and a Catch moved the execution on
    RUNNING = "running"
    NOT_REACHED = "not_reached"


@dataclass
class StateRun:
    """One state's part in one execution (the last visit, if a state is entered again)."""

    name: str
    status: StateStatus = StateStatus.NOT_REACHED
    entered_at: datetime | None = None
    exited_at: datetime | None = None
    input: str | None = None
    output: str | None = None
    attempts: int = 0
    error: str | None = None
    cause: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)  # (error, cause) per attempt

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)

    @property
    def duration_ms(self) -> float | None:
        if self.entered_at is None or self.exited_at is None:
            return None
        return (self.exited_at - self.entered_at).total_seconds() * 1000


@dataclass
class ExecutionSummary:
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    path: list[str]  # states entered, in order
    states: dict[str, StateRun]
    error: str | None = None
    cause: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value)
    return None


def _details(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The ``...EventDetails`` member of an event whose key ends with ``suffix``."""
    wanted = suffix.lower()
    for key, value in event.items():
        if key.lower().endswith(wanted) and isinstance(value, dict):
            return value
    return {}


_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")
_TERMINAL = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


def billed_transitions(events: list[dict[str, Any]]) -> int:
    """State transitions as Step Functions bills a Standard execution for these events.

    "Step Functions counts a state transition each time a step of your workflow is executed
    ... including retries", and "each retry will be charged as an additional state
    transition" (https://aws.amazon.com/step-functions/pricing/): one per state entered (a
    Choice, Succeed or Fail state too), plus one per Task attempt after a state's first.
    """
    transitions = attempts = 0
    for event in events:
        kind: str = event.get("type", "")
        if kind.endswith("StateEntered"):
            transitions += 1
            attempts = 0
        elif kind in _SCHEDULED:
            attempts += 1
            transitions += attempts > 1
    return transitions


def summarize_history(events: list[dict[str, Any]], state_names: list[str]) -> ExecutionSummary:
    """Fold the events into a :class:`StateRun` per state of ``state_names`` (top level)."""
    runs = {name: StateRun(name) for name in state_names}
    summary = ExecutionSummary(status="RUNNING", path=[], states=runs)
    current: StateRun | None = None
    for event in events:
        kind: str = event.get("type", "")
        when = _timestamp(event.get("timestamp"))
        if kind == "ExecutionStarted":
            summary.started_at = when
        elif kind.endswith("StateEntered"):
            name = _details(event, "StateEnteredEventDetails").get("name", "")
            if name not in runs:  # a state inside a Map or Parallel branch
                continue
            if current is not None and current.status is StateStatus.RUNNING and current.error:
                current.status = StateStatus.CAUGHT  # left by a Catch, without an exit event
            current = runs[name]
            current.status = StateStatus.RUNNING
            current.entered_at, current.exited_at = when, None
            current.input = _details(event, "StateEnteredEventDetails").get("input")
            current.attempts, current.failures = 0, []
            current.error = current.cause = None
            summary.path.append(name)
            if kind == "FailStateEntered":
                current.status = StateStatus.FAILED
                current.exited_at = when
        elif kind.endswith("StateExited"):
            name = _details(event, "StateExitedEventDetails").get("name", "")
            run = runs.get(name)
            if run is None:
                continue
            run.exited_at = when
            run.output = _details(event, "StateExitedEventDetails").get("output")
            run.status = StateStatus.CAUGHT if run.error else StateStatus.SUCCEEDED
        elif kind in _SCHEDULED and current is not None:
            current.attempts += 1
        elif kind.endswith(("Succeeded",)) and current is not None and kind not in _TERMINAL:
            current.error = current.cause = None  # a retry succeeded
        elif kind.endswith(("Failed", "TimedOut")) and kind not in _TERMINAL and current:
            details = _details(event, "EventDetails")
            current.error = details.get("error", kind)
            current.cause = details.get("cause", "")
            current.failures.append((current.error or "", current.cause or ""))
        elif kind in _TERMINAL:
            summary.status = _TERMINAL[kind]
            summary.stopped_at = when
            details = _details(event, "EventDetails")
            summary.error, summary.cause = details.get("error"), details.get("cause")
            if current is not None and current.status is StateStatus.RUNNING:
                failed = summary.status != "SUCCEEDED"
                current.status = StateStatus.FAILED if failed else StateStatus.SUCCEEDED
                current.exited_at = current.exited_at or when
                if failed and current.error is None:
                    current.error, current.cause = summary.error, summary.cause
    return summary
