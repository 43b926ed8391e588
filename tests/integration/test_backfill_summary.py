"""The backfill's summary email: statemachine/backfill.asl.json's states after the Map (find
the Map Run, count its items, read the tally, publish once), run on the local engine.

The Map itself cannot run here (the engine on main has no ItemReader), so the machine is the
file's own states with ReadInput leading straight to FindMapRun. DynamoDB and SNS are moto;
moto 5.2 answers ListMapRuns and DescribeMapRun with empty stubs, so a botocore Stubber gives
their answers in the shapes of the Step Functions API reference. The tally item is written as
the children's UpdateItem calls write it (tests/integration/test_backfill_child.py runs those).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from face_table import create_face_table
from fake_aws import use_fake_aws
from moto import mock_aws
from sdk_integrations import sdk_resolver

from facepipe.engine import ExecutionResult, StateMachine

REGION = "us-east-1"
BUCKET = "facepipe-images"
TABLE = "FaceRecords"
NAME = "backfill-20261203T100000Z-abc123"
MACHINE_NAME = "FacePipe-Backfill"
EXECUTION = f"arn:aws:states:{REGION}:123456789012:execution:{MACHINE_NAME}:{NAME}"
MAP_RUN = f"arn:aws:states:{REGION}:123456789012:mapRun:{MACHINE_NAME}/Backfill:5e1f"
DEFINITION = Path(__file__).resolve().parents[2] / "statemachine" / "backfill.asl.json"
T0 = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)
RESOURCES = [
    "arn:aws:states:::aws-sdk:sfn:listMapRuns",
    "arn:aws:states:::aws-sdk:sfn:describeMapRun",
    "arn:aws:states:::aws-sdk:dynamodb:getItem",
    "arn:aws:states:::sns:publish",
]


def summary_machine(map_error: dict[str, str] | None) -> str:
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    states = definition["States"]
    for name in ("IsPrefixAllowed", "PrefixNotAllowed", "ProcessImages"):
        del states[name]
    states["ReadInput"]["Next"] = "FindMapRun"
    if map_error is not None:  # as the Map's Catch assigns it
        states["ReadInput"]["Assign"]["mapError"] = map_error
    return json.dumps(definition)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    use_fake_aws(monkeypatch, REGION)
    with mock_aws():
        table = create_face_table(TABLE)
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="FaceAlerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        yield {"table": table, "topic": topic, "queue": queue, "sqs": sqs, "sns": sns}


def write_tally(table: Any, failures: list[dict[str, str]], **counts: int) -> None:
    item: dict[str, Any] = {"imageKey": f"#BACKFILL#{NAME}", "versionId": "#SUMMARY", **counts}
    if failures:
        item["failures"] = failures
    table.put_item(Item=item)


def run_summary(
    account: dict[str, Any], counts: dict[str, int], map_error: dict[str, str] | None = None
) -> ExecutionResult:
    sfn = boto3.client("stepfunctions")
    stubber = Stubber(sfn)
    stubber.add_response(
        "list_map_runs",
        {"mapRuns": [{"executionArn": EXECUTION, "mapRunArn": MAP_RUN,
                      "stateMachineArn": EXECUTION, "startDate": T0}]},
        {"executionArn": ANY},
    )  # fmt: skip
    item_counts = {"pending": 0, "running": 0, "resultsWritten": counts["total"], **counts}
    stubber.add_response(
        "describe_map_run",
        {"mapRunArn": MAP_RUN, "executionArn": EXECUTION, "status": "SUCCEEDED",
         "startDate": T0, "stopDate": T0, "maxConcurrency": 80,
         "toleratedFailurePercentage": 10.0, "toleratedFailureCount": 0,
         "itemCounts": item_counts, "executionCounts": item_counts},
        {"mapRunArn": MAP_RUN},
    )  # fmt: skip
    clients = {"sfn": sfn, "dynamodb": boto3.client("dynamodb"), "sns": account["sns"]}
    substitutions = {
        "BucketName": BUCKET,
        "TableName": TABLE,
        "TopicArn": account["topic"],
        "ResultsPrefix": "backfill-results",
        "DetectFunctionArn": "unused",
        "PersistFunctionArn": "unused",
        "NotifyFunctionArn": "unused",
    }
    machine = StateMachine(summary_machine(map_error), substitutions, name=MACHINE_NAME)
    with stubber:
        result = machine.run(
            {"prefix": "uploads/2019/"},
            resolver=sdk_resolver(clients, RESOURCES),
            execution_name=NAME,
        )
    stubber.assert_no_pending_responses()
    return result


def emails(account: dict[str, Any]) -> list[dict[str, Any]]:
    answer = account["sqs"].receive_message(QueueUrl=account["queue"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


COUNTS = {"total": 1000, "succeeded": 980, "failed": 20, "timedOut": 0, "aborted": 0}


def test_one_summary_email_with_counts_faces_reasons_and_the_map_run(
    account: dict[str, Any],
) -> None:
    failures = [
        {"key": "uploads/2019/broken.jpg", "error": "InvalidImageFormatException",
         "reason": "The file is not a JPEG or PNG image, or it is damaged."},
    ]  # fmt: skip
    write_tally(account["table"], failures, detected=880, skipped=98, gone=2, failed=20, faces=1530)
    result = run_summary(account, COUNTS)
    assert result.status == "SUCCEEDED", result.cause
    (email,) = emails(account)
    assert email["Subject"] == "facepipe backfill: 1000 images, 20 failed"
    body = email["Message"]
    assert f"The backfill {NAME} of s3://{BUCKET}/uploads/2019/ has ended." in body
    assert "Images: 1000 (980 succeeded, 20 failed, 0 timed out, 0 aborted)" in body
    assert "Detected now: 880, faces found in them: 1530" in body
    assert "Already recorded, not detected again: 98" in body
    assert (
        "- uploads/2019/broken.jpg: The file is not a JPEG or PNG image, or it is damaged. "
        "(InvalidImageFormatException)" in body
    )
    assert f"Map Run: {MAP_RUN}" in body
    assert f"#/v2/executions/details/{result.execution_arn}" in body
    assert result.output == {"mapRunArn": MAP_RUN, "items": {
        "Total": 1000, "Succeeded": 980, "Failed": 20, "TimedOut": 0, "Aborted": 0,
        "Pending": 0, "Running": 0, "ResultsWritten": 1000}}  # fmt: skip


def test_a_failed_map_still_sends_its_summary_then_fails(account: dict[str, Any]) -> None:
    write_tally(account["table"], [], detected=100, failed=150, faces=12)
    counts = {"total": 250, "succeeded": 100, "failed": 150, "timedOut": 0, "aborted": 0}
    error = {"Error": "States.ExceededToleratedFailureThreshold", "Cause": "too many failed"}
    result = run_summary(account, counts, map_error=error)
    assert result.status == "FAILED"
    assert result.error == "States.ExceededToleratedFailureThreshold"
    (email,) = emails(account)
    assert (
        "has ended early: States.ExceededToleratedFailureThreshold (too many failed)."
        in (email["Message"])
    )


def input_machine() -> str:
    """The file's first states (ReadInput, IsPrefixAllowed, PrefixNotAllowed), the Map
    replaced by a Pass that shows the prefix and notifyEach it would list with."""
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    states = {name: definition["States"][name] for name in ("ReadInput", "IsPrefixAllowed")}
    states["PrefixNotAllowed"] = definition["States"]["PrefixNotAllowed"]
    states["ProcessImages"] = {
        "Type": "Pass",
        "Output": "{% {'prefix': $prefix, 'notifyEach': $notifyEach} %}",
        "End": True,
    }
    return json.dumps({**definition, "States": states})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"prefix": "uploads/", "notifyEach": False}),
        (
            {"prefix": "uploads/2019/", "notifyEach": True},
            {"prefix": "uploads/2019/", "notifyEach": True},
        ),
        ({"notifyEach": "yes"}, {"prefix": "uploads/", "notifyEach": False}),
    ],
)
def test_the_input_defaults_to_uploads_without_per_image_email(
    given: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = StateMachine(input_machine(), {"BucketName": BUCKET}).run(given)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


@pytest.mark.parametrize("prefix", ["", "backfill-results/", "uploads", "Uploads/", 7])
def test_a_prefix_outside_uploads_fails_before_listing(prefix: Any) -> None:
    result = StateMachine(input_machine(), {"BucketName": BUCKET}).run({"prefix": prefix})
    assert result.status == "FAILED"
    assert result.error == "Backfill.PrefixNotAllowed"
