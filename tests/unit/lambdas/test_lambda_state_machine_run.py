"""The ASL file run by the local engine over the real step logic (moto + Stubber services).

Checks what only a run shows: the paths between states line up, every state's input and
output stays under 256 KB with 100 faces, and a permanent error ends FAILED with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from lambda_factories import detect_faces_response, object_created_event

from facepipe.engine import FakeClock, StateMachine
from lambdas.aws.dynamodb import LATEST_VERSION_ID, DynamoDbRecordStore
from lambdas.aws.rekognition import RekognitionDetector
from lambdas.aws.sns import SnsNotifier
from lambdas.detect.step import DetectConfig
from lambdas.detect.step import create_handler as create_detect
from lambdas.notify.step import NotifyConfig
from lambdas.notify.step import create_handler as create_notify
from lambdas.persist.step import PersistConfig
from lambdas.persist.step import create_handler as create_persist

ASL_PATH = Path(__file__).parents[3] / "statemachine" / "face_pipeline.asl.json"
STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024
FUNCTIONS = {
    "DetectFunctionArn": "detect",
    "PersistFunctionArn": "persist",
    "NotifyFunctionArn": "notify",
}


@pytest.fixture
def pipeline(table: Any) -> Any:
    sns = boto3.client("sns")
    topic_arn = sns.create_topic(Name="face-alerts")["TopicArn"]
    rekognition = boto3.client("rekognition")
    store = DynamoDbRecordStore(table)
    resolver = {
        "detect": create_detect(
            RekognitionDetector(rekognition), DetectConfig(attributes="ALL", min_confidence=0)
        ),
        "persist": create_persist(store, PersistConfig()),
        "notify": create_notify(store, SnsNotifier(sns, topic_arn), NotifyConfig()),
    }
    machine = StateMachine(ASL_PATH.read_text(encoding="utf-8"), FUNCTIONS)
    with Stubber(rekognition) as stub:

        def run(event: dict[str, Any]) -> Any:
            return machine.run(event, resolver=resolver, clock=FakeClock())

        yield run, stub, store


def payload_sizes(history: list[dict[str, Any]]) -> list[int]:
    """Byte sizes of every state input and output in the execution history."""
    sizes = []
    for event in history:
        for details in event.values():
            if isinstance(details, dict):
                sizes += [
                    len(details[k].encode())
                    for k in ("input", "output")
                    if isinstance(details.get(k), str)
                ]
    return sizes


def test_one_hundred_faces_run_through_with_every_state_under_the_payload_limit(pipeline):
    run, stub, store = pipeline
    stub.add_response("detect_faces", detect_faces_response(100, "ALL"))
    result = run(object_created_event("uploads/Grüße aus Köln.jpg"))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["record"] == {"status": "DETECTED", "outcome": "WRITTEN", "faceCount": 100}
    assert result.output["notification"]["sent"] is True
    sizes = payload_sizes(result.history)
    print(f"largest state payload {max(sizes)} bytes")
    assert max(sizes) > 100_000  # the faces did travel through the states
    assert max(sizes) < STEP_FUNCTIONS_PAYLOAD_LIMIT
    record = store.get("uploads/Grüße aus Köln.jpg", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert record is not None and record.face_count == 100 and record.notified_at


def test_no_faces_succeeds_without_an_email(pipeline):
    run, stub, _ = pipeline
    stub.add_response("detect_faces", {"FaceDetails": []})
    result = run(object_created_event())
    assert result.status == "SUCCEEDED"
    assert "notification" not in result.output


def test_throttling_is_retried_then_succeeds(pipeline):
    run, stub, _ = pipeline
    stub.add_client_error("detect_faces", service_error_code="ThrottlingException")
    stub.add_client_error(
        "detect_faces", service_error_code="ProvisionedThroughputExceededException"
    )
    stub.add_response("detect_faces", detect_faces_response(1, "ALL"))
    result = run(object_created_event())
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["record"]["faceCount"] == 1


def test_a_permanent_image_error_is_recorded_and_fails_the_execution(pipeline, table):
    run, stub, store = pipeline
    stub.add_client_error(
        "detect_faces",
        service_error_code="InvalidImageFormatException",
        service_message="bad format",
    )
    result = run(object_created_event("uploads/notes.jpg", version_id=None))
    assert result.status == "FAILED"
    assert result.error == "InvalidImageFormatException"
    assert result.cause.startswith("The file is not a JPEG or PNG image, or it is damaged.")
    record = store.get("uploads/notes.jpg", "null")
    assert record is not None and (record.status, record.error) == (
        "FAILED",
        "InvalidImageFormatException",
    )
    assert record.reason == result.cause
    retried = [e for e in result.history if e["type"] == "TaskScheduled"]
    assert len(retried) == 2  # Detect once (not retried), then RecordFailure
    latest = table.get_item(Key={"imageKey": "uploads/notes.jpg", "versionId": LATEST_VERSION_ID})[
        "Item"
    ]
    assert latest["status"] == "FAILED"


def test_the_same_event_twice_sends_one_email(pipeline):
    run, stub, _ = pipeline
    event = object_created_event()
    for _ in range(2):
        stub.add_response("detect_faces", detect_faces_response(2, "ALL"))
    first, second = run(event), run(json.loads(json.dumps(event)))
    assert first.output["notification"]["sent"] is True
    assert second.output["record"]["outcome"] == "DUPLICATE"
    assert second.output["notification"]["sent"] is False


@pytest.mark.parametrize(
    "key", ["uploads/notes.txt", "uploads/clip.GIF", "uploads/", "uploads/a.jpg.bak"]
)
def test_a_key_not_named_as_an_image_is_refused_by_the_state_machine_with_a_record(pipeline, key):
    """The rule takes every key under uploads/; Detect refuses the rest before Rekognition."""
    run, _, store = pipeline  # no DetectFaces response queued: Rekognition is not called
    result = run(object_created_event(key))
    assert result.status == "FAILED"
    assert result.error == "InvalidImageFormatException"
    assert "is not named as a JPEG or PNG image" in result.cause
    record = store.get(key, "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert record is not None and record.status == "FAILED" and record.reason == result.cause
    states = [
        e["stateEnteredEventDetails"]["name"]
        for e in result.history
        if e["type"].endswith("StateEntered")
    ]
    assert states == ["Detect", "RecordFailure", "Failed"]


@pytest.mark.parametrize("key", ["uploads/a.JPG", "uploads/b.Jpeg", "uploads/c.pNg"])
def test_image_names_in_any_letter_case_are_detected(pipeline, key):
    run, stub, _ = pipeline
    stub.add_response("detect_faces", {"FaceDetails": []})
    assert run(object_created_event(key)).status == "SUCCEEDED"


def test_a_notify_failure_is_recorded_through_record_failure_and_keeps_the_record(table):
    """Notify's Catch goes to RecordFailure, whose persist counts it (the ImagesFailed alarm)."""
    rekognition = boto3.client("rekognition")
    store = DynamoDbRecordStore(table)
    # A topic that does not exist: SNS answers NotFound, which no retrier takes.
    sns = boto3.client("sns")
    missing_topic = "arn:aws:sns:eu-west-1:123456789012:no-such-topic"
    resolver = {
        "detect": create_detect(RekognitionDetector(rekognition), DetectConfig()),
        "persist": create_persist(store, PersistConfig()),
        "notify": create_notify(store, SnsNotifier(sns, missing_topic), NotifyConfig()),
    }
    machine = StateMachine(ASL_PATH.read_text(encoding="utf-8"), FUNCTIONS)
    with Stubber(rekognition) as stub:
        stub.add_response("detect_faces", detect_faces_response(2, "DEFAULT"))
        result = machine.run(object_created_event(), resolver=resolver, clock=FakeClock())
    assert result.status == "FAILED"
    states = [
        e["stateEnteredEventDetails"]["name"]
        for e in result.history
        if e["type"].endswith("StateEntered")
    ]
    assert states[-3:] == ["Notify", "RecordFailure", "Failed"]
    record = store.get("uploads/party.jpg", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert record is not None and record.status == "DETECTED" and record.face_count == 2
