"""Redrive: an unsuccessful STANDARD execution continued from where it stopped.

As Step Functions' RedriveExecution does it
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html,
https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html): the same
execution ARN and definition, its history continued with `ExecutionRedriven`
(`redriveCount`), then the state that did not succeed entered again with the input it was
given; states that succeeded are not run again. Inside a Parallel or an inline Map only the
branches/iterations that failed or were aborted run again; a Distributed Map's Map Run
redrives its unsuccessful children (`MapRunRedriven`).

What the engine needs to start again is the `ExecutionRecord` a host keeps: the execution's
own definition, its history, status, dates, redrive count, and the engine's `checkpoint`
(where each flow stopped, its input and variables, and for a fan-out each unit's outcome).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from facepipe.engine.maprun import ApiError

# RedriveExecution's conditions: within 14 days of the stop, at most a year open, fewer than
# 24,999 events (room for ExecutionRedriven and one more).
REDRIVABLE_PERIOD = timedelta(days=14)
MAX_OPEN_TIME = timedelta(days=365)
MAX_HISTORY_EVENTS = 24_999
MAP_RUN_REDRIVE_LIMIT = 1000  # "the hard limit of 1000 redrives of a given Map Run"

REDRIVABLE, NOT_REDRIVABLE, REDRIVABLE_BY_MAP_RUN = (
    "REDRIVABLE", "NOT_REDRIVABLE", "REDRIVABLE_BY_MAP_RUN",
)  # fmt: skip
UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")

# DescribeExecution's redriveStatusReason values, which are also ExecutionNotRedrivable's
# messages (API_DescribeExecution.html, redriveStatusReason).
RUNNING_REASON = "Execution is RUNNING and cannot be redriven"
SUCCEEDED_REASON = "Execution is SUCCEEDED and cannot be redriven"
BEFORE_LAUNCH_REASON = "Execution was started before the launch of RedriveExecution"
HISTORY_LIMIT_REASON = "Execution history event limit exceeded"
MAX_TIME_REASON = "Execution has exceeded the max execution time"
PERIOD_REASON = "Execution redrivable period exceeded"


@dataclass
class ExecutionRecord:
    """What a host keeps of one execution so that it can be redriven.

    `definition` is the execution's own definition text (`ExecutionResult.definition`,
    substitutions applied): a redrive runs it, not the machine's current one. `history` is
    the GetExecutionHistory events so far (ids 1..n); `checkpoint` is
    `ExecutionResult.checkpoint` (JSON). Dates are aware datetimes.
    """

    execution_arn: str
    name: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    input: Any
    start_date: datetime
    stop_date: datetime | None
    history: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None
    definition: str | None = None
    redrive_count: int = 0
    redrive_date: datetime | None = None
    execution_type: str = "STANDARD"
    state_machine_arn: str = ""
    output: Any = None
    error: str | None = None
    cause: str | None = None


def redrive_status(
    *,
    status: str,
    execution_type: str,
    start_date: datetime | None,
    stop_date: datetime | None,
    history_length: int,
    has_checkpoint: bool,
    now: datetime,
) -> tuple[str, str | None]:
    """DescribeExecution's (redriveStatus, redriveStatusReason) for an execution."""
    if execution_type == "EXPRESS":
        # A Map Run's EXPRESS child is run again by redriving its Map Run.
        return (REDRIVABLE_BY_MAP_RUN, None) if status in UNSUCCESSFUL else (NOT_REDRIVABLE, None)
    if status == "RUNNING":
        return NOT_REDRIVABLE, RUNNING_REASON
    if status == "SUCCEEDED":
        return NOT_REDRIVABLE, SUCCEEDED_REASON
    if not has_checkpoint:
        return NOT_REDRIVABLE, BEFORE_LAUNCH_REASON
    if history_length >= MAX_HISTORY_EVENTS:
        return NOT_REDRIVABLE, HISTORY_LIMIT_REASON
    if start_date is not None and now - start_date > MAX_OPEN_TIME:
        return NOT_REDRIVABLE, MAX_TIME_REASON
    if stop_date is not None and now - stop_date > REDRIVABLE_PERIOD:
        return NOT_REDRIVABLE, PERIOD_REASON
    return REDRIVABLE, None


def check_redrivable(record: ExecutionRecord, now: datetime) -> None:
    """Raise what RedriveExecution answers when `record` cannot be redriven."""
    if record.execution_type == "EXPRESS":
        # "This API action is not supported by EXPRESS state machines"; the answer is the
        # one the engine gives GetExecutionHistory for an EXPRESS execution.
        raise ApiError(
            "InvalidArn",
            f"Invalid Arn: 'This operation is not supported by EXPRESS state machines: "
            f"{record.execution_arn}'",
        )
    status, reason = redrive_status(
        status=record.status,
        execution_type=record.execution_type,
        start_date=record.start_date,
        stop_date=record.stop_date,
        history_length=len(record.history),
        has_checkpoint=record.checkpoint is not None,
        now=now,
    )
    if status != REDRIVABLE:
        raise ApiError("ExecutionNotRedrivable", reason or "")


def describe_fields(
    record_status: str,
    execution_type: str,
    start_date: datetime | None,
    stop_date: datetime | None,
    history_length: int,
    has_checkpoint: bool,
    redrive_count: int,
    redrive_date: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """DescribeExecution's redriveCount, redriveDate, redriveStatus, redriveStatusReason."""
    status, reason = redrive_status(
        status=record_status, execution_type=execution_type, start_date=start_date,
        stop_date=stop_date, history_length=history_length, has_checkpoint=has_checkpoint,
        now=now,
    )  # fmt: skip
    answer: dict[str, Any] = {"redriveCount": redrive_count, "redriveStatus": status}
    if redrive_date is not None:
        answer["redriveDate"] = redrive_date
    if reason is not None:
        answer["redriveStatusReason"] = reason
    return answer


_FAN_OUT_EVENTS = ("ParallelStateStarted", "MapStateStarted")


def checkpoint_from_history(
    history: list[dict[str, Any]], start_at: str, states: dict[str, Any], execution_input: Any
) -> dict[str, Any] | None:
    """Where a one-level execution stopped, read from its history alone (None when the
    history cannot say): for an execution kept without the engine's checkpoint, such as
    one whose runner was killed and the host marked ABORTED.

    Only a history with no Parallel or Map in it reads unambiguously (their branches'
    events interleave). The variables are those the StateExited events assigned; the state
    is the last one entered and not exited, or the `Next` of the last one exited.
    """
    import json

    variables: dict[str, Any] = {}
    entered: tuple[str, Any] | None = None
    exited: str | None = None
    last_output: Any = None
    for event in history:
        kind = event.get("type", "")
        if kind in _FAN_OUT_EVENTS:
            return None
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails") or {}
            entered = (details.get("name", ""), json.loads(details.get("input", "null")))
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails") or {}
            for name, text in (details.get("assignedVariables") or {}).items():
                variables[name] = json.loads(text)
            exited, entered = details.get("name"), None
            last_output = json.loads(details.get("output", "null"))
    if entered is not None:
        name, data = entered
    elif exited is None:
        name, data = start_at, execution_input
    else:
        state = states.get(exited) or {}
        if state.get("Type") == "Choice" or "Next" not in state:
            return None  # which way a Choice went, or the end: not in the history
        name, data = state["Next"], last_output
    if name not in states:
        return None
    return {"state": name, "input": data, "variables": variables}
