"""`facepipe console --aws` reads Map Runs with ListMapRuns, DescribeMapRun and
ListExecutions(mapRunArn=...): botocore's Stubber checks each request against the service
model and answers with AWS's shapes (moto answers these APIs with nothing).

https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListMapRuns.html
https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html
https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html
(an EXPRESS child: DescribeExecution "is not supported by EXPRESS state machines",
https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from facepipe.aws.stack import StackOutputs
from facepipe.console.aws_source import AwsConsoleSource

REGION, ACCOUNT = "eu-west-1", "123456789012"
PREFIX = f"arn:aws:states:{REGION}:{ACCOUNT}"
MACHINE = f"{PREFIX}:stateMachine:FacePipeline"
BACKFILL = f"{PREFIX}:stateMachine:FaceBackfill"
PARENT = f"{PREFIX}:execution:FaceBackfill:backfill-1"
MAP_RUN = f"{PREFIX}:mapRun:FaceBackfill/EachImage:0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
CHILD = f"{PREFIX}:execution:FaceBackfill/EachImage:5a6b7c8d-1111-2222-3333-444455556666"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
COUNTS = {
    "pending": 1, "running": 2, "succeeded": 6, "failed": 1, "timedOut": 0, "aborted": 0,
    "total": 10, "resultsWritten": 7,
}  # fmt: skip
DESCRIBED_RUN = {
    "mapRunArn": MAP_RUN,
    "executionArn": PARENT,
    "status": "RUNNING",
    "startDate": T0,
    "maxConcurrency": 5,
    "toleratedFailurePercentage": 5.0,
    "toleratedFailureCount": 0,
    "itemCounts": COUNTS,
    "executionCounts": COUNTS,
    "redriveCount": 0,
}
BACKFILL_DEFINITION = {
    "StartAt": "EachImage",
    "States": {
        "EachImage": {
            "Type": "Map",
            "Label": "EachImage",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Detect",
                "States": {"Detect": {"Type": "Pass", "End": True}},
            },
            "End": True,
        }
    },
}


@pytest.fixture
def source() -> Iterator[tuple[AwsConsoleSource, Stubber]]:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    outputs = StackOutputs(
        stack_name="FacePipe",
        bucket_name="facepipe-images",
        upload_prefix="uploads/",
        state_machine_arn=MACHINE,
        table_name="FaceRecords",
        backfill_state_machine_arn=BACKFILL,
    )
    found = AwsConsoleSource(session, outputs)
    with Stubber(found.sfn) as stubber:
        yield found, stubber
        stubber.assert_no_pending_responses()


def test_an_executions_map_runs_are_listed_then_described(
    source: tuple[AwsConsoleSource, Stubber],
) -> None:
    console, stubber = source
    listed = {
        "executionArn": PARENT,
        "mapRunArn": MAP_RUN,
        "stateMachineArn": BACKFILL + "/EachImage",
        "startDate": T0,
    }
    stubber.add_response("list_map_runs", {"mapRuns": [listed]}, {"executionArn": PARENT})
    stubber.add_response("describe_map_run", DESCRIBED_RUN, {"mapRunArn": MAP_RUN})
    [run] = console.map_runs(PARENT)
    assert run["executionCounts"] == COUNTS and run["status"] == "RUNNING"
    assert "ResponseMetadata" not in run


def test_a_map_runs_children_come_a_page_at_a_time_with_aws_token(
    source: tuple[AwsConsoleSource, Stubber],
) -> None:
    console, stubber = source
    entry = {
        "executionArn": CHILD,
        "stateMachineArn": BACKFILL + "/EachImage",
        "name": CHILD.rsplit(":", 1)[1],
        "status": "FAILED",
        "startDate": T0,
        "stopDate": T0,
        "mapRunArn": MAP_RUN,
        "itemCount": 1,
    }
    stubber.add_response(
        "list_executions",
        {"executions": [entry], "nextToken": "page-2"},
        {"mapRunArn": MAP_RUN, "maxResults": 1, "statusFilter": "FAILED"},
    )
    stubber.add_client_error(
        "list_executions",
        "InvalidToken",
        "Invalid Token: 'stale'",
        expected_params={"mapRunArn": MAP_RUN, "maxResults": 50, "nextToken": "stale"},
    )
    page = console.map_run_children(MAP_RUN, "FAILED", 1)
    assert page is not None
    assert [e["executionArn"] for e in page.executions] == [CHILD]
    assert page.next_token == "page-2"
    with pytest.raises(ValueError, match="invalid nextToken 'stale'"):
        console.map_run_children(MAP_RUN, None, 50, "stale")


def test_another_stacks_map_run_is_not_asked_for(
    source: tuple[AwsConsoleSource, Stubber],
) -> None:
    console, _ = source
    elsewhere = MAP_RUN.replace(":FaceBackfill/", ":SomeoneElses/")
    assert console.map_run(elsewhere) is None
    assert console.map_run_children(elsewhere) is None


def test_a_standard_child_is_drawn_with_its_maps_item_processor(
    source: tuple[AwsConsoleSource, Stubber],
) -> None:
    console, stubber = source
    child_input = json.dumps({"Key": "uploads/old.jpg", "Size": 10})
    stubber.add_response(
        "describe_execution",
        {
            "executionArn": CHILD,
            "stateMachineArn": BACKFILL + "/EachImage",
            "status": "SUCCEEDED",
            "startDate": T0,
            "stopDate": T0,
            "input": child_input,
            "mapRunArn": MAP_RUN,
        },
        {"executionArn": CHILD},
    )
    stubber.add_response("describe_map_run", DESCRIBED_RUN, {"mapRunArn": MAP_RUN})
    stubber.add_response(
        "describe_execution",
        {
            "executionArn": PARENT,
            "stateMachineArn": BACKFILL,
            "status": "RUNNING",
            "startDate": T0,
            "input": "{}",
        },
        {"executionArn": PARENT},
    )
    parent_events = [
        {"id": 1, "type": "ExecutionStarted", "timestamp": T0},
        {"id": 2, "previousEventId": 1, "type": "MapStateEntered", "timestamp": T0,
         "stateEnteredEventDetails": {"name": "EachImage", "input": "{}"}},
        {"id": 3, "previousEventId": 2, "type": "MapStateStarted", "timestamp": T0,
         "mapStateStartedEventDetails": {"length": 0}},
        {"id": 4, "previousEventId": 3, "type": "MapRunStarted", "timestamp": T0,
         "mapRunStartedEventDetails": {"mapRunArn": MAP_RUN}},
    ]  # fmt: skip
    stubber.add_response(
        "get_execution_history",
        {"events": parent_events},
        {"executionArn": PARENT, "includeExecutionData": True},
    )
    stubber.add_response(
        "describe_state_machine",
        {
            "stateMachineArn": BACKFILL,
            "name": "FaceBackfill",
            "definition": json.dumps(BACKFILL_DEFINITION),
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
            "type": "STANDARD",
            "creationDate": T0,
        },
        {"stateMachineArn": BACKFILL},
    )
    child_events = [
        {"id": 1, "type": "ExecutionStarted", "timestamp": T0},
        {"id": 2, "previousEventId": 1, "type": "PassStateEntered", "timestamp": T0,
         "stateEnteredEventDetails": {"name": "Detect", "input": child_input}},
        {"id": 3, "previousEventId": 2, "type": "PassStateExited", "timestamp": T0,
         "stateExitedEventDetails": {"name": "Detect", "output": child_input}},
        {"id": 4, "previousEventId": 3, "type": "ExecutionSucceeded", "timestamp": T0,
         "executionSucceededEventDetails": {"output": child_input}},
    ]  # fmt: skip
    stubber.add_response(
        "get_execution_history",
        {"events": child_events},
        {"executionArn": CHILD, "includeExecutionData": True},
    )
    detail = console.execution(CHILD)
    assert detail is not None
    assert detail.item.image_key == "uploads/old.jpg"
    assert detail.definition is not None and list(detail.definition["States"]) == ["Detect"]
    assert detail.map_run_arn == MAP_RUN and detail.execution_type == "STANDARD"
    assert [e["type"] for e in detail.history][-1] == "ExecutionSucceeded"


def test_an_express_child_which_describe_execution_refuses_is_not_found(
    source: tuple[AwsConsoleSource, Stubber],
) -> None:
    console, stubber = source
    stubber.add_client_error(
        "describe_execution",
        "InvalidArn",
        f"Invalid Arn: 'This operation is not supported by EXPRESS state machines: {CHILD}'",
        expected_params={"executionArn": CHILD},
    )
    assert console.execution(CHILD) is None
