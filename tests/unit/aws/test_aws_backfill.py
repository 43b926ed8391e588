"""facepipe.aws.backfill against moto (S3, Step Functions) and a botocore Stubber where moto
answers nothing: its ListMapRuns and DescribeMapRun return empty stubs (moto 5.2), so the Map
Run answers are built in the shape of the Step Functions API reference (DescribeMapRun:
mapRunArn, executionArn, status, startDate, stopDate, maxConcurrency,
toleratedFailurePercentage, toleratedFailureCount, itemCounts, executionCounts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fake_aws import use_fake_aws
from moto import mock_aws

from facepipe.aws.backfill import (
    BackfillError,
    count_objects,
    estimate_cost,
    execution_name,
    latest_backfills,
    map_run_progress,
    start_backfill,
)
from facepipe.aws.prices import (
    REKOGNITION_PER_IMAGE,
    cost_per_thousand_new_images,
    cost_per_thousand_recorded_images,
)
from facepipe.aws.stack import outputs_from_stack

REGION = "eu-west-1"
BUCKET = "facepipe-images"
ACCOUNT = "123456789012"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:FacePipe-Backfill"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:FacePipe-Backfill:backfill-1"
MAP_RUN = f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:FacePipe-Backfill/Backfill:3f2b1c"
T0 = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_fake_aws(monkeypatch, REGION)
    with mock_aws():
        yield


def test_count_objects_pages_through_the_prefix_only(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for index in range(2500):
        s3.put_object(Bucket=BUCKET, Key=f"uploads/{index:05}.jpg", Body=b"12345")
    s3.put_object(Bucket=BUCKET, Key="backfill-results/manifest.json", Body=b"{}")
    calls: list[dict[str, Any]] = []
    s3.meta.events.register("provide-client-params.s3.ListObjectsV2", _record(calls))
    counted = count_objects(s3, BUCKET, "uploads/")
    assert (counted.objects, counted.bytes) == (2500, 12500)
    assert len(calls) == 3 and all(call["MaxKeys"] == 1000 for call in calls)


def _record(calls: list[dict[str, Any]]) -> Any:
    def hook(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    return hook


def test_a_prefix_outside_uploads_is_refused_before_any_call() -> None:
    with pytest.raises(BackfillError, match="outside uploads/"):
        count_objects(None, BUCKET, "backfill-results/")
    with pytest.raises(BackfillError, match="reads only objects under uploads/"):
        start_backfill(None, MACHINE, prefix="")


def test_the_estimate_comes_from_the_price_table() -> None:
    estimate = estimate_cost(10_000)
    services = dict(estimate.lines)
    assert services["Rekognition DetectFaces"] == pytest.approx(10_000 * REKOGNITION_PER_IMAGE)
    assert estimate.total > services["Rekognition DetectFaces"]
    assert 0 < estimate.if_all_recorded < 0.1 * estimate.total


def test_start_backfill_names_the_execution_and_passes_its_input(aws: None) -> None:
    sfn = boto3.client("stepfunctions")
    role = f"arn:aws:iam::{ACCOUNT}:role/backfill"
    machine = sfn.create_state_machine(
        name="FacePipe-Backfill",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
        roleArn=role,
    )["stateMachineArn"]
    arn = start_backfill(sfn, machine, prefix="uploads/2019/", notify_each=True, now=lambda: T0)
    described = sfn.describe_execution(executionArn=arn)
    assert described["name"].startswith("backfill-20261203T100000Z-")
    assert json.loads(described["input"]) == {"prefix": "uploads/2019/", "notifyEach": True}
    again = start_backfill(sfn, machine, now=lambda: T0)
    assert again != arn  # two starts in one second still get two names
    (newest, oldest) = latest_backfills(sfn, machine)[:2]
    assert {newest.execution_arn, oldest.execution_arn} == {arn, again}
    assert newest.status == "RUNNING"


def test_execution_names_fit_start_executions_rule() -> None:
    name = execution_name(T0)
    assert len(name) <= 80 and name.replace("-", "").isalnum()


def test_progress_from_the_map_run_counts() -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    stubber = Stubber(sfn)
    stubber.add_response(
        "list_map_runs",
        {"mapRuns": [{"executionArn": EXECUTION, "mapRunArn": MAP_RUN,
                      "stateMachineArn": MACHINE, "startDate": T0}]},
        {"executionArn": EXECUTION},
    )  # fmt: skip
    counts = {"pending": 500, "running": 8, "succeeded": 390, "failed": 10, "timedOut": 0,
              "aborted": 0, "total": 908, "resultsWritten": 400}  # fmt: skip
    stubber.add_response(
        "describe_map_run",
        {"mapRunArn": MAP_RUN, "executionArn": EXECUTION, "status": "RUNNING", "startDate": T0,
         "maxConcurrency": 80, "toleratedFailurePercentage": 10.0, "toleratedFailureCount": 0,
         "itemCounts": counts, "executionCounts": counts},
        {"mapRunArn": MAP_RUN},
    )  # fmt: skip
    with stubber:
        progress = map_run_progress(sfn, EXECUTION, now=lambda: T0 + timedelta(seconds=100))
    assert progress is not None
    assert (progress.succeeded, progress.failed, progress.pending) == (390, 10, 500)
    assert progress.rate == pytest.approx(4.0)  # 400 finished in 100 s
    assert progress.eta_seconds == pytest.approx(508 / 4.0)


def test_no_progress_before_the_map_run_starts() -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    stubber = Stubber(sfn)
    stubber.add_response("list_map_runs", {"mapRuns": []}, {"executionArn": EXECUTION})
    with stubber:
        assert map_run_progress(sfn, EXECUTION) is None


def _stack(**extra: str) -> dict[str, Any]:
    outputs = {
        "BucketName": BUCKET,
        "UploadPrefix": "uploads/",
        "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:FacePipe",
        "TableName": "FaceRecords",
        **extra,
    }
    return {
        "StackName": "FacePipe",
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
    }


def test_the_backfill_arn_is_read_from_the_stack_outputs_when_there() -> None:
    assert outputs_from_stack(_stack(BackfillStateMachineArn=MACHINE)).backfill_state_machine_arn
    # A stack deployed before the backfill still reads (the other commands keep working).
    assert outputs_from_stack(_stack()).backfill_state_machine_arn is None


def test_the_readme_quotes_the_price_table() -> None:
    """The README's backfill cost table is this module's figures, so the two cannot drift."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    lines = cost_per_thousand_new_images()
    for line in lines:
        assert f"| {line.service} | ${line.per_thousand:.3f} |" in readme
    assert f"| **total** | **${sum(line.per_thousand for line in lines):.3f}** |" in readme
    assert f"costs ${cost_per_thousand_recorded_images():.3f} per 1,000" in readme
