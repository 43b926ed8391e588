"""The persist step on a moto DynamoDB table: idempotent, order-safe, failures recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from botocore.stub import Stubber
from lambda_factories import EXECUTION_ARN, TABLE_NAME, object_created_event, step_payload

from lambdas.aws.dynamodb import LATEST_VERSION_ID, DynamoDbRecordStore
from lambdas.detect.step import DetectConfig
from lambdas.detect.step import create_handler as create_detect
from lambdas.domain import errors
from lambdas.persist import handler as persist_handler
from lambdas.persist.step import PersistConfig, create_handler

STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024
DYNAMODB_ITEM_LIMIT = 400 * 1024


def detection(face_count: int = 2, faces: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    faces = faces if faces is not None else [{"confidence": 99.0 - i} for i in range(face_count)]
    return {
        "faceCount": face_count,
        "faces": faces,
        "attributes": "DEFAULT",
        "minConfidence": 90.0,
        "detectedAt": "2026-11-25T11:00:02+00:00",
    }


def persist(table: Any, payload: dict[str, Any]) -> dict[str, Any]:
    return create_handler(DynamoDbRecordStore(table), PersistConfig())(payload, None)


def version_items(table: Any) -> list[dict[str, Any]]:
    return [item for item in table.scan()["Items"] if item["versionId"] != LATEST_VERSION_ID]


def test_a_detection_is_recorded_per_image_version(table):
    event = object_created_event("uploads/summer party.jpg")
    result = persist(table, step_payload(event, detection=detection(2)))
    assert result == {
        "status": "DETECTED",
        "outcome": "WRITTEN",
        "faceCount": 2,
        "imageKey": "uploads/summer party.jpg",
        "versionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    }
    [item] = version_items(table)
    assert item["imageKey"] == "uploads/summer party.jpg"  # decoded, not "summer+party"
    assert item["status"] == "DETECTED"
    assert item["faceCount"] == 2
    assert item["etag"] == "b1946ac92492d2347c6235b4d2611184"
    assert item["size"] == 481_516
    assert item["executionArn"] == EXECUTION_ARN
    assert item["detectedAt"] == "2026-11-25T11:00:02+00:00"
    assert item["faces"][0]["confidence"] == Decimal("99.0")


def test_the_same_event_twice_writes_once(table):
    payload = step_payload(object_created_event(), detection=detection(2))
    assert persist(table, payload)["outcome"] == "WRITTEN"
    second = step_payload(object_created_event(), detection=detection(2))
    second["executionArn"] = EXECUTION_ARN + "-again"
    assert persist(table, second)["outcome"] == "DUPLICATE"
    [item] = version_items(table)
    assert item["executionArn"] == EXECUTION_ARN


def test_an_older_event_never_overwrites_a_newer_one(table):
    # Unversioned bucket: both uploads are version "null"; S3's sequencer orders them.
    newer = object_created_event(version_id=None, sequencer="0062E99A88DC407461", etag="new")
    older = object_created_event(version_id=None, sequencer="0062E99A88DC407460", etag="old")
    assert persist(table, step_payload(newer, detection=detection(3)))["outcome"] == "WRITTEN"
    assert persist(table, step_payload(older, detection=detection(1)))["outcome"] == "STALE"
    [item] = version_items(table)
    assert (item["versionId"], item["etag"], item["faceCount"]) == ("null", "new", 3)


def test_newer_event_arriving_second_replaces_the_record(table):
    # Different lengths: right-padded, "62E99A88DC4074" reads as 62E99A88DC407400.
    older = object_created_event(version_id=None, sequencer="62E99A88DC4074", etag="old")
    newer = object_created_event(version_id=None, sequencer="62E99A88DC407461", etag="new")
    persist(table, step_payload(older, detection=detection(1)))
    assert persist(table, step_payload(newer, detection=detection(4)))["outcome"] == "WRITTEN"
    [item] = version_items(table)
    assert (item["etag"], item["faceCount"]) == ("new", 4)


def test_latest_view_moves_forward_only(table):
    store = DynamoDbRecordStore(table)
    first = object_created_event(version_id="v1", sequencer="0062E99A88DC407460")
    second = object_created_event(version_id="v2", sequencer="0062E99A88DC407470")
    persist(table, step_payload(second, detection=detection(1)))
    persist(table, step_payload(first, detection=detection(1)))  # late delivery of v1
    assert store.latest_version_id("uploads/party.jpg") == "v2"
    assert {item["versionId"] for item in version_items(table)} == {"v1", "v2"}


def catch_output(name: str, message: str) -> dict[str, str]:
    """What a Catch with ResultPath $.error holds after a Lambda raised ``name``."""
    cause = {"errorMessage": message, "errorType": name, "requestId": "r-1", "stackTrace": []}
    return {"Error": name, "Cause": json.dumps(cause)}


@pytest.mark.parametrize(
    ("name", "explanation"),
    [
        ("InvalidImageFormatException", "not a JPEG or PNG"),
        ("ImageTooLargeException", "15 MB"),
        ("InvalidParameterException", "80 pixels"),
        ("InvalidS3ObjectException", "deleted"),
        ("States.Timeout", "longer than it is allowed"),
    ],
)
def test_record_failure_stores_a_human_readable_reason(table, name, explanation):
    error = catch_output(name, "detecting faces in s3://b/uploads/x.gif failed: bad")
    result = persist(table, step_payload(object_created_event(), error=error))
    assert result["status"] == "FAILED"
    assert result["error"] == name
    assert explanation in result["reason"]
    assert "Detecting faces in s3://b/uploads/x.gif failed: bad." in result["reason"]
    [item] = version_items(table)
    assert (item["status"], item["error"], item["reason"]) == ("FAILED", name, result["reason"])
    assert item["faceCount"] == 0


def test_a_cause_that_is_not_json_is_kept_as_the_reason(table):
    error = {"Error": "States.TaskFailed", "Cause": "the task failed"}
    result = persist(table, step_payload(object_created_event(), error=error))
    assert result["reason"] == "The pipeline failed with States.TaskFailed. The task failed."


def test_a_late_failure_never_overwrites_a_success_but_a_rerun_repairs_a_failure(table):
    event = object_created_event()
    failure = step_payload(event, error=catch_output("ThrottlingException", "throttled"))
    success = step_payload(event, detection=detection(2))
    assert persist(table, failure)["outcome"] == "WRITTEN"
    assert persist(table, success)["outcome"] == "WRITTEN"  # a re-run repairs FAILED
    assert persist(table, failure)["outcome"] == "DUPLICATE"  # and is not undone
    [item] = version_items(table)
    assert item["status"] == "DETECTED"


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_dynamodb_throttling_surfaces_under_its_name(table, code):
    store = DynamoDbRecordStore(table)
    with Stubber(table.meta.client) as stub:
        stub.add_client_error("put_item", service_error_code=code, service_message="slow down")
        with pytest.raises(getattr(errors, code), match="slow down"):
            persist_with(store, step_payload(object_created_event(), detection=detection(1)))


def test_dynamodb_request_limit_is_throttling(table):
    store = DynamoDbRecordStore(table)
    with Stubber(table.meta.client) as stub:
        stub.add_client_error("put_item", service_error_code="RequestLimitExceeded")
        with pytest.raises(errors.ThrottlingException):
            persist_with(store, step_payload(object_created_event(), detection=detection(1)))


def persist_with(store: DynamoDbRecordStore, payload: dict[str, Any]) -> dict[str, Any]:
    return create_handler(store, PersistConfig())(payload, None)


def test_bad_input_gets_a_clear_error(table):
    with pytest.raises(errors.StepInputError, match="no 'detection' object"):
        persist(table, step_payload(object_created_event()))
    with pytest.raises(errors.StepInputError, match="no 'image' object"):
        persist(table, {"detection": detection(1)})


def test_a_sequencer_s3_never_writes_is_refused(table):
    event = object_created_event(sequencer="not-hex!")
    with pytest.raises(errors.StepError, match="not a hexadecimal"):
        persist(table, step_payload(event, detection=detection(1)))


def dynamodb_size(value: Any) -> int:
    """Bytes DynamoDB counts for a value (its documented item-size rules)."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, (int, float, Decimal)):
        digits = len(str(abs(Decimal(str(value)))).replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if isinstance(value, list):
        return 3 + sum(1 + dynamodb_size(item) for item in value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(name.encode()) + dynamodb_size(item) for name, item in value.items())
    raise TypeError(type(value))


def test_one_hundred_faces_fit_dynamodb_and_the_state_after_persist(table, rekognition_100_faces):
    event = object_created_event("uploads/" + "Grüße aus Köln " * 40 + ".jpg")
    detect_output = rekognition_100_faces(event)
    # The state as the ASL builds it: the event's image, Detect's and Persist's results.
    state = {"image": step_payload(event)["image"], "detection": detect_output}
    result = persist(table, {**state, "executionArn": EXECUTION_ARN})
    state["record"] = {key: result[key] for key in ("status", "outcome", "faceCount")}
    state_size = len(json.dumps(state, ensure_ascii=False).encode())
    [item] = version_items(table)  # moto itself refuses items over 400 KB
    item_size = sum(len(name.encode()) + dynamodb_size(value) for name, value in item.items())
    print(f"state after persist {state_size} bytes, DynamoDB item {item_size} bytes")
    assert item["faceCount"] == 100 and len(item["faces"]) == 100
    assert state_size < STEP_FUNCTIONS_PAYLOAD_LIMIT
    assert item_size < DYNAMODB_ITEM_LIMIT


@pytest.fixture
def rekognition_100_faces():
    """Runs the detect step on a stubbed 100-face ALL-attributes DetectFaces response."""
    import boto3
    from lambda_factories import detect_faces_response

    from lambdas.aws.rekognition import RekognitionDetector

    def run(event: dict[str, Any]) -> dict[str, Any]:
        client = boto3.client("rekognition")
        with Stubber(client) as stub:
            stub.add_response("detect_faces", detect_faces_response(100, "ALL"))
            config = DetectConfig(attributes="ALL", min_confidence=0)
            return create_detect(RekognitionDetector(client), config)(step_payload(event), None)

    return run


def test_lambda_handler_needs_table_name(monkeypatch, lambda_context):
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(errors.ConfigurationError, match="TABLE_NAME"):
        persist_handler.lambda_handler(step_payload(object_created_event()), lambda_context)


def test_lambda_handler_writes_to_the_table_named_in_the_environment(
    table, lambda_context, step_logs
):
    payload = step_payload(object_created_event(), detection=detection(1))
    result = persist_handler.lambda_handler(payload, lambda_context)
    assert result["outcome"] == "WRITTEN"
    assert table.name == TABLE_NAME and len(version_items(table)) == 1
    [log] = step_logs.messages("record persisted")
    assert log["execution_arn"] == EXECUTION_ARN


def _emf(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    (metrics,) = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    return metrics


@pytest.mark.parametrize(
    ("error", "metric"),
    [
        ("InvalidImageFormatException", "ImagesRejected"),
        ("InvalidS3ObjectException", "ImagesRejected"),
        ("ThrottlingException", "ThrottledAfterRetries"),
        ("Lambda.TooManyRequestsException", "ThrottledAfterRetries"),
        ("AccessDeniedException", "ImagesFailed"),
        ("ConfigurationError", "ImagesFailed"),
        ("Sandbox.Timedout", "ImagesFailed"),
    ],
)
def test_each_recorded_failure_is_counted_by_what_it_needs(
    table, lambda_context, capsys, error, metric
):
    """The stack alarms on ImagesFailed and ThrottledAfterRetries; rejections are counted only."""
    payload = step_payload(object_created_event(), error=catch_output(error, "went wrong"))
    result = persist_handler.lambda_handler(payload, lambda_context)
    assert result["status"] == "FAILED"
    emf = _emf(capsys)
    assert emf[metric] == [1.0]
    (definition,) = emf["_aws"]["CloudWatchMetrics"]
    assert {m["Name"] for m in definition["Metrics"]} == {metric}


def test_metrics_carry_the_service_dimension_the_alarms_name() -> None:
    """In Lambda POWERTOOLS_SERVICE_NAME is set before the import: EMF gets a service dimension."""
    code = (
        "from lambdas.runtime.observability import count, metrics\n"
        "@metrics.log_metrics\n"
        "def handler(event, context):\n"
        "    count('ImagesFailed')\n"
        "handler({}, None)\n"
    )
    environ = {
        "PATH": os.environ["PATH"],
        "POWERTOOLS_SERVICE_NAME": "facepipe-persist",
        "POWERTOOLS_METRICS_NAMESPACE": "FacePipe",
    }
    run = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    (emf,) = [json.loads(line) for line in run.stdout.splitlines() if '"_aws"' in line]
    (definition,) = emf["_aws"]["CloudWatchMetrics"]
    assert (definition["Namespace"], definition["Dimensions"]) == ("FacePipe", [["service"]])
    assert emf["service"] == "facepipe-persist"


def test_a_failure_after_the_image_was_recorded_is_still_counted(table, lambda_context, capsys):
    """Notify's failure is caught into RecordFailure: the DETECTED record stays, the alarm fires."""
    event = object_created_event()
    persist_handler.lambda_handler(step_payload(event, detection=detection()), lambda_context)
    capsys.readouterr()
    error = catch_output("KMSAccessDeniedException", "the topic key refused")
    result = persist_handler.lambda_handler(step_payload(event, error=error), lambda_context)
    assert (result["status"], result["outcome"]) == ("FAILED", "DUPLICATE")
    assert _emf(capsys)["ImagesFailed"] == [1.0]
    [item] = version_items(table)
    assert item["status"] == "DETECTED"
