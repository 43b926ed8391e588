"""Redrive unsuccessful Standard executions (Step Functions RedriveExecution), one by ARN or
every one FAILED since a date, with AWS's rules said before AWS refuses.

AWS's rules (Step Functions API reference, RedriveExecution; DescribeExecution's
redriveStatus): only Standard executions, never EXPRESS ones; only FAILED, ABORTED or
TIMED_OUT ones that stopped within the last 14 days; the execution continues from its
unsuccessful step under the same ARN, with the same input and its history kept. Redriving a
backfill redrives its failed Map Run, which restarts the unsuccessful Express children.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

REDRIVABLE_PERIOD = timedelta(days=14)
REDRIVABLE_STATUSES = ("FAILED", "ABORTED", "TIMED_OUT")
NOT_REDRIVABLE = "NOT_REDRIVABLE"
Clock = Callable[[], datetime]


class RedriveRefused(ValueError):
    """The execution cannot be redriven; the message says why in one sentence."""


# RedriveExecution's errors (API reference), said for a person.
_ERRORS = {
    "ExecutionNotRedrivable": "Step Functions will not redrive {arn}: {message}",
    "ExecutionDoesNotExist": "there is no execution {arn} in this account and region",
    "InvalidArn": "{arn} is not an execution ARN (arn:aws:states:<region>:<account>:execution:...)",
    "ExecutionLimitExceeded": (
        "the account is at its limit of open executions (ExecutionLimitExceeded): redrive "
        "{arn} again once some have ended"
    ),
    "ValidationException": "RedriveExecution refused {arn}: {message}",
}


@dataclass(frozen=True)
class Redriven:
    execution_arn: str
    redrive_date: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def check_redrivable(described: dict[str, Any], now: datetime) -> None:
    """Refuse, with AWS's reason, what RedriveExecution would refuse."""
    arn = str(described["executionArn"])
    status = str(described.get("status", ""))
    if status not in REDRIVABLE_STATUSES:
        raise RedriveRefused(
            f"execution {arn} is {status}: only FAILED, ABORTED or TIMED_OUT executions "
            "can be redriven"
        )
    stopped = described.get("stopDate")
    if stopped is not None and now - stopped > REDRIVABLE_PERIOD:
        raise RedriveRefused(
            f"execution {arn} stopped on {stopped:%Y-%m-%d}, more than 14 days ago: Step "
            "Functions redrives only executions that stopped within the last 14 days"
        )
    if described.get("redriveStatus") == NOT_REDRIVABLE:
        reason = described.get("redriveStatusReason") or "no reason given"
        raise RedriveRefused(f"Step Functions says execution {arn} cannot be redriven: {reason}")


def refuse_express(execution_arn: str) -> None:
    # Express executions have their own ARN resource type (arn:...:express:...).
    parts = execution_arn.split(":")
    if len(parts) > 5 and parts[5] == "express":
        raise RedriveRefused(
            f"{execution_arn} is an EXPRESS execution: RedriveExecution supports Standard "
            "executions only (an Express child of a backfill is redriven with its backfill)"
        )


def redrive(sfn: Any, execution_arn: str, now: Clock = _now) -> Redriven:
    """RedriveExecution of one execution after checking AWS's rules; errors as one sentence."""
    refuse_express(execution_arn)
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
        check_redrivable(described, now())
        response = sfn.redrive_execution(executionArn=execution_arn)
    except ClientError as error:
        raise _refusal(error, execution_arn) from None
    return Redriven(execution_arn, response["redriveDate"])


def _refusal(error: ClientError, execution_arn: str) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    template = _ERRORS.get(code)
    if template is None:
        return error  # credentials, access, throttling: facepipe.aws.errors explains those
    message = error.response.get("Error", {}).get("Message", "")
    return RedriveRefused(template.format(arn=execution_arn, message=message))


def failed_since(sfn: Any, state_machine_arn: str, since: datetime) -> Iterator[dict[str, Any]]:
    """FAILED executions of the state machine that stopped at or after ``since``, page by
    page (ListExecutions with statusFilter FAILED, newest first)."""
    paginator = sfn.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=state_machine_arn, statusFilter="FAILED"):
        for execution in page.get("executions", []):
            stopped = execution.get("stopDate")
            if stopped is not None and stopped >= since:
                yield execution


@dataclass(frozen=True)
class RedriveOutcome:
    execution_arn: str
    redriven: bool
    message: str


def redrive_failed_since(
    sfn: Any, state_machine_arn: str, since: datetime, now: Clock = _now
) -> list[RedriveOutcome]:
    """Redrive each FAILED execution since ``since``; one refusal does not stop the rest."""
    if now() - since > REDRIVABLE_PERIOD:
        raise RedriveRefused(
            f"{since:%Y-%m-%d} is more than 14 days ago: Step Functions redrives only "
            "executions that stopped within the last 14 days; give a later date"
        )
    outcomes = []
    for execution in failed_since(sfn, state_machine_arn, since):
        arn = str(execution["executionArn"])
        try:
            done = redrive(sfn, arn, now)
        except RedriveRefused as refused:
            outcomes.append(RedriveOutcome(arn, False, str(refused)))
            continue
        outcomes.append(RedriveOutcome(arn, True, f"redriven at {done.redrive_date:%H:%M:%S}"))
    return outcomes
