"""The project's state machine (statemachine/face_pipeline.asl.json) end to end on the engine.

The handlers here are stubs on purpose: this tests the engine and the definition together —
paths, Retry/Catch, the Choice branches — not the step logic, which has its own tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from facepipe.engine import FakeClock, StateMachine
from facepipe.graph import billed_transitions

DEFINITION = Path(__file__).resolve().parents[2] / "statemachine" / "face_pipeline.asl.json"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:facepipe-{}"
SUBSTITUTIONS = {
    "DetectFunctionArn": ARN.format("detect"),
    "PersistFunctionArn": ARN.format("persist"),
    "NotifyFunctionArn": ARN.format("notify"),
}


class ThrottlingException(Exception):
    """Named as Rekognition names its throttling error."""


class InvalidImageFormatException(Exception):
    """Named as Rekognition names a permanent bad-image error."""


def upload_event(version_id: str | None = "v-1") -> dict[str, Any]:
    obj: dict[str, Any] = {"key": "uploads/team+photo.jpg", "size": 52431, "etag": "e-1",
                           "sequencer": "00617F08299329D189"}  # fmt: skip
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2024-05-01T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::facepipe-uploads"],
        "detail": {"version": "0", "bucket": {"name": "facepipe-uploads"}, "object": obj,
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                   "reason": "PutObject"},
    }  # fmt: skip


class Stubs:
    """Stub detect/persist/notify handlers that record what they were sent."""

    def __init__(self, faces: int = 2, outcome: str = "WRITTEN") -> None:
        self.faces = faces
        self.outcome = outcome
        self.calls: dict[str, list[Any]] = {"detect": [], "persist": [], "notify": []}
        self.detect_failures: list[Exception] = []
        self.notify_failure: Exception | None = None

    def resolver(self) -> dict[str, Any]:
        return {ARN.format(name): getattr(self, name) for name in self.calls}

    def detect(self, event: Any, context: Any) -> dict[str, Any]:
        self.calls["detect"].append(event)
        if self.detect_failures:
            raise self.detect_failures.pop(0)
        return {"faceCount": self.faces, "faces": [{"confidence": 99.1}] * self.faces,
                "attributes": "DEFAULT", "minConfidence": 90, "detectedAt": "2024-05-01T12:00:01Z",
                "objectKey": event["image"]["key"]}  # fmt: skip

    def persist(self, event: Any, context: Any) -> dict[str, Any]:
        self.calls["persist"].append(event)
        if "error" in event:
            return {"error": event["error"]["Error"], "reason": "The file is not a JPEG or PNG."}
        return {"status": "DONE", "outcome": self.outcome,
                "faceCount": event["detection"]["faceCount"]}  # fmt: skip

    def notify(self, event: Any, context: Any) -> dict[str, Any]:
        self.calls["notify"].append(event)
        if self.notify_failure is not None:
            raise self.notify_failure
        return {"sent": True, "messageId": "msg-1"}


@pytest.fixture(scope="module")
def machine() -> StateMachine:
    return StateMachine(DEFINITION.read_text(), SUBSTITUTIONS)


def _states_entered(result) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in result.history
            if e["type"].endswith("StateEntered")]  # fmt: skip


def test_image_with_faces_is_detected_recorded_and_notified(machine):
    stubs = Stubs(faces=2)
    result = machine.run(upload_event(), resolver=stubs.resolver(), clock=FakeClock())
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert _states_entered(result) == ["Detect", "Persist", "HasFaces", "Notify"]
    image = stubs.calls["detect"][0]["image"]
    assert image == {
        "bucket": "facepipe-uploads",
        "key": "uploads/team+photo.jpg",
        "versionId": "v-1",
        "etag": "e-1",
        "size": 52431,
        "sequencer": "00617F08299329D189",
        "eventTime": "2024-05-01T12:00:00Z",
    }
    assert stubs.calls["detect"][0]["executionArn"] == result.execution_arn
    assert stubs.calls["persist"][0]["detection"]["faceCount"] == 2
    assert result.output["record"] == {"status": "DONE", "outcome": "WRITTEN", "faceCount": 2}
    assert result.output["notification"] == {"sent": True, "messageId": "msg-1"}


def test_image_without_faces_takes_the_no_faces_branch(machine):
    stubs = Stubs(faces=0)
    result = machine.run(upload_event(), resolver=stubs.resolver(), clock=FakeClock())
    assert result.status == "SUCCEEDED"
    assert _states_entered(result)[-2:] == ["HasFaces", "NoFaces"]
    assert stubs.calls["notify"] == []


def test_stale_event_is_superseded_without_notifying(machine):
    stubs = Stubs(faces=3, outcome="STALE")
    result = machine.run(upload_event(), resolver=stubs.resolver(), clock=FakeClock())
    assert _states_entered(result) == ["Detect", "Persist", "HasFaces", "Superseded"]
    assert stubs.calls["notify"] == []


def test_unversioned_object_gets_the_null_version(machine):
    stubs = Stubs()
    result = machine.run(upload_event(None), resolver=stubs.resolver(), clock=FakeClock())
    assert _states_entered(result) == ["Detect", "Persist", "HasFaces", "Notify"]
    for step in ("detect", "persist", "notify"):
        assert stubs.calls[step][0]["image"]["versionId"] == "null", step
    assert result.output["image"]["versionId"] == "null"


def test_throttled_detect_is_retried_with_backoff_and_succeeds(machine):
    stubs = Stubs(faces=1)
    stubs.detect_failures = [ThrottlingException("Rate exceeded"), ThrottlingException("again")]
    clock = FakeClock()
    result = machine.run(upload_event(), resolver=stubs.resolver(), clock=clock)
    assert result.status == "SUCCEEDED"
    assert len(stubs.calls["detect"]) == 3
    # IntervalSeconds 2, BackoffRate 2, FULL jitter: each wait lies within [0, 2 * 2^n].
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 2 and 0 <= clock.sleeps[1] <= 4
    types = [e["type"] for e in result.history]
    assert types.count("TaskFailed") == 2 and types.count("TaskScheduled") == 5


def test_permanent_image_error_is_recorded_then_fails_the_execution(machine):
    stubs = Stubs()
    stubs.detect_failures = [InvalidImageFormatException("Request has invalid image format")]
    result = machine.run(upload_event(), resolver=stubs.resolver(), clock=FakeClock())
    assert result.status == "FAILED"
    assert result.error == "InvalidImageFormatException"
    assert result.cause == "The file is not a JPEG or PNG."
    assert len(stubs.calls["detect"]) == 1  # a permanent error is not retried
    recorded = stubs.calls["persist"][0]
    assert recorded["error"]["Error"] == "InvalidImageFormatException"
    assert json.loads(recorded["error"]["Cause"])["errorMessage"] == (
        "Request has invalid image format"
    )
    assert _states_entered(result)[-2:] == ["RecordFailure", "Failed"]
    assert result.history[-1]["type"] == "ExecutionFailed"


def test_unexpected_error_is_caught_by_states_all(machine):
    stubs = Stubs()
    stubs.detect_failures = [KeyError("boom")]
    result = machine.run(upload_event(), resolver=stubs.resolver(), clock=FakeClock())
    assert (result.status, result.error) == ("FAILED", "KeyError")
    assert "RecordFailure" in _states_entered(result)


class AuthorizationErrorException(Exception):
    """Named as SNS names a refused Publish (a failure no retry mends)."""


def test_a_notify_failure_is_recorded_with_the_image_and_fails_the_execution(machine):
    stubs = Stubs(faces=1)
    stubs.notify_failure = AuthorizationErrorException("not authorized to publish")
    result = machine.run(upload_event(), resolver=stubs.resolver(), clock=FakeClock())
    assert (result.status, result.error) == ("FAILED", "AuthorizationErrorException")
    assert _states_entered(result) == [
        "Detect", "Persist", "HasFaces", "Notify", "RecordFailure", "Failed",
    ]  # fmt: skip
    recorded = stubs.calls["persist"][1]  # RecordFailure reuses the persist function
    assert recorded["image"] == stubs.calls["notify"][0]["image"]
    assert recorded["error"]["Error"] == "AuthorizationErrorException"
    assert set(recorded) == {"image", "error", "executionArn"}


def _billed(machine: StateMachine, stubs: Stubs, event: dict[str, Any] | None = None) -> int:
    result = machine.run(event or upload_event(), resolver=stubs.resolver(), clock=FakeClock())
    return billed_transitions(result.history)


def test_state_transitions_per_image_as_standard_bills_them(machine):
    """Each state entered is one transition, each retry one more (AWS Step Functions pricing,
    https://aws.amazon.com/step-functions/pricing/: "Step Functions counts a state transition
    each time a step of your workflow is executed ... including retries").

    The goal of issue 11: at most 5 for an image with faces, 12.5 % of Rekognition's $1.00
    per 1,000 images at $0.025 per 1,000 transitions. The JSONPath design took 8.
    """
    assert _billed(machine, Stubs(faces=2)) == 4 <= 5
    assert _billed(machine, Stubs(faces=2), upload_event(None)) == 4  # unversioned bucket
    assert _billed(machine, Stubs(faces=0)) == 4
    assert _billed(machine, Stubs(faces=2, outcome="STALE")) == 4
    rejected = Stubs()
    rejected.detect_failures = [InvalidImageFormatException("Request has invalid image format")]
    assert _billed(machine, rejected) == 3  # Detect, RecordFailure, Failed
    throttled = Stubs(faces=1)
    throttled.detect_failures = [ThrottlingException("Rate exceeded")]
    assert _billed(machine, throttled) == 5  # one retry
    notify_refused = Stubs(faces=1)
    notify_refused.notify_failure = AuthorizationErrorException("not authorized")
    assert _billed(machine, notify_refused) == 6


def test_an_event_without_a_field_the_image_needs_fails_before_any_step(machine):
    """As Normalise's JSONPath did (States.Runtime), Detect's Arguments refuse an event that
    lacks a field: a JSONata expression that returns nothing is States.QueryEvaluationError
    (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html). The Catch
    takes it, and its Output fails the same way, so no step runs and no record is written."""
    event = upload_event()
    del event["detail"]["object"]["etag"]
    stubs = Stubs()
    result = machine.run(event, resolver=stubs.resolver(), clock=FakeClock())
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert "'$states.input.detail.object.etag'" in (result.cause or "")
    assert stubs.calls == {"detect": [], "persist": [], "notify": []}
    assert _states_entered(result) == ["Detect"]
