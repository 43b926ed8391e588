"""Redrive: an unsuccessful execution continued from where it stopped, as RedriveExecution
does it.

https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html and
https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html ("continues the
failed execution from the unsuccessful step and uses the same input ... preserves the results
and execution history of the successful steps, which are not rerun"; "the state machine level
timeout ... is reset to 0"; only the Parallel branches and inline Map iterations "that failed
or aborted" run again).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_helpers import definition, event_types

from facepipe.engine import ApiError, FakeClock, StateMachine

FN = "arn:aws:lambda:us-east-1:123456789012:function:work"


class ServiceDown(Exception):
    pass


def _work(fail_first: int = 1, fail_when=None):
    """A handler that fails its first `fail_first` calls (or whenever `fail_when(event)`)."""
    calls: list = []

    def handler(event, context):
        calls.append(event)
        if fail_when is not None:
            if fail_when(event, len(calls)):
                raise ServiceDown(f"down for {event}")
        elif len(calls) <= fail_first:
            raise ServiceDown(f"call {len(calls)}")
        return {"done": event}

    return handler, calls


def _pass_then_task(**task_fields):
    return definition(
        {
            "Prepare": {
                "Type": "Pass",
                "Result": {"image": "a.jpg"},
                "Assign": {"bucket": "photos"},
                "Next": "Detect",
            },
            "Detect": {
                "Type": "Task",
                "Resource": FN,
                "Parameters": {"image.$": "$.image", "bucket.$": "$bucket",
                               "redrives.$": "$$.Execution.RedriveCount"},
                "End": True,
                **task_fields,
            },
        }
    )  # fmt: skip


def test_a_failed_task_succeeds_on_redrive_with_the_history_continued():
    handler, calls = _work(fail_first=1)
    machine = StateMachine(_pass_then_task())
    clock = FakeClock()
    first = machine.run({"upload": 1}, resolver={"work": handler}, clock=clock)
    assert first.status == "FAILED" and first.error == "ServiceDown"
    seen: list = []

    again = machine.redrive(first.record(), resolver={"work": handler}, clock=clock,
                            on_event=seen.append)  # fmt: skip

    assert again.status == "SUCCEEDED"
    assert again.output == {"done": {"image": "a.jpg", "bucket": "photos", "redrives": 1}}
    assert again.execution_arn == first.execution_arn and again.name == first.name
    assert again.start_date == first.start_date
    failed_at = len(first.history)
    assert event_types(again)[:failed_at] == event_types(first)
    assert event_types(again)[failed_at:] == [
        "ExecutionRedriven", "TaskStateEntered", "LambdaFunctionScheduled",
        "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
        "ExecutionSucceeded",
    ]  # fmt: skip
    redriven = again.history[failed_at]
    assert redriven["id"] == failed_at + 1
    assert redriven["previousEventId"] == failed_at  # the ExecutionFailed event
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert [e["id"] for e in again.history] == list(range(1, len(again.history) + 1))
    # The failed state is entered again with the input it was given the first time.
    entered = [e for e in again.history if e["type"] == "TaskStateEntered"]
    assert entered[0]["stateEnteredEventDetails"] == entered[1]["stateEnteredEventDetails"]
    # The Pass state that succeeded is not run again; the listener saw only the new events.
    assert event_types(again).count("PassStateEntered") == 1
    assert [e["type"] for e in seen] == event_types(again)[failed_at:]
    assert len(calls) == 2


def test_retry_counters_start_afresh_on_redrive():
    """A redriven state's Retry counts its attempts from zero: MaxAttempts applies again."""
    handler, calls = _work(fail_first=5)
    retry = [{"ErrorEquals": ["ServiceDown"], "MaxAttempts": 2, "IntervalSeconds": 3}]
    machine = StateMachine(_pass_then_task(Retry=retry))
    clock = FakeClock()
    first = machine.run({}, resolver={"work": handler}, clock=clock)
    assert first.status == "FAILED" and len(calls) == 3
    assert clock.sleeps == [3.0, 6.0]

    again = machine.redrive(first.record(), resolver={"work": handler}, clock=clock)

    assert again.status == "SUCCEEDED"
    assert len(calls) == 6  # 2 more failures (retried from the first interval), then success
    assert clock.sleeps == [3.0, 6.0, 3.0, 6.0]


