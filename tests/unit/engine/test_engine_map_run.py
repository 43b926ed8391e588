"""A DISTRIBUTED Map is a Map Run: its events in the parent history, its child executions
with their own histories, and the API answers (ListMapRuns, DescribeMapRun, ListExecutions
--map-run-arn, DescribeExecution, GetExecutionHistory).

Shapes follow the API reference (API_DescribeMapRun, API_ListMapRuns, API_ListExecutions,
API_HistoryEvent: MapRunStartedEventDetails.mapRunArn, MapRunFailedEventDetails
error/cause) and the event sequences recorded against AWS for LocalStack's validated
snapshot tests (test_base_scenarios: MapStateStarted, MapRunStarted, MapRunSucceeded,
MapStateSucceeded; a failed run: MapRunFailed then MapStateFailed).
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from map_run_helpers import distributed_map, machine_and_run, types

from facepipe.engine import StateMachine, SystemClock
from facepipe.engine.maprun import ApiError, InMemoryMapRunStore

ARN = "arn:aws:states:us-east-1:123456789012"
FAIL_ON_ZERO = {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Bad"}],
          "Default": "Ok"},
    "Bad": {"Type": "Fail", "Error": "Zero", "Cause": "zero item"},
    "Ok": {"Type": "Pass", "End": True},
}  # fmt: skip


def test_the_parent_history_has_the_map_run_events_and_no_iterations():
    _machine, result = machine_and_run(distributed_map(Label="Resize"), [1, 2, 3])
    assert result.status == "SUCCEEDED" and result.output == [1, 2, 3]
    assert types(result.history) == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
        "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded",
    ]  # fmt: skip
    assert result.history[2]["mapStateStartedEventDetails"] == {"length": 3}
    map_run_arn = result.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert re.fullmatch(rf"{ARN}:mapRun:facepipe-local/Resize:[0-9a-f-]{{36}}", map_run_arn)
    # MapRunSucceeded carries no details; each event points at the one before.
    assert set(result.history[4]) == {"timestamp", "type", "id", "previousEventId"}
    assert [e["previousEventId"] for e in result.history[3:6]] == [3, 4, 5]


def test_list_map_runs_and_describe_map_run_answer_as_the_api():
    machine, result = machine_and_run(distributed_map(Label="L", MaxConcurrency=1), [1, 2])
    runs = machine.list_map_runs(result.execution_arn)["mapRuns"]
    assert len(runs) == 1
    assert set(runs[0]) == {"executionArn", "mapRunArn", "stateMachineArn", "startDate",
                            "stopDate"}  # fmt: skip
    assert runs[0]["executionArn"] == result.execution_arn
    assert runs[0]["stateMachineArn"] == f"{ARN}:stateMachine:facepipe-local/L"
    described = machine.describe_map_run(runs[0]["mapRunArn"])
    counts = {"aborted": 0, "failed": 0, "pending": 0, "resultsWritten": 0, "running": 0,
              "succeeded": 2, "timedOut": 0, "total": 2}  # fmt: skip
    assert described["status"] == "SUCCEEDED"
    assert described["itemCounts"] == counts and described["executionCounts"] == counts
    assert described["maxConcurrency"] == 1
    assert described["toleratedFailureCount"] == 0
    assert described["toleratedFailurePercentage"] == 0.0
    assert described["startDate"] <= described["stopDate"]
    with pytest.raises(ApiError) as missing:
        machine.describe_map_run(f"{ARN}:mapRun:facepipe-local/L:nope")
    assert missing.value.code == "ResourceNotFound"


def test_children_are_executions_with_their_own_histories():
    machine, result = machine_and_run(distributed_map(Label="L"), ["a", "b"])
    map_run_arn = machine.list_map_runs(result.execution_arn)["mapRuns"][0]["mapRunArn"]
    children = machine.list_executions(map_run_arn=map_run_arn)["executions"]
    assert sorted(c["status"] for c in children) == ["SUCCEEDED", "SUCCEEDED"]
    for child in children:
        assert re.fullmatch(rf"{ARN}:execution:facepipe-local/L:{child['name']}",
                            child["executionArn"])  # fmt: skip
        assert child["mapRunArn"] == map_run_arn and child["itemCount"] == 1
        described = machine.describe_execution(child["executionArn"])
        assert described["mapRunArn"] == map_run_arn
        assert described["stateMachineArn"] == f"{ARN}:stateMachine:facepipe-local/L"
        assert described["input"] == described["output"]  # a Pass state
        events = machine.get_execution_history(child["executionArn"])["events"]
        assert types(events) == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                 "ExecutionSucceeded"]  # fmt: skip
    with pytest.raises(ApiError) as missing:
        machine.describe_execution(f"{ARN}:execution:facepipe-local/L:nope")
    assert missing.value.code == "ExecutionDoesNotExist"


def test_a_child_sees_its_own_execution_in_the_context_object():
    states = {"P": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id",
                                                   "machine.$": "$$.StateMachine.Id"},
                    "End": True}}  # fmt: skip
    _machine, result = machine_and_run(distributed_map(states, Label="L"), [1])
    (output,) = result.output
    assert output["id"].startswith(f"{ARN}:execution:facepipe-local/L:")
    assert output["machine"] == f"{ARN}:stateMachine:facepipe-local/L"


def test_express_children_are_described_but_have_no_history():
    """AWS keeps an EXPRESS child's history in CloudWatch Logs only."""
    machine, result = machine_and_run(distributed_map(execution_type="EXPRESS"), [1])
    map_run_arn = machine.list_map_runs(result.execution_arn)["mapRuns"][0]["mapRunArn"]
    (child,) = machine.list_executions(map_run_arn=map_run_arn)["executions"]
    assert machine.describe_execution(child["executionArn"])["status"] == "SUCCEEDED"
    with pytest.raises(ApiError) as refused:
        machine.get_execution_history(child["executionArn"])
    assert refused.value.code == "InvalidArn"


