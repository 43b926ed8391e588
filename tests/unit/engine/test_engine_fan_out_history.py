"""Parallel and Map history under Retry and Catch, and the numbers their *Path fields read.

From the Step Functions docs: "Handling errors in Step Functions workflows"
(concepts-error-handling.html: a retrier re-runs the whole state, a catcher takes over once
the retries are spent), the API reference's HistoryEvent (ParallelStateFailed,
MapStateFailed, MapStateStarted), "Map state" (state-map.html: MaxConcurrencyPath,
ToleratedFailureCountPath and ToleratedFailurePercentagePath select the value from the state
input) and "Setting failure thresholds for Distributed Map states"
(maprun-fail-threshold.html).
"""

from __future__ import annotations

from collections import Counter

from engine_helpers import event_types, run

FAIL = {"Type": "Fail", "Error": "Broken", "Cause": "always"}
RETRY_TWICE = [{"ErrorEquals": ["Broken"], "IntervalSeconds": 1, "MaxAttempts": 2}]


def _failing_branch() -> dict:
    return {"StartAt": "F", "States": {"F": FAIL}}


def test_a_retried_parallel_records_parallel_state_failed_once_after_the_last_attempt():
    states = {"P": {"Type": "Parallel", "Branches": [_failing_branch()], "Retry": RETRY_TWICE,
                    "End": True}}  # fmt: skip
    types = event_types(run(states))
    assert Counter(types)["ParallelStateStarted"] == 3
    assert Counter(types)["ParallelStateFailed"] == 1
    assert types[-2:] == ["ParallelStateFailed", "ExecutionFailed"]


def test_a_retried_map_records_map_state_failed_once_after_the_last_attempt():
    states = {"M": {"Type": "Map", "ItemProcessor": _failing_branch(), "Retry": RETRY_TWICE,
                    "MaxConcurrency": 1, "End": True}}  # fmt: skip
    types = event_types(run(states, [1]))
    assert Counter(types)["MapStateStarted"] == 3 and Counter(types)["MapIterationFailed"] == 3
    assert Counter(types)["MapStateFailed"] == 1
    assert types[-2:] == ["MapStateFailed", "ExecutionFailed"]


def test_a_caught_map_records_map_state_failed_then_exits():
    states = {
        "M": {"Type": "Map", "ItemProcessor": _failing_branch(), "Retry": RETRY_TWICE,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}], "Next": "After"},
        "After": {"Type": "Succeed"},
    }  # fmt: skip
    result = run(states, [1])
    assert result.status == "SUCCEEDED"
    types = event_types(result)
    assert Counter(types)["MapStateFailed"] == 1
    assert types[types.index("MapStateFailed") + 1] == "MapStateExited"


def _distributed(**fields) -> dict:
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                 "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}  # fmt: skip
    return {"M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor,
                  "End": True, **fields}}  # fmt: skip


def test_an_invalid_tolerated_percentage_fails_after_map_state_started():
    result = run(_distributed(ToleratedFailurePercentagePath="$.p"), {"items": [1], "p": 100.5})
    assert result.error == "States.Runtime"
    assert "ToleratedFailurePercentage must be between 0 and 100." in result.cause
    assert event_types(result) == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "ExecutionFailed"
    ]  # fmt: skip


def test_numeric_strings_are_read_as_numbers():
    processor = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    inline = {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrencyPath": "$.limit",
                    "ItemProcessor": processor, "End": True}}  # fmt: skip
    assert run(inline, {"items": [1, 2], "limit": "1"}).output == [1, 2]
    count = _distributed(ToleratedFailureCountPath="$.n")
    assert run(count, {"items": [1], "n": "2"}).status == "SUCCEEDED"
    percentage = _distributed(ToleratedFailurePercentagePath="$.p")
    assert run(percentage, {"items": [1], "p": "12.5"}).status == "SUCCEEDED"


def test_a_string_that_is_no_integer_is_still_refused():
    result = run(_distributed(ToleratedFailureCountPath="$.n"), {"items": [1], "n": "1.5"})
    assert result.error == "States.Runtime"
    assert 'refers to value "1.5" which is not a valid integer' in result.cause
