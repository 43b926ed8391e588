"""Executions of the deployed state machine: list, find the one an upload started, follow it.

Step Functions starts the execution from EventBridge a moment after the upload, so finding
it means polling ListExecutions (newest first) and matching each candidate's input, the
"Object Created" event, by object key and version id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

RUNNING = "RUNNING"
Sleep = Callable[[float], None]
HistoryListener = Callable[[str, list[dict[str, Any]]], None]


class ExecutionNotFound(LookupError):
    pass


class ExpressWorkflowError(ValueError):
    """The state machine is EXPRESS: Step Functions keeps no history to list, find or draw."""


EXPRESS = "EXPRESS"


def log_group_name(described: dict[str, Any]) -> str | None:
    """The CloudWatch Logs group a DescribeStateMachine answer logs executions to."""
    for destination in described.get("loggingConfiguration", {}).get("destinations", []):
        arn = destination.get("cloudWatchLogsLogGroup", {}).get("logGroupArn", "")
        if ":log-group:" in arn:
            return str(arn.split(":log-group:", 1)[1].removesuffix(":*"))
    return None


def express_refusal(described: dict[str, Any], command: str) -> ExpressWorkflowError:
    name = described.get("name") or described.get("stateMachineArn", "the state machine")
    group = log_group_name(described)
    where = (
        f"its executions are logged to the CloudWatch Logs group {group} "
        f"(`aws logs tail {group} --follow`), which the Step Functions console's "
        "Executions tab also reads"
        if group
        else "turn on its CloudWatch Logging to see its executions"
    )
    return ExpressWorkflowError(
        f"state machine {name} is an EXPRESS workflow: Step Functions keeps no execution "
        "history for Express workflows (ListExecutions, DescribeExecution and "
        f"GetExecutionHistory do not support them), so `facepipe {command}` cannot "
        f"list, find, follow or draw its executions; {where}. Deploy with "
        "-c workflowType=STANDARD (the default) to use it."
    )


def describe_standard_state_machine(
    sfn: Any, state_machine_arn: str, command: str
) -> dict[str, Any]:
    """DescribeStateMachine, refusing an EXPRESS state machine with a message that says why
    and where its executions are (the CloudWatch Logs group)."""
    described: dict[str, Any] = sfn.describe_state_machine(stateMachineArn=state_machine_arn)
    if described.get("type") == EXPRESS:
        raise express_refusal(described, command)
    return described


def state_machine_of_express_execution(execution_arn: str) -> str | None:
    """``arn:...:express:Machine:name:id`` -> ``arn:...:stateMachine:Machine``; None for
    any other ARN. (Express executions have their own ARN resource type.)"""
    parts = execution_arn.split(":")
    if len(parts) < 7 or parts[5] != "express":
        return None
    return ":".join([*parts[:5], "stateMachine", parts[6]])


def list_executions(
    sfn: Any, state_machine_arn: str, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """ListExecutions entries, newest first (as the API returns them), at most ``limit``."""
    arguments: dict[str, Any] = {"stateMachineArn": state_machine_arn}
    if status:
        arguments["statusFilter"] = status
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(**arguments):
        found.extend(page["executions"])
        if len(found) >= limit:
            break
    return found[:limit]


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every GetExecutionHistory event, oldest first, across all pages."""
    events: list[dict[str, Any]] = []
    paginator = sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn, includeExecutionData=True):
        events.extend(page["events"])
    return events


def uploaded_object(execution_input: str | None) -> tuple[str, str | None] | None:
    """(key, version id) of the "Object Created" event an execution started from.

    The key as the event carries it: EventBridge delivers S3 keys unencoded.
    """
    try:
        event = json.loads(execution_input or "")
        obj = event["detail"]["object"]
        return str(obj["key"]), obj.get("version-id")
    except (ValueError, KeyError, TypeError):
        return None


def _started_by(execution_input: str | None, key: str, version_id: str | None) -> bool:
    """Whether the execution's event is the upload of ``key``, its key encoded or not."""
    found = uploaded_object(execution_input)
    return (
        found is not None and found[1] == version_id and key in (found[0], unquote_plus(found[0]))
    )


def find_execution_for(
    sfn: Any,
    state_machine_arn: str,
    key: str,
    version_id: str | None,
    *,
    started_after: datetime,
    timeout: float = 60.0,
    poll_seconds: float = 1.0,
    sleep: Sleep = time.sleep,
) -> str:
    """The ARN of the execution whose input is the upload of ``key`` at ``version_id``."""
    checked: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        for entry in list_executions(sfn, state_machine_arn, limit=25):
            arn = entry["executionArn"]
            if arn in checked or entry["startDate"] < started_after:
                continue
            checked.add(arn)
            described = sfn.describe_execution(executionArn=arn)
            if _started_by(described.get("input"), key, version_id):
                return str(arn)
        if time.monotonic() >= deadline:
            version = f"version {version_id}" if version_id else "unversioned"
            raise ExecutionNotFound(
                f"no execution started for {key} ({version}) within {timeout:g} s:"
                " check that the upload rule is enabled and the key matches its pattern"
            )
        sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))


def follow_execution(
    sfn: Any,
    execution_arn: str,
    on_history: HistoryListener,
    *,
    poll_seconds: float = 1.0,
    timeout: float = 900.0,
    sleep: Sleep = time.sleep,
) -> dict[str, Any]:
    """Poll until the execution stops, calling ``on_history(status, events)`` each time.

    Returns the final DescribeExecution answer (or the last one, at ``timeout``).
    """
    deadline = time.monotonic() + timeout
    seen = -1
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        events = execution_history(sfn, execution_arn)
        if len(events) != seen or described["status"] != RUNNING:
            seen = len(events)
            on_history(described["status"], events)
        if described["status"] != RUNNING or time.monotonic() >= deadline:
            return described
        sleep(poll_seconds)