def test_a_failure_inside_a_parallel_redrives_only_the_failed_branch():
    handler, calls = _work(fail_when=lambda event, n: event == "flaky" and n <= 2)
    branch = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "End": True}}}
    states = {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {**branch, "States": {"T": {**branch["States"]["T"], "Parameters": "steady"}}},
                {**branch, "States": {"T": {**branch["States"]["T"], "Parameters": "flaky"}}},
            ],
            "End": True,
        }
    }
    machine = StateMachine(definition(states))
    first = machine.run({}, resolver={"work": handler}, clock=FakeClock())
    assert first.status == "FAILED"
    assert sorted(calls) == ["flaky", "steady"]

    again = machine.redrive(first.record(), resolver={"work": handler}, clock=FakeClock())

    assert again.status == "SUCCEEDED"
    assert again.output == [{"done": "steady"}, {"done": "flaky"}]
    assert sorted(calls) == ["flaky", "flaky", "steady"]  # the steady branch ran once
    added = event_types(again)[len(first.history) :]
    assert added[:3] == ["ExecutionRedriven", "ParallelStateEntered", "ParallelStateStarted"]
    assert added.count("TaskStateEntered") == 1
    assert added[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]


def test_a_failed_inline_map_iteration_is_redriven_and_the_rest_kept():
    """With one iteration at a time, item 1 fails and item 2 is never started (aborted):
    the redrive runs those two and keeps item 0's result."""
    handler, calls = _work(fail_when=lambda event, n: event == 1 and n <= 2)
    states = {
        "Each": {
            "Type": "Map",
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "StartAt": "T",
                "States": {"T": {"Type": "Task", "Resource": FN, "End": True}},
            },
            "End": True,
        }
    }
    machine = StateMachine(definition(states))
    first = machine.run([0, 1, 2], resolver={"work": handler}, clock=FakeClock())
    assert first.status == "FAILED" and calls == [0, 1]

    again = machine.redrive(first.record(), resolver={"work": handler}, clock=FakeClock())

    assert again.status == "SUCCEEDED"
    assert again.output == [{"done": 0}, {"done": 1}, {"done": 2}]
    assert calls == [0, 1, 1, 2]
    added = again.history[len(first.history) :]
    started = [e["mapIterationStartedEventDetails"]["index"] for e in added
               if e["type"] == "MapIterationStarted"]  # fmt: skip
    assert started == [1, 2]
    assert [e["type"] for e in added][:3] == [
        "ExecutionRedriven", "MapStateEntered", "MapStateStarted",
    ]  # fmt: skip


def test_a_failed_step_inside_a_branch_resumes_there_with_the_branch_variables():
    """Nested: a branch that assigned a variable and then failed resumes at its failed
    state, with that variable, and its earlier state is not run again."""
    handler, _ = _work(fail_first=1)
    states = {
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Name",
                    "States": {
                        "Name": {"Type": "Pass", "Assign": {"who": "branch"}, "Next": "Call"},
                        "Call": {"Type": "Task", "Resource": FN,
                                 "Parameters": {"who.$": "$who"}, "End": True},
                    },
                }
            ],
            "End": True,
        }
    }  # fmt: skip
    machine = StateMachine(definition(states))
    first = machine.run({}, resolver={"work": handler}, clock=FakeClock())
    assert first.status == "FAILED"

    again = machine.redrive(first.record(), resolver={"work": handler}, clock=FakeClock())

    assert again.output == [{"done": {"who": "branch"}}]
    assert event_types(again).count("PassStateEntered") == 1


