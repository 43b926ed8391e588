"""The execution graph: layout from ASL, state status from AWS-shaped histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from facepipe.graph import EdgeKind, StateStatus, build_graph, summarize_history
from facepipe.graph.terminal import render_execution

DEFINITION: dict[str, Any] = {
    "StartAt": "Detect",
    "States": {
        "Detect": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Retry": [{"ErrorEquals": ["ThrottlingException"], "MaxAttempts": 3}],
            "Catch": [{"ErrorEquals": ["InvalidImageFormatException"], "Next": "RecordFailure"}],
            "Next": "HasFaces",
        },
        "HasFaces": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.faceCount", "NumericGreaterThan": 0, "Next": "Notify"}],
            "Default": "Done",
        },
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True},
        "Done": {"Type": "Succeed"},
        "RecordFailure": {"Type": "Pass", "Next": "Failed"},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"},
        "Fan": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}],
            "End": True,
        },
        "Each": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
            "End": True,
        },
    },
}

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _event(eid: int, kind: str, ms: int, **details: Any) -> dict[str, Any]:
    """An event as boto3's get_execution_history returns it (datetime timestamps)."""
    event: dict[str, Any] = {
        "id": eid,
        "previousEventId": eid - 1,
        "type": kind,
        "timestamp": T0 + timedelta(milliseconds=ms),
    }
    event.update(details)
    return event


def _entered(eid: int, kind: str, ms: int, name: str) -> dict[str, Any]:
    return _event(eid, kind, ms, stateEnteredEventDetails={"name": name, "input": "{}"})


def _exited(eid: int, kind: str, ms: int, name: str, output: str = "{}") -> dict[str, Any]:
    return _event(eid, kind, ms, stateExitedEventDetails={"name": name, "output": output})


def test_edges_cover_next_choice_default_and_catch() -> None:
    graph = build_graph(DEFINITION)
    kinds = {(e.source, e.target): e.kind for e in graph.edges}
    assert kinds[("Detect", "HasFaces")] is EdgeKind.NEXT
    assert kinds[("Detect", "RecordFailure")] is EdgeKind.CATCH
    assert kinds[("HasFaces", "Notify")] is EdgeKind.CHOICE
    assert kinds[("HasFaces", "Done")] is EdgeKind.DEFAULT
    choice = next(e for e in graph.edges if e.kind is EdgeKind.CHOICE)
    assert choice.label == "$.faceCount > 0"
    assert graph.nodes["Detect"].retries == [["ThrottlingException"]]
    assert graph.nodes["Failed"].end and graph.nodes["Done"].end


def test_a_jsonata_choice_rule_is_labelled_with_its_condition_and_a_task_end_is_an_end() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "HasFaces",
        "States": {
            "HasFaces": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% $states.input.faceCount > 0 %}", "Next": "Notify"},
                ],
                "Default": "NoFaces",
            },
            "Notify": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True},
            "NoFaces": {"Type": "Succeed"},
        },
    }
    graph = build_graph(definition)
    (choice,) = [e for e in graph.edges if e.kind is EdgeKind.CHOICE]
    assert (choice.target, choice.label) == ("Notify", "$states.input.faceCount > 0")
    assert graph.nodes["Notify"].end and graph.nodes["NoFaces"].end


def test_parallel_and_map_become_subgraphs() -> None:
    graph = build_graph(DEFINITION)
    assert [b.start_at for b in graph.nodes["Fan"].branches] == ["A"]
    assert [b.start_at for b in graph.nodes["Each"].branches] == ["B"]


def test_walk_order_puts_main_path_before_catch_target() -> None:
    order = build_graph(DEFINITION).walk_order()
    assert order.index("HasFaces") < order.index("RecordFailure")
    assert order[0] == "Detect" and set(order) == set(DEFINITION["States"])


def test_retry_then_success_and_choice_branch() -> None:
    lambda_failed = {"error": "ThrottlingException", "cause": "slow down"}
    events = [
        _event(1, "ExecutionStarted", 0),
        _entered(2, "TaskStateEntered", 1, "Detect"),
        _event(3, "TaskScheduled", 2),
        _event(4, "TaskFailed", 50, taskFailedEventDetails=lambda_failed),
        _event(5, "TaskScheduled", 1050),
        _event(6, "TaskSucceeded", 1100),
        _exited(7, "TaskStateExited", 1101, "Detect"),
        _entered(8, "ChoiceStateEntered", 1102, "HasFaces"),
        _exited(9, "ChoiceStateExited", 1102, "HasFaces"),
        _entered(10, "TaskStateEntered", 1103, "Notify"),
        _event(11, "TaskScheduled", 1103),
        _event(12, "TaskSucceeded", 1200),
        _exited(13, "TaskStateExited", 1201, "Notify"),
        _event(14, "ExecutionSucceeded", 1202),
    ]
    graph = build_graph(DEFINITION)
    summary = summarize_history(events, list(graph.nodes))
    assert summary.status == "SUCCEEDED"
    assert summary.path == ["Detect", "HasFaces", "Notify"]
    detect = summary.states["Detect"]
    assert detect.status is StateStatus.SUCCEEDED
    assert detect.retries == 1 and detect.error is None
    assert detect.failures == [("ThrottlingException", "slow down")]
    assert detect.duration_ms == 1100
    assert summary.states["Done"].status is StateStatus.NOT_REACHED
    assert summary.states["RecordFailure"].status is StateStatus.NOT_REACHED


