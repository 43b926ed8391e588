"""Retry and Catch with AWS's error names; all back-off happens on a FakeClock."""

from __future__ import annotations

import threading

import pytest
from engine_helpers import output_of, run

from facepipe.engine import FakeClock, SystemClock
from facepipe.engine.retry import error_matches

FN = "arn:aws:lambda:us-east-1:123456789012:function:work"


class ThrottlingException(Exception):
    pass


class InvalidImageFormatException(Exception):
    pass


def _flaky(failures: int, error: type[Exception] = ThrottlingException):
    calls = []

    def handler(event, context):
        calls.append(event)
        if len(calls) <= failures:
            raise error(f"attempt {len(calls)}")
        return {"ok": len(calls)}

    return handler, calls


def _task(**fields):
    return {"T": {"Type": "Task", "Resource": FN, "End": True, **fields}}


def test_retry_until_success_with_exponential_backoff():
    handler, calls = _flaky(3)
    clock = FakeClock()
    retry = [{"ErrorEquals": ["ThrottlingException"], "IntervalSeconds": 1, "BackoffRate": 2.0}]
    output = output_of(_task(Retry=retry), {}, resolver={"work": handler}, clock=clock)
    assert output == {"ok": 4}
    assert len(calls) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_retry_gives_up_after_max_attempts_and_fails_with_the_error():
    handler, calls = _flaky(10)
    retry = [{"ErrorEquals": ["ThrottlingException"], "MaxAttempts": 2}]
    result = run(_task(Retry=retry), {}, resolver={"work": handler})
    assert (result.status, result.error) == ("FAILED", "ThrottlingException")
    assert len(calls) == 3


def test_max_attempts_zero_never_retries():
    handler, calls = _flaky(1)
    retry = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]
    assert run(_task(Retry=retry), {}, resolver={"work": handler}).status == "FAILED"
    assert len(calls) == 1


def test_max_delay_caps_the_backoff():
    handler, _ = _flaky(4)
    clock = FakeClock()
    retry = [
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": 3,
            "BackoffRate": 3,
            "MaxAttempts": 5,
            "MaxDelaySeconds": 10,
        }
    ]
    output_of(_task(Retry=retry), {}, resolver={"work": handler}, clock=clock)
    assert clock.sleeps == [3.0, 9.0, 10.0, 10.0]


def test_full_jitter_stays_within_the_backoff():
    handler, _ = _flaky(3)
    clock = FakeClock()
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 4, "JitterStrategy": "FULL"}]
    output_of(_task(Retry=retry), {}, resolver={"work": handler}, clock=clock)
    assert [0 <= slept <= limit for slept, limit in zip(clock.sleeps, [4, 8, 16], strict=True)] == [
        True
    ] * 3


def test_each_retrier_counts_its_own_attempts():
    errors = iter([ThrottlingException, ValueError, ThrottlingException, ValueError])

    def handler(event, context):
        error = next(errors, None)
        if error:
            raise error("x")
        return "done"

    retry = [
        {"ErrorEquals": ["ThrottlingException"], "MaxAttempts": 2},
        {"ErrorEquals": ["ValueError"], "MaxAttempts": 2},
    ]
    assert output_of(_task(Retry=retry), {}, resolver={"work": handler}) == "done"


def test_retry_count_is_in_the_context_object():
    seen = []

    def handler(event, context):
        seen.append(event["retry"])
        if len(seen) < 3:
            raise ThrottlingException("again")
        return seen

    task = _task(
        Retry=[{"ErrorEquals": ["States.ALL"]}], Parameters={"retry.$": "$$.State.RetryCount"}
    )
    assert output_of(task, {}, resolver={"work": handler}) == [0, 1, 2]


def test_catch_sends_the_error_output_to_the_next_state():
    handler, _ = _flaky(1, InvalidImageFormatException)
    catch = [
        {"ErrorEquals": ["InvalidImageFormatException"], "ResultPath": "$.error", "Next": "Handled"}
    ]
    states = _task(Catch=catch)
    states["Handled"] = {"Type": "Pass", "End": True}
    output = output_of(states, {"image": "x"}, resolver={"work": handler})
    assert output["image"] == "x"
    assert output["error"]["Error"] == "InvalidImageFormatException"
    assert '"errorMessage": "attempt 1"' in output["error"]["Cause"]


