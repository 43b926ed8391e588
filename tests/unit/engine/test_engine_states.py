"""Wait, Succeed, Fail, Parallel and Map states."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from engine_helpers import event_types, failure_of, output_of, run

from facepipe.engine import FakeClock


def _wait(**fields):
    return {"W": {"Type": "Wait", "End": True, **fields}}


def test_wait_seconds_advances_the_clock_without_sleeping():
    clock = FakeClock()
    assert output_of(_wait(Seconds=30), {"a": 1}, clock=clock) == {"a": 1}
    assert clock.sleeps == [30]


def test_wait_seconds_path():
    clock = FakeClock()
    output_of(_wait(SecondsPath="$.s"), {"s": 7}, clock=clock)
    assert clock.sleeps == [7]


def test_wait_seconds_path_must_be_an_integer():
    error, cause = failure_of(_wait(SecondsPath="$.s"), {"s": 1.5})
    assert error == "States.Runtime"
    assert cause.endswith("The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5")


def test_wait_timestamp_sleeps_until_then():
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    output_of(_wait(Timestamp="2024-01-01T00:01:00+00:00"), {}, clock=clock)
    assert clock.sleeps == [60.0]


def test_wait_timestamp_in_the_past_does_not_wait():
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    output_of(_wait(Timestamp="2016-03-14T01:59:00.123456789Z"), {}, clock=clock)
    assert clock.sleeps == [0.0]


def test_wait_timestamp_path_must_be_iso8601():
    error, cause = failure_of(_wait(TimestampPath="$.t"), {"t": "2016-12-05 21:29:29Z"})
    assert error == "States.Runtime" and "ISO-8601" in cause


def test_wait_timestamp_path():
    clock = FakeClock(datetime(2024, 1, 1, tzinfo=UTC))
    output_of(_wait(TimestampPath="$.t"), {"t": "2024-01-01T00:00:10Z"}, clock=clock)
    assert clock.sleeps == [10.0]


def test_succeed_ends_with_its_processed_input():
    states = {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}
    assert output_of(states, {"a": {"b": 2}}) == 2


def test_fail_with_error_and_cause():
    assert failure_of({"F": {"Type": "Fail", "Error": "Oops", "Cause": "why"}}) == ("Oops", "why")


def test_fail_without_error_or_cause():
    assert failure_of({"F": {"Type": "Fail"}}) == (None, None)


def test_fail_error_and_cause_paths():
    states = {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$$.State.Name"}}
    assert failure_of(states, {"e": "E1"}) == ("E1", "F")


def test_fail_paths_may_be_intrinsics():
    states = {"F": {"Type": "Fail", "ErrorPath": "States.Format('E{}', $.n)", "Cause": "c"}}
    assert failure_of(states, {"n": 7}) == ("E7", "c")


def test_fail_with_missing_error_path_is_a_runtime_error():
    assert failure_of({"F": {"Type": "Fail", "ErrorPath": "$.nope"}})[0] == "States.Runtime"


def _branch(state):
    return {"StartAt": "S", "States": {"S": {**state, "End": True}}}


def test_parallel_outputs_each_branch_in_order():
    state = {
        "Type": "Parallel",
        "Branches": [
            _branch({"Type": "Pass", "Result": 1}),
            _branch({"Type": "Pass", "InputPath": "$.x"}),
        ],
        "End": True,
    }
    assert output_of({"P": state}, {"x": "X"}) == [1, "X"]


def test_parallel_branches_run_at_the_same_time():
    barrier = threading.Barrier(2, timeout=5)

    def meet(event, context):
        barrier.wait()  # deadlocks (and times out) unless both branches run at once
        return event

    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:meet"}
    state = {"Type": "Parallel", "Branches": [_branch(task), _branch(task)], "End": True}
    assert output_of({"P": state}, {"v": 1}, resolver={"meet": meet}) == [{"v": 1}, {"v": 1}]


def test_parallel_fails_with_the_branch_error_and_can_be_caught():
    failing = {
        "Type": "Parallel",
        "Branches": [
            _branch({"Type": "Pass"}),
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "c"}}},
        ],
        "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.err", "Next": "After"}],
        "Next": "After",
    }
    states = {"P": failing, "After": {"Type": "Succeed"}}
    assert output_of(states, {"a": 1}) == {"a": 1, "err": {"Error": "Boom", "Cause": "c"}}


def test_parallel_result_selector_and_result_path():
    state = {
        "Type": "Parallel",
        "Branches": [
            _branch({"Type": "Pass", "Result": 1}),
            _branch({"Type": "Pass", "Result": 2}),
        ],
        "ResultSelector": {"first.$": "$[0]"},
        "ResultPath": "$.r",
        "End": True,
    }
    assert output_of({"P": state}, {"a": 0}) == {"a": 0, "r": {"first": 1}}


def _map(**fields):
    processor = fields.pop(
        "processor", {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    )
    return {"M": {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}}


def test_map_over_the_input_array():
    assert output_of(_map(), [1, "a", None]) == [1, "a", None]


def test_map_items_path_and_item_selector_with_context():
    selector = {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "tag.$": "$.tag"}
    output = output_of(
        _map(ItemsPath="$.xs", ItemSelector=selector), {"xs": ["a", "b"], "tag": "T"}
    )
    assert output == [{"v": "a", "i": 0, "tag": "T"}, {"v": "b", "i": 1, "tag": "T"}]


def test_legacy_iterator_with_parameters():
    processor = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    state = {
        "Type": "Map",
        "Iterator": processor,
        "Parameters": {"v.$": "$$.Map.Item.Value"},
        "End": True,
    }
    assert output_of({"M": state}, [1, 2]) == [{"v": 1}, {"v": 2}]


def test_map_items_path_must_point_to_an_array():
    error, cause = failure_of(_map(ItemsPath="$.xs"), {"xs": {"a": 1}})
    assert error == "States.Runtime" and "array" in cause


def test_map_with_max_concurrency_one_runs_in_order_and_stops_at_first_failure():
    calls = []

    def record(event, context):
        calls.append(event)
        if event == 2:
            raise ValueError("two")
        return event

    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": True}
    processor = {"StartAt": "T", "States": {"T": task}}
    result = run(_map(processor=processor, MaxConcurrency=1), [1, 2, 3], resolver={"f": record})
    assert (result.status, result.error) == ("FAILED", "ValueError")
    assert calls == [1, 2]


def test_map_iterations_run_concurrently_up_to_the_limit():
    barrier = threading.Barrier(3, timeout=5)

    def meet(event, context):
        barrier.wait()
        return event * 10

    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:meet", "End": True}
    processor = {"StartAt": "T", "States": {"T": task}}
    output = output_of(
        _map(processor=processor, MaxConcurrency=3), [1, 2, 3], resolver={"meet": meet}
    )
    assert output == [10, 20, 30]


def test_map_max_concurrency_path_must_be_an_integer():
    state = _map(ItemsPath="$.xs", MaxConcurrencyPath="$.m")
    error, cause = failure_of(state, {"xs": [1], "m": {}})
    assert error == "States.Runtime" and "not a valid integer" in cause


def _distributed(mode="DISTRIBUTED", **fields):
    processor = {
        "ProcessorConfig": {"Mode": mode, "ExecutionType": "STANDARD"},
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Bad"}],
                "Default": "Ok",
            },
            "Bad": {"Type": "Fail", "Error": "Zero", "Cause": "zero item"},
            "Ok": {"Type": "Pass", "End": True},
        },
    }
    return {"M": {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}}


def test_distributed_map_without_item_reader_runs_inline():
    assert output_of(_distributed(), [1, 2]) == [1, 2]


def test_distributed_map_tolerates_failures_within_the_threshold():
    output = output_of(_distributed(ToleratedFailureCount=1), [1, 0, 2])
    assert output == [1, {"Error": "Zero", "Cause": "zero item"}, 2]


def test_distributed_map_with_no_threshold_fails_on_any_failure():
    result = run(_distributed(), [1, 0])
    assert result.error == "States.ExceedToleratedFailureThreshold"


def test_distributed_map_over_the_threshold_fails():
    result = run(_distributed(ToleratedFailurePercentage=10), [1, 0, 2])
    assert result.error == "States.ExceedToleratedFailureThreshold"


def test_tolerated_failure_percentage_path_is_range_checked():
    state = _distributed(ToleratedFailurePercentagePath="$.p", ItemsPath="$.xs")
    error, cause = failure_of(state, {"xs": [1], "p": 100.1})
    assert error == "States.Runtime" and cause.endswith("must be between 0 and 100.")


def test_inline_map_failure_fails_the_map_with_the_iteration_error():
    result = run(_distributed(mode="INLINE"), [1, 0])
    assert (result.error, result.cause) == ("Zero", "zero item")


def test_nested_maps():
    inner = {"StartAt": "M2", "States": _map()}
    inner["States"]["M2"] = inner["States"].pop("M")
    assert output_of(_map(processor=inner), [[1, 2], [3]]) == [[1, 2], [3]]


def test_map_and_parallel_history_events():
    result = run(_map(), [5, 6])
    assert event_types(result) == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    started = result.history[2]
    assert started["mapStateStartedEventDetails"] == {"length": 2}
    assert result.history[3]["mapIterationStartedEventDetails"] == {"name": "M", "index": 0}
    parallel = run(
        {"P": {"Type": "Parallel", "Branches": [_branch({"Type": "Pass"})], "End": True}}
    )
    assert event_types(parallel)[1:6] == [
        "ParallelStateEntered",
        "ParallelStateStarted",
        "PassStateEntered",
        "PassStateExited",
        "ParallelStateSucceeded",
    ]


def test_failed_iteration_aborts_the_others():
    second_started, first_failed = threading.Event(), threading.Event()
    calls = []

    def watch(event):
        if event["type"] == "MapIterationFailed":
            first_failed.set()

    def work(event, context):
        calls.append(event)
        if event == 0:
            second_started.wait(5)
            raise ValueError("item zero")
        second_started.set()
        first_failed.wait(5)  # still running when its sibling fails
        return event

    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:work"}
    processor = {
        "StartAt": "T",
        "States": {"T": {**task, "Next": "Again"}, "Again": {**task, "End": True}},
    }
    result = run(
        _map(processor=processor, MaxConcurrency=2),
        [0, 1, 2, 3],
        resolver={"work": work},
        on_event=watch,
    )
    assert (result.status, result.error) == ("FAILED", "ValueError")
    types = event_types(result)
    assert types.count("MapIterationFailed") == 1
    assert types.count("MapIterationAborted") == 1  # item 1 stopped before "Again"
    assert types.count("MapIterationStarted") == 2  # items 2 and 3 never started
    assert calls == [0, 1] or calls == [1, 0]


def test_tolerant_sequential_map_runs_every_item():
    output = output_of(_distributed(ToleratedFailureCount=2, MaxConcurrency=1), [0, 1, 0, 2])
    assert output[1::2] == [1, 2]
    assert output[0]["Error"] == "Zero" and output[2]["Error"] == "Zero"


def test_failed_branch_stops_its_sibling_before_the_next_state():
    sibling_started, failed = threading.Event(), threading.Event()
    calls = []

    def slow(event, context):
        calls.append("slow")
        sibling_started.set()
        failed.wait(5)
        # The failing branch signals its siblings a moment after its failure event; give
        # that thread the moment (this is the only real pause in these tests).
        time.sleep(0.05)
        return event

    def broken(event, context):
        sibling_started.wait(5)
        raise ValueError("branch two")

    def watch(event):
        if event["type"] == "LambdaFunctionFailed":
            failed.set()

    def task(function):
        return {"Type": "Task", "Resource": f"arn:aws:lambda:us-east-1:1:function:{function}"}

    sibling = {
        "StartAt": "A",
        "States": {"A": {**task("slow"), "Next": "B"}, "B": {**task("slow"), "End": True}},
    }
    failing = {"StartAt": "F", "States": {"F": {**task("broken"), "End": True}}}
    state = {"Type": "Parallel", "Branches": [sibling, failing], "End": True}
    resolver = {"slow": slow, "broken": broken}
    result = run({"P": state}, {}, resolver=resolver, on_event=watch)
    assert result.error == "ValueError"
    assert calls == ["slow"]


def test_fail_error_path_must_reference_a_string():
    error, cause = failure_of({"F": {"Type": "Fail", "ErrorPath": "$.e"}}, {"e": {"not": "text"}})
    assert error == "States.Runtime" and "must reference a string" in cause