def test_redrive_count_increments_on_a_second_redrive():
    handler, _ = _work(fail_first=2)
    machine = StateMachine(_pass_then_task())
    clock = FakeClock()
    first = machine.run({}, resolver={"work": handler}, clock=clock)
    clock.advance(60)
    second = machine.redrive(first.record(), resolver={"work": handler}, clock=clock)
    assert second.status == "FAILED" and second.redrive_count == 1
    clock.advance(60)
    third = machine.redrive(second.record(), resolver={"work": handler}, clock=clock)

    assert third.status == "SUCCEEDED"
    redriven = [e for e in third.history if e["type"] == "ExecutionRedriven"]
    assert [e["executionRedrivenEventDetails"]["redriveCount"] for e in redriven] == [1, 2]
    described = third.describe(clock.now())
    assert described["redriveCount"] == 2
    assert described["redriveDate"] == clock.now()
    assert described["status"] == "SUCCEEDED"
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert third.output["done"]["redrives"] == 2  # $$.Execution.RedriveCount


def test_redrive_runs_the_execution_s_own_definition_not_a_changed_one():
    """AWS: "Redriven executions use the same state machine definition" (a changed
    definition needs a new execution)."""
    handler, _ = _work(fail_first=1)
    first = StateMachine(_pass_then_task()).run({}, resolver={"work": handler},
                                                clock=FakeClock())  # fmt: skip
    changed = _pass_then_task()
    changed["States"]["Detect"]["Parameters"] = {"changed": True}

    again = StateMachine(changed).redrive(first.record(), resolver={"work": handler},
                                          clock=FakeClock())  # fmt: skip

    assert again.output == {"done": {"image": "a.jpg", "bucket": "photos", "redrives": 1}}


def test_the_execution_timeout_counts_again_from_the_redrive():
    handler, _ = _work(fail_first=0)

    def slow(event, context):
        context_clock.advance(50)
        return handler(event, context)

    context_clock = FakeClock()
    document = definition(
        {
            "Wait": {"Type": "Wait", "Seconds": 40, "Next": "Detect"},
            "Detect": {"Type": "Task", "Resource": FN, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
        },
        TimeoutSeconds=60,
    )
    machine = StateMachine(document)
    first = machine.run({}, resolver={"work": slow}, clock=context_clock)
    assert first.status == "TIMED_OUT"
    assert first.checkpoint is not None and first.checkpoint["state"] == "Done"

    again = machine.redrive(first.record(), resolver={"work": slow}, clock=context_clock)

    assert again.status == "SUCCEEDED"
    assert event_types(again)[len(first.history) :] == [
        "ExecutionRedriven", "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
    ]  # fmt: skip


# --- refusals -----------------------------------------------------------------------------


def _failed_record():
    handler, _ = _work(fail_first=1)
    clock = FakeClock()
    machine = StateMachine(_pass_then_task())
    return machine, machine.run({}, resolver={"work": handler}, clock=clock).record(), clock


def _refusal(machine, record, clock) -> ApiError:
    with pytest.raises(ApiError) as refused:
        machine.redrive(record, resolver={}, clock=clock)
    return refused.value


def test_a_succeeded_execution_is_not_redrivable():
    machine = StateMachine(definition({"P": {"Type": "Pass", "End": True}}))
    record = machine.run({}, clock=FakeClock()).record()
    refused = _refusal(machine, record, FakeClock())
    assert refused.code == "ExecutionNotRedrivable"
    assert refused.message == "Execution is SUCCEEDED and cannot be redriven"


def test_a_running_execution_is_not_redrivable():
    machine, record, clock = _failed_record()
    record.status, record.stop_date = "RUNNING", None
    refused = _refusal(machine, record, clock)
    assert (refused.code, refused.message) == (
        "ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven",
    )  # fmt: skip


def test_redrive_is_refused_fourteen_days_after_the_stop():
    machine, record, clock = _failed_record()
    clock.advance(timedelta(days=14).total_seconds())
    still = machine.describe_execution_record(record, clock.now())
    assert still["redriveStatus"] == "REDRIVABLE"
    clock.advance(1)
    refused = _refusal(machine, record, clock)
    assert (refused.code, refused.message) == (
        "ExecutionNotRedrivable", "Execution redrivable period exceeded",
    )  # fmt: skip
    described = machine.describe_execution_record(record, clock.now())
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution redrivable period exceeded"


def test_redrive_is_refused_when_the_history_has_no_room_left():
    """AWS: "The execution event history count is less than 24,999"."""
    machine, record, clock = _failed_record()
    record.history = record.history + [dict(record.history[-1])] * (24_999 - len(record.history))
    refused = _refusal(machine, record, clock)
    assert refused.message == "Execution history event limit exceeded"


def test_redrive_is_refused_a_year_after_the_start():
    machine, record, clock = _failed_record()
    record.start_date -= timedelta(days=366)
    assert _refusal(machine, record, clock).message == (
        "Execution has exceeded the max execution time"
    )


def test_an_express_execution_is_not_redrivable():
    """AWS: "This API action is not supported by EXPRESS state machines." """
    machine, record, clock = _failed_record()
    record.execution_type = "EXPRESS"
    refused = _refusal(machine, record, clock)
    assert refused.code == "InvalidArn"
    assert "not supported by EXPRESS state machines" in refused.message


def test_an_execution_without_a_checkpoint_and_with_a_fan_out_is_not_redrivable():
    """A record kept without the engine's checkpoint whose history has a Parallel in it
    (its branches' events interleave, so the history cannot say where each stopped)."""
    handler, _ = _work(fail_first=1)
    branch = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "End": True}}}
    machine = StateMachine(definition({"P": {"Type": "Parallel", "Branches": [branch],
                                             "End": True}}))  # fmt: skip
    clock = FakeClock()
    record = machine.run({}, resolver={"work": handler}, clock=clock).record()
    record.checkpoint = None
    assert _refusal(machine, record, clock).message == (
        "Execution was started before the launch of RedriveExecution"
    )