def test_an_express_childs_logged_events_are_kept_without_execution_data():
    """What the state machine's log group holds at level ALL without execution data (the
    project's LogOptions; Step Functions developer guide, "Logging in CloudWatch Logs":
    includeExecutionData false leaves out input and output): the events, each without its
    input and output; the Step Functions console draws an Express execution from those."""
    machine, result = machine_and_run(distributed_map(execution_type="EXPRESS"), [1])
    map_run_arn = machine.list_map_runs(result.execution_arn)["mapRuns"][0]["mapRunArn"]
    (child,) = machine.list_executions(map_run_arn=map_run_arn)["executions"]
    events = machine.logged_history(child["executionArn"])["events"]
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    for event in events:
        for name, details in event.items():
            if name.endswith("EventDetails"):
                assert "input" not in details and "output" not in details, event


def test_a_failed_child_fails_the_map_run_with_the_threshold_error():
    machine, result = machine_and_run(distributed_map(FAIL_ON_ZERO, MaxConcurrency=1), [1, 0])
    assert (result.error, result.cause) == (
        "States.ExceedToleratedFailureThreshold",
        "The specified tolerated failure threshold was exceeded",
    )
    assert types(result.history)[3:] == [
        "MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"
    ]  # fmt: skip
    assert result.history[4]["mapRunFailedEventDetails"] == {
        "error": "States.ExceedToleratedFailureThreshold",
        "cause": "The specified tolerated failure threshold was exceeded",
    }
    run = machine.list_map_runs(result.execution_arn)["mapRuns"][0]
    described = machine.describe_map_run(run["mapRunArn"])
    assert described["status"] == "FAILED"
    assert described["itemCounts"]["failed"] == 1 and described["itemCounts"]["succeeded"] == 1
    failed = machine.list_executions(map_run_arn=run["mapRunArn"], status_filter="FAILED")
    (child,) = failed["executions"]
    assert machine.describe_execution(child["executionArn"])["error"] == "Zero"
    assert types(machine.get_execution_history(child["executionArn"])["events"])[-1] == (
        "ExecutionFailed"
    )