def test_catch_runs_after_retries_are_exhausted_and_can_assign():
    handler, calls = _flaky(5)
    states = _task(
        Retry=[{"ErrorEquals": ["ThrottlingException"], "MaxAttempts": 1}],
        Catch=[
            {"ErrorEquals": ["States.ALL"], "Next": "Handled", "Assign": {"failed.$": "$.Error"}}
        ],
    )
    states["Handled"] = {"Type": "Pass", "Parameters": {"failed.$": "$failed"}, "End": True}
    assert output_of(states, {}, resolver={"work": handler}) == {"failed": "ThrottlingException"}
    assert len(calls) == 2


def test_task_failed_matches_handler_errors():
    handler, _ = _flaky(1, ValueError)
    states = _task(Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "H"}])
    states["H"] = {"Type": "Succeed"}
    assert output_of(states, {}, resolver={"work": handler})["Error"] == "ValueError"


@pytest.mark.parametrize(
    ("rule", "error", "matches"),
    [
        (["States.ALL"], "Anything", True),
        (["States.ALL"], "States.Runtime", False),
        (["States.Runtime"], "States.Runtime", False),
        (["States.ALL"], "States.DataLimitExceeded", False),
        (["States.DataLimitExceeded"], "States.DataLimitExceeded", True),
        (["States.TaskFailed"], "States.Timeout", False),
        (["States.Timeout"], "States.Timeout", True),
        (["States.TaskFailed"], "Lambda.ServiceException", True),
        (["A", "B"], "B", True),
        (["A"], "B", False),
    ],
)
def test_error_name_matching(rule, error, matches):
    assert error_matches(rule, error) is matches


def test_runtime_errors_are_never_caught():
    states = {
        "T": {
            "Type": "Task",
            "Resource": FN,
            "InputPath": "$.missing",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
            "End": True,
        },
        "H": {"Type": "Succeed"},
    }
    assert run(states, {}, resolver={"work": lambda e, c: e}).error == "States.Runtime"


def test_task_timeout_on_the_fake_clock():
    clock = FakeClock()

    def slow(event, context):
        clock.advance(11)
        return "late"

    states = _task(TimeoutSeconds=10, Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "H"}])
    states["H"] = {"Type": "Succeed"}
    output = output_of(states, {}, resolver={"work": slow}, clock=clock)
    assert output["Error"] == "States.Timeout"


def test_task_timeout_seconds_path():
    clock = FakeClock()

    def slow(event, context):
        clock.advance(3)
        return "late"

    result = run(_task(TimeoutSecondsPath="$.t"), {"t": 2}, resolver={"work": slow}, clock=clock)
    assert result.error == "States.Timeout"


def test_hung_handler_is_cut_off_on_the_real_clock():
    release = threading.Event()

    def hung(event, context):
        release.wait(10)
        return "never seen"

    try:
        result = run(_task(TimeoutSeconds=1), {}, resolver={"work": hung}, clock=SystemClock())
    finally:
        release.set()
    assert result.error == "States.Timeout"


def test_lambda_context_remaining_time_follows_the_timeout():
    clock = FakeClock()
    seen = {}

    def handler(event, context):
        seen["before"] = context.get_remaining_time_in_millis()
        clock.advance(2)
        seen["after"] = context.get_remaining_time_in_millis()
        return None

    output_of(_task(TimeoutSeconds=5), {}, resolver={"work": handler}, clock=clock)
    assert seen == {"before": 5000, "after": 3000}


def test_map_state_retry_reruns_the_whole_map():
    processor = {
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "Error": "ItemError", "Cause": "c"}},
    }
    clock = FakeClock()
    state = {
        "Type": "Map",
        "ItemProcessor": processor,
        "Retry": [{"ErrorEquals": ["ItemError"], "MaxAttempts": 2}],
        "End": True,
    }
    result = run({"M": state}, [1], clock=clock)
    assert (result.error, result.cause) == ("ItemError", "c")
    assert clock.sleeps == [1.0, 2.0]
    assert [e["type"] for e in result.history].count("MapStateStarted") == 3
