"""GetExecutionHistory events in the shape AWS records them for this state machine.

Built from the real event types and detail fields of the optimised `lambda:invoke`
integration (TaskScheduled/TaskStarted/TaskSucceeded/TaskFailed, one details object per
event, JSON strings for data, datetime timestamps as boto3 returns them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:FacePipe-Detect"


class HistoryBuilder:
    def __init__(self, execution_input: dict[str, Any]) -> None:
        self.events: list[dict[str, Any]] = []
        self.ms = 0
        self.state: dict[str, Any] = execution_input
        self._add("ExecutionStarted", executionStartedEventDetails={
            "input": json.dumps(execution_input), "inputDetails": {"truncated": False},
            "roleArn": "arn:aws:iam::123456789012:role/FacePipe-StateMachineRole",
        })  # fmt: skip

    def _add(self, kind: str, step_ms: int = 5, **details: Any) -> None:
        self.ms += step_ms
        event = {
            "timestamp": T0 + timedelta(milliseconds=self.ms),
            "type": kind,
            "id": len(self.events) + 1,
            "previousEventId": len(self.events),
        }
        event.update(details)
        self.events.append(event)

    def enter(self, name: str, kind: str) -> HistoryBuilder:
        self._add(f"{kind}StateEntered", stateEnteredEventDetails={
            "name": name, "input": json.dumps(self.state), "inputDetails": {"truncated": False},
        })  # fmt: skip
        return self

    def exit(self, name: str, kind: str, state: dict[str, Any] | None = None) -> HistoryBuilder:
        self.state = state if state is not None else self.state
        self._add(f"{kind}StateExited", stateExitedEventDetails={
            "name": name, "output": json.dumps(self.state), "outputDetails": {"truncated": False},
        })  # fmt: skip
        return self

    def task_attempt(self, ms: int, error: str | None = None) -> HistoryBuilder:
        common = {"resourceType": "lambda", "resource": "invoke"}
        self._add("TaskScheduled", taskScheduledEventDetails={
            **common, "region": "eu-west-1",
            "parameters": json.dumps({"FunctionName": FUNCTION, "Payload": {}}),
        })  # fmt: skip
        self._add("TaskStarted", taskStartedEventDetails=common)
        if error is None:
            self._add("TaskSucceeded", ms, taskSucceededEventDetails={
                **common, "output": "{}", "outputDetails": {"truncated": False},
            })  # fmt: skip
        else:
            self._add("TaskFailed", ms, taskFailedEventDetails={
                **common, "error": error, "cause": f"{error}: Rate exceeded",
            })  # fmt: skip
        return self

    def succeed(self) -> list[dict[str, Any]]:
        self._add("ExecutionSucceeded", executionSucceededEventDetails={
            "output": json.dumps(self.state), "outputDetails": {"truncated": False},
        })  # fmt: skip
        return self.events

    def fail(self, error: str, cause: str) -> list[dict[str, Any]]:
        self._add("ExecutionFailed", executionFailedEventDetails={"error": error, "cause": cause})
        return self.events


def with_faces_history(execution_input: dict[str, Any], faces: int = 1) -> list[dict[str, Any]]:
    """Versioned upload, Detect throttled once then succeeds, record written, email sent."""
    detection = {"faceCount": faces, "faces": [], "attributes": "DEFAULT", "minConfidence": 90}
    image = {"bucket": "b", "key": "k", "versionId": "v"}
    h = HistoryBuilder(execution_input)
    h.enter("Detect", "Task").task_attempt(40, "Lambda.TooManyRequestsException")
    h.task_attempt(180).exit("Detect", "Task", {"image": image, "detection": detection})
    record = {"status": "DETECTED", "outcome": "WRITTEN", "faceCount": faces}
    h.enter("Persist", "Task").task_attempt(30)
    h.exit("Persist", "Task", {**h.state, "record": record})
    h.enter("HasFaces", "Choice").exit("HasFaces", "Choice")
    if faces:
        h.enter("Notify", "Task").task_attempt(60)
        h.exit("Notify", "Task", {**h.state, "notification": {"sent": True, "messageId": "m-1"}})
    else:
        h.enter("NoFaces", "Succeed").exit("NoFaces", "Succeed")
    return h.succeed()


def caught_failure_history(execution_input: dict[str, Any]) -> list[dict[str, Any]]:
    """Detect fails with InvalidImageFormatException, Catch -> RecordFailure -> Failed."""
    h = HistoryBuilder(execution_input)
    h.enter("Detect", "Task").task_attempt(20, "InvalidImageFormatException")
    h.enter("RecordFailure", "Task").task_attempt(25)
    h.exit("RecordFailure", "Task")
    h.enter("Failed", "Fail")
    return h.fail("InvalidImageFormatException", "the file is not a JPEG or PNG image")
