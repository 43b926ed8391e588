"""GetExecutionHistory in AWS's shape: every page read, then drawn like a local execution."""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_histories import caught_failure_history, with_faces_history
from botocore.stub import Stubber
from moto_stack import object_created

from facepipe.aws.executions import execution_history
from facepipe.graph import StateStatus, billed_transitions, build_graph, summarize_history
from facepipe.resources import state_machine_path

ARN = "arn:aws:states:eu-west-1:123456789012:execution:FacePipeline:0b1c"


def _graph() -> Any:
    return build_graph(json.loads(state_machine_path().read_text(encoding="utf-8")))


def test_history_is_read_across_pages_in_order() -> None:
    events = with_faces_history(object_created("b", "uploads/a.jpg", "v1"))
    sfn = boto3.client("stepfunctions", region_name="eu-west-1", aws_access_key_id="x",
                       aws_secret_access_key="x")  # fmt: skip
    pages = [events[:10], events[10:20], events[20:]]
    with Stubber(sfn) as stub:
        for number, page in enumerate(pages):
            expected = {"executionArn": ARN, "includeExecutionData": True}
            if number:
                expected["nextToken"] = f"token-{number}"
            answer: dict[str, Any] = {"events": page}
            if number < len(pages) - 1:
                answer["nextToken"] = f"token-{number + 1}"
            stub.add_response("get_execution_history", answer, expected)
        read = execution_history(sfn, ARN)
        stub.assert_no_pending_responses()
    assert [event["id"] for event in read] == list(range(1, len(events) + 1))


def test_an_aws_history_colours_the_path_with_retries_and_durations() -> None:
    graph = _graph()
    events = with_faces_history(object_created("b", "uploads/a.jpg", "v1"))
    summary = summarize_history(events, list(graph.nodes))
    assert summary.status == "SUCCEEDED"
    assert summary.path == ["Detect", "Persist", "HasFaces", "Notify"]
    detect = summary.states["Detect"]
    assert detect.status is StateStatus.SUCCEEDED and detect.retries == 1
    assert detect.failures == [
        ("Lambda.TooManyRequestsException", "Lambda.TooManyRequestsException: Rate exceeded")
    ]
    assert detect.duration_ms is not None and detect.duration_ms >= 220
    assert summary.states["NoFaces"].status is StateStatus.NOT_REACHED
    assert billed_transitions(events) == 5  # four states, one retry of Detect


def test_an_aws_history_with_a_caught_error_marks_the_catch_route() -> None:
    graph = _graph()
    events = caught_failure_history(object_created("b", "uploads/a.jpg", "v1"))
    summary = summarize_history(events, list(graph.nodes))
    assert summary.status == "FAILED"
    assert summary.states["Detect"].status is StateStatus.CAUGHT
    assert summary.states["Detect"].error == "InvalidImageFormatException"
    assert summary.states["RecordFailure"].status is StateStatus.SUCCEEDED
    assert summary.states["Failed"].status is StateStatus.FAILED
    assert summary.states["Persist"].status is StateStatus.NOT_REACHED