def test_caught_error_without_exit_event_and_fail_state() -> None:
    failed = {"error": "InvalidImageFormatException", "cause": "not a JPEG or PNG"}
    events = [
        _event(1, "ExecutionStarted", 0),
        _entered(2, "TaskStateEntered", 1, "Detect"),
        _event(3, "LambdaFunctionScheduled", 2),
        _event(4, "LambdaFunctionFailed", 30, lambdaFunctionFailedEventDetails=failed),
        _entered(5, "PassStateEntered", 31, "RecordFailure"),
        _exited(6, "PassStateExited", 32, "RecordFailure"),
        _entered(7, "FailStateEntered", 33, "Failed"),
        _event(8, "ExecutionFailed", 34, executionFailedEventDetails=failed),
    ]
    graph = build_graph(DEFINITION)
    summary = summarize_history(events, list(graph.nodes))
    assert summary.status == "FAILED"
    assert summary.error == "InvalidImageFormatException"
    assert summary.states["Detect"].status is StateStatus.CAUGHT
    assert summary.states["Detect"].error == "InvalidImageFormatException"
    assert summary.states["RecordFailure"].status is StateStatus.SUCCEEDED
    assert summary.states["Failed"].status is StateStatus.FAILED
    assert summary.states["HasFaces"].status is StateStatus.NOT_REACHED


def test_iso_string_timestamps_and_running_execution() -> None:
    events = [
        {"id": 1, "type": "ExecutionStarted", "timestamp": "2026-11-25T12:00:00.000Z"},
        {
            "id": 2,
            "previousEventId": 1,
            "type": "TaskStateEntered",
            "timestamp": "2026-11-25T12:00:00.010Z",
            "stateEnteredEventDetails": {"name": "Detect", "input": "{}"},
        },
    ]
    summary = summarize_history(events, list(DEFINITION["States"]))
    assert summary.status == "RUNNING"
    assert summary.states["Detect"].status is StateStatus.RUNNING


def test_terminal_render_is_plain_without_a_tty() -> None:
    events = [
        _event(1, "ExecutionStarted", 0),
        _entered(2, "TaskStateEntered", 1, "Detect"),
        _event(3, "TaskScheduled", 2),
        _event(4, "TaskSucceeded", 40),
        _exited(5, "TaskStateExited", 41, "Detect"),
        _entered(6, "ChoiceStateEntered", 42, "HasFaces"),
        _exited(7, "ChoiceStateExited", 42, "HasFaces"),
        _entered(8, "SucceedStateEntered", 43, "Done"),
        _exited(9, "SucceedStateExited", 43, "Done"),
        _event(10, "ExecutionSucceeded", 44),
    ]
    graph = build_graph(DEFINITION)
    summary = summarize_history(events, list(graph.nodes))
    console = Console(record=True, force_terminal=False, width=120)
    console.print(render_execution(graph, summary, "uploads/party.jpg"))
    text = console.export_text()
    assert "\x1b[" not in text
    assert "uploads/party.jpg  SUCCEEDED" in text
    assert "✔ Detect (Task)  40 ms" in text
    assert "[default] ✔ Done" not in text  # the label sits on the branch line
    assert "default" in text and "✔ Done (Succeed)" in text
    assert "· Notify (Task)  not reached" in text
    assert "catch InvalidImageFormatException" in text


def test_presence_and_type_tests_read_as_sentences() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.v", "IsPresent": True, "Next": "A"},
                    {"Variable": "$.n", "IsNull": False, "Next": "A"},
                ],
                "Default": "A",
            },
            "A": {"Type": "Succeed"},
        },
    }
    labels = [e.label for e in build_graph(definition).edges if e.kind is EdgeKind.CHOICE]
    assert labels == ["$.v is present", "$.n is not null"]


def test_catch_rules_to_one_target_render_as_one_branch() -> None:
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Catch": [
                    {"ErrorEquals": ["BadImage"], "Next": "Record"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Record"},
                ],
                "End": True,
            },
            "Record": {"Type": "Pass", "End": True},
        },
    }
    graph = build_graph(definition)
    summary = summarize_history([], list(graph.nodes))
    console = Console(record=True, force_terminal=False, width=120)
    console.print(render_execution(graph, summary, "k"))
    text = console.export_text()
    assert text.count("catch ") == 1
    assert "catch BadImage, States.ALL" in text
    assert "· Record (Pass)  not reached" in text