def test_an_execution_aborted_by_its_host_is_redriven_from_its_history():
    """A runner killed in the middle of a Task: the host closed the history with
    ExecutionAborted and kept no checkpoint. A history with no fan-out says where it
    stopped: the Task is entered again with its input and the variables assigned before."""
    handler, calls = _work(fail_first=0)
    machine = StateMachine(_pass_then_task())
    clock = FakeClock()
    done = machine.run({}, resolver={"work": handler}, clock=clock)
    cut = [e["type"] for e in done.history].index("LambdaFunctionStarted") + 1
    aborted = {
        "id": cut + 1,
        "previousEventId": cut,
        "timestamp": clock.now(),
        "type": "ExecutionAborted",
        "executionAbortedEventDetails": {"error": "Runner.Gone", "cause": "killed"},
    }
    history = [*done.history[:cut], aborted]  # fmt: skip
    record = done.record()
    record.status, record.checkpoint, record.history = "ABORTED", None, history
    assert machine.describe_execution_record(record, clock.now())["redriveStatus"] == ("REDRIVABLE")

    again = machine.redrive(record, resolver={"work": handler}, clock=clock)

    assert again.status == "SUCCEEDED"
    assert again.output == {"done": {"image": "a.jpg", "bucket": "photos", "redrives": 1}}
    assert [e["type"] for e in again.history][cut + 1 : cut + 3] == [
        "ExecutionRedriven", "TaskStateEntered",
    ]  # fmt: skip
    assert len(calls) == 2


def test_describe_of_a_failed_execution_says_it_is_redrivable():
    machine, record, clock = _failed_record()
    described = machine.describe_execution_record(record, clock.now())
    assert described["status"] == "FAILED"
    assert described["redriveCount"] == 0
    assert described["redriveStatus"] == "REDRIVABLE"
    assert "redriveDate" not in described and "redriveStatusReason" not in described
    assert described["executionArn"] == record.execution_arn
    assert described["stateMachineArn"] == machine.arn


