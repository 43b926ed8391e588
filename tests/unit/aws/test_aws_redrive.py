"""facepipe.aws.redrive, held to RedriveExecution's documented rules (Step Functions API
reference, RedriveExecution: Standard executions only, FAILED, ABORTED or TIMED_OUT ones that
stopped within the last 14 days; errors ExecutionNotRedrivable, ExecutionDoesNotExist,
ExecutionLimitExceeded, InvalidArn, ValidationException; DescribeExecution's redriveStatus and
redriveStatusReason). moto 5.2 has no RedriveExecution, so a botocore Stubber answers in the
API's shapes; no call leaves the machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from facepipe.aws.redrive import RedriveRefused, redrive, redrive_failed_since

REGION = "eu-west-1"
PREFIX = f"arn:aws:states:{REGION}:123456789012"
MACHINE = f"{PREFIX}:stateMachine:FacePipe"
NOW = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)


def arn(name: str) -> str:
    return f"{PREFIX}:execution:FacePipe:{name}"


def described(name: str, status: str = "FAILED", stopped_days_ago: float = 1, **extra: Any) -> Any:
    return {
        "executionArn": arn(name),
        "stateMachineArn": MACHINE,
        "name": name,
        "status": status,
        "startDate": NOW - timedelta(days=stopped_days_ago, seconds=30),
        "stopDate": NOW - timedelta(days=stopped_days_ago),
        "redriveStatus": "REDRIVABLE",
        **extra,
    }


@pytest.fixture
def sfn() -> Any:
    return boto3.client(
        "stepfunctions", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_a_failed_execution_is_redriven(sfn: Any) -> None:
    stubber = Stubber(sfn)
    stubber.add_response("describe_execution", described("a"), {"executionArn": arn("a")})
    stubber.add_response("redrive_execution", {"redriveDate": NOW}, {"executionArn": arn("a")})
    with stubber:
        done = redrive(sfn, arn("a"), now=lambda: NOW)
    assert done.redrive_date == NOW
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (described("b", status="SUCCEEDED"), "is SUCCEEDED: only FAILED, ABORTED or TIMED_OUT"),
        (described("b", status="RUNNING"), "is RUNNING"),
        (described("b", stopped_days_ago=15), "more than 14 days ago"),
        (
            described(
                "b",
                redriveStatus="NOT_REDRIVABLE",
                redriveStatusReason="Execution history event limit exceeded.",
            ),
            "cannot be redriven: Execution history event limit exceeded.",
        ),
    ],
)
def test_what_aws_would_refuse_is_refused_first(sfn: Any, answer: Any, message: str) -> None:
    stubber = Stubber(sfn)
    stubber.add_response("describe_execution", answer, {"executionArn": arn("b")})
    with stubber, pytest.raises(RedriveRefused, match=message):
        redrive(sfn, arn("b"), now=lambda: NOW)
    stubber.assert_no_pending_responses()  # RedriveExecution was never called


def test_an_express_execution_is_refused_without_a_call(sfn: Any) -> None:
    express = f"{PREFIX}:express:FacePipe:abc:def"
    with Stubber(sfn), pytest.raises(RedriveRefused, match="Standard executions only"):
        redrive(sfn, express)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ExecutionNotRedrivable", "Step Functions will not redrive"),
        ("ExecutionDoesNotExist", "there is no execution"),
        ("ExecutionLimitExceeded", "limit of open executions"),
        ("InvalidArn", "is not an execution ARN"),
        ("ValidationException", "RedriveExecution refused"),
    ],
)
def test_redrive_errors_become_one_sentence(sfn: Any, code: str, message: str) -> None:
    stubber = Stubber(sfn)
    stubber.add_response("describe_execution", described("c"), {"executionArn": arn("c")})
    stubber.add_client_error("redrive_execution", service_error_code=code, service_message="no")
    with stubber, pytest.raises(RedriveRefused, match=message):
        redrive(sfn, arn("c"), now=lambda: NOW)


def summary(name: str, stopped_days_ago: float) -> dict[str, Any]:
    entry = described(name, stopped_days_ago=stopped_days_ago)
    return {k: entry[k] for k in ("executionArn", "stateMachineArn", "name", "status",
                                  "startDate", "stopDate")}  # fmt: skip


def test_failed_since_pages_and_redrives_each_one(sfn: Any) -> None:
    stubber = Stubber(sfn)
    listing = {"stateMachineArn": MACHINE, "statusFilter": "FAILED"}
    stubber.add_response(
        "list_executions",
        {"executions": [summary("new", 0.5), summary("old", 3)], "nextToken": "page2"},
        listing,
    )
    # "old" and "older" stopped before the date; "new" is redriven.
    stubber.add_response(
        "describe_execution", described("new", stopped_days_ago=0.5), {"executionArn": arn("new")}
    )
    stubber.add_response("redrive_execution", {"redriveDate": NOW}, {"executionArn": arn("new")})
    # Pages are read as they are needed: the second after the first one's redrives.
    stubber.add_response(
        "list_executions",
        {"executions": [summary("older", 9)]},
        {**listing, "nextToken": "page2"},
    )
    with stubber:
        outcomes = redrive_failed_since(sfn, MACHINE, NOW - timedelta(days=2), now=lambda: NOW)
    assert [(o.execution_arn, o.redriven) for o in outcomes] == [(arn("new"), True)]
    stubber.assert_no_pending_responses()


def test_a_refusal_is_reported_and_the_rest_go_on(sfn: Any) -> None:
    stubber = Stubber(sfn)
    stubber.add_response(
        "list_executions",
        {"executions": [summary("x", 0.1), summary("y", 0.2)]},
        {"stateMachineArn": MACHINE, "statusFilter": "FAILED"},
    )
    stubber.add_response(
        "describe_execution", described("x", stopped_days_ago=0.1), {"executionArn": arn("x")}
    )
    stubber.add_client_error("redrive_execution", service_error_code="ExecutionNotRedrivable")
    stubber.add_response(
        "describe_execution", described("y", stopped_days_ago=0.2), {"executionArn": arn("y")}
    )
    stubber.add_response("redrive_execution", {"redriveDate": NOW}, {"executionArn": arn("y")})
    with stubber:
        outcomes = redrive_failed_since(sfn, MACHINE, NOW - timedelta(days=1), now=lambda: NOW)
    assert [o.redriven for o in outcomes] == [False, True]
    assert "will not redrive" in outcomes[0].message


def test_a_date_beyond_the_redrivable_period_is_refused(sfn: Any) -> None:
    with pytest.raises(RedriveRefused, match="more than 14 days ago"):
        redrive_failed_since(sfn, MACHINE, NOW - timedelta(days=20), now=lambda: NOW)
