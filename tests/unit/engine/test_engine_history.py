"""Execution history: GetExecutionHistory's event shapes, ids, links and timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import event_types, run

from facepipe.engine import FakeClock
from facepipe.engine.history import details_key


def _wait_then_fail():
    return {
        "A": {"Type": "Pass", "Result": {"x": 1}, "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 5, "Next": "F"},
        "F": {"Type": "Fail", "Error": "Bad", "Cause": "because"},
    }


def test_ids_are_sequential_and_link_to_the_previous_event():
    result = run(_wait_then_fail(), {"in": 1})
    assert [e["id"] for e in result.history] == list(range(1, len(result.history) + 1))
    assert [e["previousEventId"] for e in result.history] == list(range(len(result.history)))


def test_event_types_and_details_for_a_failing_execution():
    result = run(_wait_then_fail(), {"in": 1})
    assert event_types(result) == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    started = result.history[0]["executionStartedEventDetails"]
    assert json.loads(started["input"]) == {"in": 1}
    assert started["inputDetails"] == {"truncated": False} and started["roleArn"]
    entered = result.history[1]["stateEnteredEventDetails"]
    assert entered == {"name": "A", "input": '{"in":1}', "inputDetails": {"truncated": False}}
    exited = result.history[2]["stateExitedEventDetails"]
    assert exited == {"name": "A", "output": '{"x":1}', "outputDetails": {"truncated": False}}
    assert result.history[-1]["executionFailedEventDetails"] == {"error": "Bad", "cause": "because"}


def test_timestamps_come_from_the_clock():
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    result = run(_wait_then_fail(), clock=FakeClock(start))
    stamps = [e["timestamp"] for e in result.history]
    assert stamps[0] == start == result.start_date
    assert stamps[-1] == start + timedelta(seconds=5) == result.stop_date
    assert all(s.tzinfo is not None for s in stamps)


def test_success_event_carries_the_output():
    result = run({"S": {"Type": "Succeed"}}, {"k": [1]})
    assert result.history[-1]["type"] == "ExecutionSucceeded"
    assert result.history[-1]["executionSucceededEventDetails"]["output"] == '{"k":[1]}'


def test_on_event_sees_each_event_as_it_happens():
    seen = []

    def listener(event):
        seen.append((event["id"], event["type"]))

    result = run(_wait_then_fail(), on_event=listener)
    assert seen == [(e["id"], e["type"]) for e in result.history]


def test_detail_keys_are_named_as_in_the_api():
    assert details_key("TaskStateEntered") == "stateEnteredEventDetails"
    assert details_key("MapStateExited") == "stateExitedEventDetails"
    assert details_key("TaskScheduled") == "taskScheduledEventDetails"
    assert details_key("LambdaFunctionFailed") == "lambdaFunctionFailedEventDetails"
    assert details_key("MapIterationStarted") == "mapIterationStartedEventDetails"
    assert details_key("ExecutionSucceeded") == "executionSucceededEventDetails"


def test_result_fields():
    result = run({"S": {"Type": "Succeed"}}, {}, execution_name="exec-1")
    assert result.name == "exec-1"
    assert result.execution_arn == (
        "arn:aws:states:us-east-1:123456789012:execution:facepipe-local:exec-1"
    )
    assert result.summary() == {"status": "SUCCEEDED", "output": {}}


def test_parallel_branch_events_link_within_their_branch():
    branch = {"StartAt": "S", "States": {"S": {"Type": "Pass", "End": True}}}
    state = {"Type": "Parallel", "Branches": [branch, branch], "End": True}
    result = run({"P": state})
    by_id = {e["id"]: e for e in result.history}
    started = next(e for e in result.history if e["type"] == "ParallelStateStarted")
    branch_entries = [e for e in result.history if e["type"] == "PassStateEntered"]
    assert [by_id[e["previousEventId"]]["type"] for e in branch_entries] == [
        "ParallelStateStarted"
    ] * 2
    assert all(e["previousEventId"] == started["id"] for e in branch_entries)


def test_execution_timeout():
    document = {
        "StartAt": "W",
        "TimeoutSeconds": 10,
        "States": {
            "W": {"Type": "Wait", "Seconds": 60, "Next": "P"},
            "P": {"Type": "Pass", "End": True},
        },
    }
    result = run(document)
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert result.history[-1]["type"] == "ExecutionTimedOut"


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 81, "semi;colon"])
def test_invalid_execution_names_are_refused(name):
    with pytest.raises(ValueError, match="invalid execution name"):
        run({"S": {"Type": "Succeed"}}, {}, execution_name=name)


def test_non_json_input_is_refused():
    with pytest.raises(ValueError, match="not JSON"):
        run({"S": {"Type": "Succeed"}}, {"when": object()})