# --- Map Runs -----------------------------------------------------------------------------


def test_a_map_run_redrive_runs_its_failed_children_again_and_keeps_the_rest():
    """AWS: "The parent workflow redrives all the unsuccessful states, including a failed
    Map Run" (redrive-map-run.html): the same Map Run, a MapRunRedriven event (mapRunArn,
    redriveCount), the failed child redriven with its own history continued, the succeeded
    children not run again, their results kept."""
    from map_run_helpers import distributed_map, types

    handler, calls = _work(fail_when=lambda event, n: event == 2 and n <= 2)
    task = {"T": {"Type": "Task", "Resource": FN, "End": True}}
    machine = StateMachine(distributed_map(task, Label="Each", MaxConcurrency=1))
    first = machine.run([1, 2, 3], resolver={"work": handler}, clock=FakeClock())
    assert first.status == "FAILED" and first.error == "States.ExceedToleratedFailureThreshold"
    map_run_arn = first.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    children = machine.list_executions(map_run_arn=map_run_arn)["executions"]
    failed = [c for c in children if c["status"] == "FAILED"]
    assert len(failed) == 1 and calls == [1, 2]

    again = machine.redrive(first.record(), resolver={"work": handler}, clock=FakeClock())

    assert again.status == "SUCCEEDED", (again.error, again.cause)
    assert again.output == [{"done": 1}, {"done": 2}, {"done": 3}]
    assert calls == [1, 2, 2, 3]  # child 1 kept, child 2 redriven, child 3 started
    assert types(again.history)[len(first.history) :] == [
        "ExecutionRedriven", "MapStateEntered", "MapStateStarted", "MapRunRedriven",
        "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded",
    ]  # fmt: skip
    redriven = next(e for e in again.history if e["type"] == "MapRunRedriven")
    assert redriven["mapRunRedrivenEventDetails"] == {"mapRunArn": map_run_arn,
                                                      "redriveCount": 1}  # fmt: skip
    described = machine.describe_map_run(map_run_arn)
    assert described["status"] == "SUCCEEDED" and described["redriveCount"] == 1
    assert "redriveDate" in described
    assert described["executionCounts"]["succeeded"] == 3
    assert described["executionCounts"]["total"] == 3
    assert described["executionCounts"]["failed"] == 0
    assert len(machine.list_map_runs(again.execution_arn)["mapRuns"]) == 1
    # The failed child is the same execution, its history continued.
    child_arn = failed[0]["executionArn"]
    child = machine.describe_execution(child_arn)
    assert child["status"] == "SUCCEEDED" and child["redriveCount"] == 1
    history = types(machine.get_execution_history(child_arn)["events"])
    assert history[0] == "ExecutionStarted"
    assert history.index("ExecutionFailed") < history.index("ExecutionRedriven")
    assert history[-1] == "ExecutionSucceeded"


