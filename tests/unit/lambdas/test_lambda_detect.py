"""The detect step on a real boto3 Rekognition client answered by botocore's Stubber."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from lambda_factories import (
    BUCKET,
    EXECUTION_ARN,
    detect_faces_response,
    object_created_event,
    step_payload,
)

from lambdas.aws.rekognition import RekognitionDetector
from lambdas.detect import handler as detect_handler
from lambdas.detect.step import DetectConfig, create_handler
from lambdas.domain import errors

STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024


@pytest.fixture
def rekognition() -> Any:
    return boto3.client("rekognition")


@pytest.fixture
def stubber(rekognition: Any) -> Any:
    with Stubber(rekognition) as stub:
        yield stub
        stub.assert_no_pending_responses()


def expected_request(key: str, version: str | None, attributes: str) -> dict[str, Any]:
    s3_object: dict[str, Any] = {"Bucket": BUCKET, "Name": key}
    if version:
        s3_object["Version"] = version
    return {"Image": {"S3Object": s3_object}, "Attributes": [attributes]}


def run_detect(
    rekognition: Any, event: dict[str, Any], config: DetectConfig | None = None
) -> dict[str, Any]:
    step = create_handler(RekognitionDetector(rekognition), config or DetectConfig())
    return step(step_payload(event), None)


def test_detects_faces_on_the_s3_object_version_without_downloading(rekognition, stubber):
    event = object_created_event("uploads/party.jpg")
    stubber.add_response(
        "detect_faces",
        detect_faces_response(3, "DEFAULT"),
        expected_request("uploads/party.jpg", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "DEFAULT"),
    )
    result = run_detect(rekognition, event)
    assert result["faceCount"] == 3
    assert result["attributes"] == "DEFAULT"
    face = result["faces"][0]
    assert set(face) == {"confidence", "box", "landmarks", "pose", "quality"}
    assert set(face["box"]) == {"left", "top", "width", "height"}
    assert len(face["landmarks"]) == 30
    confidences = [f["confidence"] for f in result["faces"]]
    assert confidences == sorted(confidences, reverse=True)


def test_all_attributes_are_requested_and_summarised(rekognition, stubber):
    event = object_created_event()
    stubber.add_response(
        "detect_faces",
        detect_faces_response(2, "ALL"),
        expected_request("uploads/party.jpg", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "ALL"),
    )
    result = run_detect(rekognition, event, DetectConfig(attributes="ALL"))
    face = result["faces"][0]
    for name in (
        "ageRange",
        "gender",
        "smile",
        "eyesOpen",
        "emotions",
        "eyeDirection",
        "faceOccluded",
    ):
        assert name in face
    assert len(face["emotions"]) == 9


def test_faces_under_the_minimum_confidence_are_not_counted(rekognition, stubber):
    response = detect_faces_response(4, "DEFAULT")
    for face, confidence in zip(response["FaceDetails"], (99.5, 95.0, 80.0, 42.0), strict=True):
        face["Confidence"] = confidence
    stubber.add_response("detect_faces", response)
    result = run_detect(rekognition, object_created_event(), DetectConfig(min_confidence=90))
    assert result["faceCount"] == 2
    assert [f["confidence"] for f in result["faces"]] == [99.5, 95.0]


@pytest.mark.parametrize(
    "key",
    [
        "uploads/summer party.jpg",
        "uploads/c++ team+friends.png",
        "uploads/Grüße aus Köln 東京.jpg",
        "uploads/50%.jpg",
    ],
)
def test_the_key_reaches_rekognition_as_the_event_carries_it(rekognition, stubber, key):
    stubber.add_response(
        "detect_faces",
        detect_faces_response(1, "DEFAULT"),
        expected_request(key, "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "DEFAULT"),
    )
    result = run_detect(rekognition, object_created_event(key))
    assert (result["faceCount"], result["objectKey"]) == (1, key)


@pytest.mark.parametrize("key", ["uploads/summer party.jpg", "uploads/c++ team+friends.png"])
def test_an_encoded_key_that_names_no_object_is_read_decoded(rekognition, stubber, key):
    """Rekognition answers InvalidS3ObjectException for a name with no object behind it."""
    event = object_created_event(key, encode_key=True)
    delivered = event["detail"]["object"]["key"]
    assert delivered != key
    version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    stubber.add_client_error(
        "detect_faces",
        service_error_code="InvalidS3ObjectException",
        service_message=(
            "Unable to get object metadata from S3. Check object key, region and/or access "
            "permissions."
        ),
        expected_params=expected_request(delivered, version, "DEFAULT"),
    )
    stubber.add_response(
        "detect_faces",
        detect_faces_response(1, "DEFAULT"),
        expected_request(key, version, "DEFAULT"),
    )
    assert run_detect(rekognition, event)["objectKey"] == key


def test_a_key_that_names_no_object_either_way_fails_with_the_first_error(rekognition, stubber):
    event = object_created_event("uploads/gone away.jpg", encode_key=True)
    for _ in range(2):
        stubber.add_client_error("detect_faces", service_error_code="InvalidS3ObjectException")
    with pytest.raises(errors.InvalidS3ObjectException, match=r"uploads/gone\+away\.jpg"):
        run_detect(rekognition, event)


def test_a_raw_key_is_not_tried_decoded_when_it_names_the_object(rekognition, stubber):
    # "a+b" decodes to "a b": a second, different object must never be read instead.
    stubber.add_response("detect_faces", detect_faces_response(2, "DEFAULT"))
    assert run_detect(rekognition, object_created_event("uploads/a+b.jpg"))["objectKey"] == (
        "uploads/a+b.jpg"
    )


def test_unversioned_object_is_read_without_a_version(rekognition, stubber):
    event = object_created_event(version_id=None)
    payload = step_payload(event)
    assert payload["image"]["versionId"] == "null"
    stubber.add_response(
        "detect_faces", {"FaceDetails": []}, expected_request("uploads/party.jpg", None, "DEFAULT")
    )
    assert run_detect(rekognition, event)["faceCount"] == 0


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        ("InvalidImageFormatException", errors.InvalidImageFormatException),
        ("ImageTooLargeException", errors.ImageTooLargeException),
        ("InvalidParameterException", errors.InvalidParameterException),
        ("InvalidS3ObjectException", errors.InvalidS3ObjectException),
        ("ThrottlingException", errors.ThrottlingException),
        ("ProvisionedThroughputExceededException", errors.ProvisionedThroughputExceededException),
        ("InternalServerError", errors.ServiceUnavailableError),
    ],
)
def test_rekognition_errors_surface_under_their_names(rekognition, stubber, code, error_class):
    stubber.add_client_error(
        "detect_faces", service_error_code=code, service_message="told by Rekognition"
    )
    with pytest.raises(error_class) as raised:
        run_detect(rekognition, object_created_event())
    assert type(raised.value).__name__ == error_class.__name__
    assert "told by Rekognition" in raised.value.reason
    assert "uploads/party.jpg" in raised.value.reason


def test_unknown_rekognition_errors_are_not_disguised(rekognition, stubber):
    stubber.add_client_error("detect_faces", service_error_code="AccessDeniedException")
    with pytest.raises(Exception) as raised:
        run_detect(rekognition, object_created_event())
    assert "AccessDeniedException" in str(raised.value)
    assert not isinstance(raised.value, errors.StepError)


def test_one_hundred_faces_with_all_attributes_fit_the_step_functions_payload(rekognition, stubber):
    stubber.add_response("detect_faces", detect_faces_response(100, "ALL"))
    result = run_detect(
        rekognition, object_created_event(), DetectConfig(attributes="ALL", min_confidence=0)
    )
    assert result["faceCount"] == 100
    raw_size = len(json.dumps(detect_faces_response(100, "ALL")).encode())
    size = len(json.dumps(result, ensure_ascii=False).encode())
    print(f"DetectFaces response {raw_size} bytes -> detect output {size} bytes")
    assert raw_size > STEP_FUNCTIONS_PAYLOAD_LIMIT  # the raw response would not fit
    assert size < STEP_FUNCTIONS_PAYLOAD_LIMIT


@pytest.mark.parametrize(
    ("name", "value"),
    [("FACE_ATTRIBUTES", "SOME"), ("MIN_CONFIDENCE", "high"), ("MIN_CONFIDENCE", "150")],
)
def test_malformed_configuration_names_the_variable(name, value):
    with pytest.raises(errors.ConfigurationError, match=name):
        DetectConfig.from_env({name: value})


def test_configuration_defaults_and_values():
    assert DetectConfig.from_env({}).attributes == "DEFAULT"
    assert DetectConfig.from_env({}).min_confidence == 90
    config = DetectConfig.from_env({"FACE_ATTRIBUTES": "all", "MIN_CONFIDENCE": "75.5"})
    assert (config.attributes, config.min_confidence) == ("ALL", 75.5)


def test_bad_input_gets_a_clear_error(rekognition):
    step = create_handler(RekognitionDetector(rekognition), DetectConfig())
    with pytest.raises(errors.StepInputError, match="no 'image' object"):
        step({"detail": {}}, None)
    with pytest.raises(errors.StepInputError, match="lacks key"):
        step({"image": {"bucket": BUCKET}}, None)


def test_lambda_handler_logs_with_the_execution_arn_and_counts_faces(
    monkeypatch, rekognition, stubber, lambda_context, step_logs, capsys
):
    monkeypatch.setattr(detect_handler, "rekognition_client", lambda: rekognition)
    stubber.add_response("detect_faces", detect_faces_response(2, "DEFAULT"))
    result = detect_handler.lambda_handler(step_payload(object_created_event()), lambda_context)
    assert result["faceCount"] == 2
    [log] = step_logs.messages("faces detected")
    assert log["execution_arn"] == EXECUTION_ARN
    assert log["function_request_id"] == lambda_context.aws_request_id
    assert log["level"] == "INFO"
    assert "landmarks" not in json.dumps(step_logs.records())
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "FacePipe"
    assert emf[0]["FacesFound"] == [2.0]
    assert emf[0]["ImagesProcessed"] == [1.0]


def test_lambda_handler_reports_a_failure_metric_and_reraises(
    monkeypatch, rekognition, stubber, lambda_context, step_logs, capsys
):
    monkeypatch.setattr(detect_handler, "rekognition_client", lambda: rekognition)
    stubber.add_client_error("detect_faces", service_error_code="InvalidImageFormatException")
    with pytest.raises(errors.InvalidImageFormatException):
        detect_handler.lambda_handler(step_payload(object_created_event()), lambda_context)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf[0]["Failures"] == [1.0]
    [log] = step_logs.messages("step failed")
    assert log["error"] == "InvalidImageFormatException"


def test_lambda_handler_with_bad_configuration_fails_naming_the_variable(
    monkeypatch, lambda_context
):
    monkeypatch.setenv("MIN_CONFIDENCE", "ninety")
    with pytest.raises(errors.ConfigurationError, match="MIN_CONFIDENCE"):
        detect_handler.lambda_handler(step_payload(object_created_event()), lambda_context)


def test_importing_the_handlers_needs_no_aws_settings():
    clean_env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
    code = "import lambdas.detect.handler, lambdas.persist.handler, lambdas.notify.handler"
    result = subprocess.run(
        [sys.executable, "-c", code], env=clean_env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_importing_a_handler_loads_no_xray_sdk():
    """The X-Ray SDK's import was most of each cold start (bench/lambda_init.py): tracing is
    Lambda's active tracing instead."""
    code = (
        "import sys, lambdas.detect.handler, lambdas.persist.handler, lambdas.notify.handler\n"
        "print(sorted(m for m in sys.modules if m.startswith(('aws_xray_sdk', 'wrapt'))))"
    )
    clean_env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=clean_env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_lambda_handler_needs_the_metrics_namespace(monkeypatch, lambda_context):
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE")
    with pytest.raises(errors.ConfigurationError, match="POWERTOOLS_METRICS_NAMESPACE"):
        detect_handler.lambda_handler(step_payload(object_created_event()), lambda_context)


class RendezvousDetector:
    """Finds no faces, but only once both executions are inside detect_faces."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=10)

    def detect_faces(self, image: Any, attributes: str) -> list[dict[str, Any]]:
        self.barrier.wait()
        return []


def test_concurrent_executions_log_their_own_execution_arn(step_logs):
    step = create_handler(RendezvousDetector(), DetectConfig())
    arns = [f"{EXECUTION_ARN}-{n}" for n in range(2)]
    payloads = [{**step_payload(object_created_event()), "executionArn": arn} for arn in arns]
    threads = [threading.Thread(target=step, args=(payload, None)) for payload in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logged = sorted(log["execution_arn"] for log in step_logs.messages("faces detected"))
    assert logged == arns
