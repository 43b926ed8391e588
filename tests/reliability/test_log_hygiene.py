"""No face data, image bytes or email addresses in the logs at INFO.

The AWS path runs each Lambda's ``lambda_handler`` (moto services, Rekognition stubbed with the
local detector's FaceDetails, ALL attributes) with an email address subscribed to the topic;
the offline path runs the pipeline with step logs routed at INFO and a recipient configured.
Every log line (Powertools JSON, standard logging, and the metrics printed to stdout) is
scanned for box and landmark values, base64 or byte dumps, and email addresses.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from bad_inputs import BadInput
from botocore.stub import Stubber
from face_table import create_face_table
from moto import mock_aws

from facepipe.local.detection import detect_faces_in_bytes
from facepipe.local.home import DataHome
from facepipe.local.runtime import LocalPipeline, PipelineOptions, route_step_logs
from lambdas.detect import handler as detect_handler
from lambdas.domain.errors import InvalidImageFormatException
from lambdas.notify import handler as notify_handler
from lambdas.persist import handler as persist_handler
from lambdas.runtime import observability

RECIPIENT = "alice.liddell@example.com"
REGION = "eu-west-1"
BUCKET = "facepipe-uploads"
EXECUTION_ARN = f"arn:aws:states:{REGION}:123456789012:execution:FacePipeline:log-hygiene"
EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# A Message-ID (<hash@host>) has an address's shape but names a message, not a person.
MESSAGE_ID = re.compile(r"<[0-9a-f]+@[\w.-]+>")
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")
# A bytes repr (b'...' or b"...", not the tail of a hex id) or an escaped byte.
BYTES_DUMP = re.compile(r"(?<![\w\"'])b['\"]|\\x[0-9a-fA-F]{2}")
FACE_FIELDS = ("BoundingBox", "Landmarks", "landmarks", '"box"', "'box'")
HANDLERS = (detect_handler, persist_handler, notify_handler)


@dataclass
class LambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "facepipe-step"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:facepipe-step"
    aws_request_id: str = "5b6c7d8e-0000-4000-8000-000000000001"
    log_group_name: str = "/aws/lambda/facepipe-step"
    log_stream_name: str = "2026/11/25/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def face_numbers(face_details: list[dict[str, Any]]) -> set[str]:
    """Box and landmark values as Rekognition gives them and as the summary rounds them."""
    values: list[float] = []
    for face in face_details:
        values += [float(value) for value in face["BoundingBox"].values()]
        values += [float(mark[axis]) for mark in face["Landmarks"] for axis in ("X", "Y")]
    # Four decimals at least: shorter numbers also occur in ordinary fields (e.g. 99.9).
    return {text for value in values for text in (repr(value), f"{value:.4f}") if len(text) > 5}


def assert_clean(log_text: str, face_details: list[dict[str, Any]]) -> None:
    assert log_text.strip(), "nothing was logged: the scan would prove nothing"
    for field in FACE_FIELDS:
        assert field not in log_text, f"face data ({field}) in the logs"
    leaked = sorted(number for number in face_numbers(face_details) if number in log_text)
    assert not leaked, f"face coordinates in the logs: {leaked[:5]}"
    assert RECIPIENT not in log_text
    address = EMAIL_ADDRESS.search(MESSAGE_ID.sub("<message-id>", log_text))
    assert not address, f"an email address in the logs: {address}"
    assert not BASE64_RUN.search(log_text), BASE64_RUN.search(log_text)
    assert not BYTES_DUMP.search(log_text), BYTES_DUMP.search(log_text)


@pytest.fixture
def info_logs(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """The steps' Powertools lines in a buffer at INFO, plus every other logger at INFO."""
    stream = io.StringIO()
    monkeypatch.setattr(observability.logger.registered_handler, "stream", stream)
    previous = observability.logger.log_level
    observability.logger.setLevel("INFO")
    caplog.set_level(logging.INFO)

    def text() -> str:
        return stream.getvalue() + "\n".join(record.getMessage() for record in caplog.records)

    yield text
    observability.logger.setLevel(previous)


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "facepipe",
        "POWERTOOLS_METRICS_NAMESPACE": "FacePipe",
        "FACE_ATTRIBUTES": "ALL",
        "MIN_CONFIDENCE": "0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POWERTOOLS_LOGGER_LOG_EVENT", raising=False)  # the stack leaves it off
    with mock_aws():
        s3, sns = boto3.client("s3"), boto3.client("sns")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        topic_arn = sns.create_topic(Name="FaceAlerts")["TopicArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=RECIPIENT)
        create_face_table("FaceRecords")
        monkeypatch.setenv("TABLE_NAME", "FaceRecords")
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        rekognition = boto3.client("rekognition")
        monkeypatch.setattr(detect_handler, "rekognition_client", lambda: rekognition)
        for module in HANDLERS:
            module.aws_step.cache_clear()
        with Stubber(rekognition) as stubber:
            yield {"s3": s3, "stubber": stubber}
        for module in HANDLERS:
            module.aws_step.cache_clear()


def image_payload(s3: Any, item: BadInput, sequencer: str) -> dict[str, Any]:
    put = s3.put_object(Bucket=BUCKET, Key=item.key, Body=item.data)
    image = {
        "bucket": BUCKET,
        "key": item.key.replace(" ", "+"),
        "versionId": put["VersionId"],
        "etag": put["ETag"].strip('"'),
        "size": len(item.data),
        "sequencer": sequencer,
        "eventTime": "2026-11-25T12:00:00Z",
    }
    return {"image": image, "executionArn": EXECUTION_ARN}


def test_lambda_handlers_log_no_face_data_bytes_or_addresses(
    aws_stack: dict[str, Any],
    info_logs: Any,
    corpus: dict[str, BadInput],
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3, stubber, context = aws_stack["s3"], aws_stack["stubber"], LambdaContext()
    photo, bad = corpus["key with spaces"], corpus["text named .jpg"]
    faces = detect_faces_in_bytes(photo.data, "ALL")
    stubber.add_response("detect_faces", {"FaceDetails": faces})
    stubber.add_client_error(
        "detect_faces", "InvalidImageFormatException", "Request has invalid image format", 400
    )

    good = image_payload(s3, photo, "0062E99A88DC407460")
    detection = detect_handler.lambda_handler(good, context)
    persist_handler.lambda_handler({**good, "detection": detection}, context)
    sent = notify_handler.lambda_handler({**good, "detection": detection}, context)
    failing = image_payload(s3, bad, "0062E99A88DC407461")
    with pytest.raises(InvalidImageFormatException):
        detect_handler.lambda_handler(failing, context)
    error = {"Error": "InvalidImageFormatException", "Cause": "Request has invalid image format"}
    persist_handler.lambda_handler({**failing, "error": error}, context)

    assert detection["faceCount"] == 1 and sent["sent"] is True  # there was face data to leak
    assert_clean(info_logs() + capsys.readouterr().out, faces)


def test_offline_pipeline_logs_no_face_data_bytes_or_addresses(
    tmp_path: Any,
    info_logs: Any,
    corpus: dict[str, BadInput],
    capsys: pytest.CaptureFixture[str],
) -> None:
    route_step_logs(logging.INFO)
    capsys.readouterr()
    env = {"FACEPIPE_EMAIL_TO": RECIPIENT, "FACEPIPE_EMAIL_FROM": "pipe@example.com"}
    kinds = ["key with spaces", "100-face image", "text named .jpg", "over 15 MB"]
    with LocalPipeline(DataHome(tmp_path / "home"), PipelineOptions(workers=2), environ=env) as run:
        uploads = [run.upload(corpus[kind].data, corpus[kind].key) for kind in kinds]
        outcomes = [upload.execution.result() for upload in uploads]  # type: ignore[union-attr]
        emails = list((run.home.outbox / "new").iterdir())

    assert [outcome.status for outcome in outcomes] == ["SUCCEEDED"] * 2 + ["FAILED"] * 2
    assert len(emails) == 2 and RECIPIENT in emails[0].read_text()  # there was an address
    faces = [
        face
        for kind in kinds[:2]
        for face in detect_faces_in_bytes(corpus[kind].data)  # the same faces the steps saw
    ]
    captured = capsys.readouterr()
    assert_clean(info_logs() + captured.err + captured.out, faces)


@pytest.mark.parametrize(
    "leak",
    [
        '{"message": "faces", "faces": [{"BoundingBox": {}}]}',
        '{"message": "faces", "first": [0.3496, 0.1152]}',
        f'{{"message": "sent", "to": "{RECIPIENT}"}}',
        '{"message": "sent", "to": "bob@example.org"}',
        '{"message": "read", "head": "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDA"}',
        '{"message": "read", "head": "b\'\\\\xff\\\\xd8\'"}',
    ],
)
def test_the_scan_catches_each_kind_of_leak(leak: str) -> None:
    face = {
        "BoundingBox": {"Width": 0.173828, "Height": 0.222656, "Left": 0.349609, "Top": 0.115234},
        "Landmarks": [{"Type": "eyeLeft", "X": 0.401234, "Y": 0.187654}],
    }
    with pytest.raises(AssertionError):
        assert_clean('{"message": "faces detected"}\n' + leak, [face])