def test_a_map_run_child_that_is_unsuccessful_is_redrivable_by_its_map_run():
    from map_run_helpers import distributed_map

    handler, _ = _work(fail_when=lambda event, n: event == 2)
    task = {"T": {"Type": "Task", "Resource": FN, "End": True}}
    machine = StateMachine(distributed_map(task, MaxConcurrency=1))
    first = machine.run([1, 2], resolver={"work": handler}, clock=FakeClock())
    map_run_arn = first.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    statuses = {
        c["status"]: machine.describe_execution(c["executionArn"])
        for c in machine.list_executions(map_run_arn=map_run_arn)["executions"]
    }
    assert statuses["FAILED"]["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    assert statuses["SUCCEEDED"]["redriveStatus"] == "NOT_REDRIVABLE"


def test_a_record_kept_as_json_redrives_a_jsonata_machine():
    """What a host keeps is JSON (the checkpoint, the history with ISO timestamps): a
    JSONata machine's variables come back from it."""
    import json

    from facepipe.engine.redrive import ExecutionRecord

    handler, _ = _work(fail_first=1)
    document = {
        "QueryLanguage": "JSONata",
        "StartAt": "Name",
        "States": {
            "Name": {"Type": "Pass", "Assign": {"who": "{% $states.input.who %}"},
                     "Next": "Call"},
            "Call": {"Type": "Task", "Resource": FN, "Arguments": {"who": "{% $who %}"},
                     "End": True},
        },
    }  # fmt: skip
    machine = StateMachine(document)
    first = machine.run({"who": "ada"}, resolver={"work": handler}, clock=FakeClock())
    kept = first.record()
    stored = ExecutionRecord(
        execution_arn=kept.execution_arn, name=kept.name, status=kept.status,
        input=json.loads(json.dumps(kept.input)), start_date=kept.start_date,
        stop_date=kept.stop_date,
        history=json.loads(json.dumps(kept.history, default=lambda d: d.isoformat())),
        checkpoint=json.loads(json.dumps(kept.checkpoint)), definition=kept.definition,
    )  # fmt: skip

    again = machine.redrive(stored, resolver={"work": handler}, clock=FakeClock())

    assert again.output == {"done": {"who": "ada"}}
    assert again.history[len(first.history)]["type"] == "ExecutionRedriven"


def test_a_redriven_map_run_writes_its_results_again_with_the_pending_children_run():
    """A run that stopped with children never started (PENDING) starts them on redrive; the
    ResultWriter files are written again under the same Map Run, all SUCCEEDED now."""
    import json

    from map_run_helpers import distributed_map

    from facepipe.engine.objectstore import MemoryObjectStore

    handler, calls = _work(fail_when=lambda event, n: event == 0 and n <= 1)
    task = {"T": {"Type": "Task", "Resource": FN, "End": True}}
    writer = {"Resource": "arn:aws:states:::s3:putObject",
              "Parameters": {"Bucket": "results", "Prefix": "jobs"}}  # fmt: skip
    store = MemoryObjectStore({"results": {}})
    machine = StateMachine(distributed_map(task, ResultWriter=writer, MaxConcurrency=1))
    first = machine.run([0, 1, 2], resolver={"work": handler}, clock=FakeClock(),
                        object_store=store)  # fmt: skip
    map_run_arn = first.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert machine.describe_map_run(map_run_arn)["itemCounts"]["pending"] == 2

    again = machine.redrive(first.record(), resolver={"work": handler}, clock=FakeClock(),
                            object_store=store)  # fmt: skip

    assert again.status == "SUCCEEDED", (again.error, again.cause)
    assert again.output["MapRunArn"] == map_run_arn
    counts = machine.describe_map_run(map_run_arn)["itemCounts"]
    assert (counts["succeeded"], counts["pending"], counts["failed"]) == (3, 0, 0)
    assert (counts["total"], counts["resultsWritten"]) == (3, 3)
    run_id = map_run_arn.rsplit(":", 1)[1]
    files = store.buckets["results"]
    manifest = json.loads(files[f"jobs/{run_id}/manifest.json"])
    assert manifest["ResultFiles"]["FAILED"] == [] and manifest["ResultFiles"]["PENDING"] == []
    succeeded = json.loads(files[f"jobs/{run_id}/SUCCEEDED_0.json"])
    assert sorted(json.loads(e["Output"])["done"] for e in succeeded) == [0, 1, 2]
    assert calls == [0, 0, 1, 2]


def test_an_express_child_starts_again_when_its_map_run_is_redriven():
    from map_run_helpers import distributed_map

    handler, calls = _work(fail_when=lambda event, n: n == 1)
    task = {"T": {"Type": "Task", "Resource": FN, "End": True}}
    machine = StateMachine(distributed_map(task, "EXPRESS"))
    first = machine.run(["x"], resolver={"work": handler}, clock=FakeClock())
    again = machine.redrive(first.record(), resolver={"work": handler}, clock=FakeClock())
    assert again.output == [{"done": "x"}]
    assert calls == ["x", "x"]