def test_failures_within_the_tolerated_count_leave_error_outputs():
    machine, result = machine_and_run(distributed_map(FAIL_ON_ZERO, ToleratedFailureCount=1),
                                      [1, 0, 2])  # fmt: skip
    assert result.output == [1, {"Error": "Zero", "Cause": "zero item"}, 2]
    run = machine.list_map_runs(result.execution_arn)["mapRuns"][0]
    assert machine.describe_map_run(run["mapRunArn"])["toleratedFailureCount"] == 1


def test_over_the_tolerated_percentage_fails():
    definition = distributed_map(FAIL_ON_ZERO, ToleratedFailurePercentage=40)
    assert machine_and_run(definition, [1, 0, 2, 3])[1].status == "SUCCEEDED"
    assert machine_and_run(definition, [1, 0, 0, 3])[1].error == (
        "States.ExceedToleratedFailureThreshold"
    )


def test_a_retried_map_starts_a_map_run_per_attempt_and_fails_once():
    definition = distributed_map(FAIL_ON_ZERO, Retry=[{"ErrorEquals": ["States.ALL"],
                                                       "MaxAttempts": 1}])  # fmt: skip
    machine, result = machine_and_run(definition, [0])
    events = types(result.history)
    assert events.count("MapRunStarted") == 2 and events.count("MapRunFailed") == 2
    assert events.count("MapStateFailed") == 1
    assert len(machine.list_map_runs(result.execution_arn)["mapRuns"]) == 2


def test_max_concurrency_is_honoured_on_the_worker_pool():
    running, most, lock = [0], [0], threading.Lock()

    def slow(event, context):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return event

    task = {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:slow",
                  "End": True}}  # fmt: skip
    machine = StateMachine(distributed_map(task, MaxConcurrency=3))
    result = machine.run(list(range(12)), resolver={"slow": slow}, clock=SystemClock())
    assert result.output == list(range(12))
    assert most[0] == 3


def test_a_host_store_receives_runs_and_finished_children():
    saved: list[tuple[str, str, int | None]] = []

    class RecordingStore(InMemoryMapRunStore):
        def save_child(self, child, history):
            saved.append((child.name, child.status, None if history is None else len(history)))
            super().save_child(child, history)

    store = RecordingStore()
    machine = StateMachine(distributed_map(), map_run_store=store)
    result = machine.run([1])
    assert machine.map_runs is store
    assert [(status, size) for _, status, size in saved] == [("RUNNING", None),
                                                             ("SUCCEEDED", 4)]  # fmt: skip
    assert store.map_runs_of(result.execution_arn)[0].status == "SUCCEEDED"


def test_nested_distributed_maps_run_a_map_run_inside_the_child():
    inner = {"Inner": distributed_map()["States"]["M"]}
    inner["Inner"]["ItemsPath"] = "$.xs"
    machine, result = machine_and_run(distributed_map(inner), [{"xs": [1, 2]}])
    assert result.output == [[1, 2]]
    assert types(result.history).count("MapRunStarted") == 1
    (outer,) = machine.list_map_runs(result.execution_arn)["mapRuns"]
    (child,) = machine.list_executions(map_run_arn=outer["mapRunArn"])["executions"]
    events = machine.get_execution_history(child["executionArn"])["events"]
    assert "MapRunStarted" in types(events)
    assert len(machine.list_map_runs(child["executionArn"])["mapRuns"]) == 1


def test_jsonata_distributed_map_with_items_and_item_selector():
    definition = distributed_map(Items="{% $states.input.xs %}",
                                 ItemSelector={"v": "{% $states.context.Map.Item.Value %}"},
                                 QueryLanguage="JSONata")  # fmt: skip
    _machine, result = machine_and_run(definition, {"xs": [1, 2]})
    assert result.output == [{"v": 1}, {"v": 2}]
    assert "MapRunSucceeded" in types(result.history)
