"""Parity: the same step logic on AWS adapters (moto, Rekognition stubbed) and on local adapters.

Both sides run the real ASL file in the engine with the same event and execution name. The
local side is the offline pipeline; the AWS side wires each Lambda's ``create_handler`` to
DynamoDB and SNS under moto, and to a Rekognition client whose Stubber answers with the local
detector's FaceDetails for the same image. Records and email text must come out the same.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from face_table import create_face_table
from fake_aws import use_fake_aws
from moto import mock_aws
from PIL import Image

from facepipe.engine import ExecutionResult, StateMachine
from facepipe.local.detection import detect_faces_in_bytes
from facepipe.local.home import DataHome
from facepipe.local.runtime import (
    STATE_MACHINE_NAME,
    LocalPipeline,
    PipelineOptions,
    local_execution_reference,
)
from facepipe.resources import state_machine_path
from facepipe.samples import GROUP, NO_FACES, PORTRAIT, sample_images
from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.aws.rekognition import RekognitionDetector, s3_object_reference
from lambdas.detect.step import DetectConfig
from lambdas.detect.step import create_handler as detect_step
from lambdas.domain.errors import StepError
from lambdas.domain.model import FaceRecord, ImageRef
from lambdas.notify.step import NotifyConfig
from lambdas.notify.step import create_handler as notify_step
from lambdas.persist.step import PersistConfig
from lambdas.persist.step import create_handler as persist_step

REGION = "us-east-1"
MOMENT = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
CONFIGS = {
    "detect": DetectConfig(clock=lambda: MOMENT),
    "persist": PersistConfig(clock=lambda: MOMENT),
    "notify": NotifyConfig(execution_url=local_execution_reference),
}
AWS_FUNCTIONS = {
    name: f"arn:aws:lambda:{REGION}:123456789012:function:FacePipe-{name}"
    for name in ("DetectFunctionArn", "PersistFunctionArn", "NotifyFunctionArn")
}
# What Rekognition says for a file that is not an image.
REKOGNITION_BAD_FORMAT = "Request has invalid image format"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("samples")
    photos = {path.name: path.read_bytes() for path in sample_images(folder)}
    png = io.BytesIO()
    Image.open(io.BytesIO(photos[PORTRAIT])).save(png, "PNG")
    photos["png-named.jpg"] = png.getvalue()
    photos["corrupt.jpg"] = photos[PORTRAIT][:1500]
    return photos


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsSide]:
    use_fake_aws(monkeypatch, REGION)
    with mock_aws():
        yield AwsSide.create()


@dataclass
class AwsSide:
    """The stack's services under moto: the records table and the topic (read via SQS)."""

    table: Any
    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str

    @classmethod
    def create(cls) -> AwsSide:
        table = create_face_table("FaceRecords")
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic_arn = sns.create_topic(Name="FaceAlerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        return cls(table, sns, sqs, topic_arn, queue_url)

    def run(self, event: dict[str, Any], execution_name: str, image: bytes) -> ExecutionResult:
        rekognition = boto3.client("rekognition")
        stubber = Stubber(rekognition)
        _expect_detect_faces(stubber, ImageRef.from_state(_image_state(event)), image)
        store = DynamoDbRecordStore(self.table)
        from lambdas.aws.sns import SnsNotifier

        steps = {
            "DetectFunctionArn": detect_step(RekognitionDetector(rekognition), CONFIGS["detect"]),
            "PersistFunctionArn": persist_step(store, CONFIGS["persist"]),
            "NotifyFunctionArn": notify_step(
                store, SnsNotifier(self.sns, self.topic_arn), CONFIGS["notify"]
            ),
        }
        definition = state_machine_path().read_text(encoding="utf-8")
        machine = StateMachine(definition, AWS_FUNCTIONS, name=STATE_MACHINE_NAME)
        resolver = {AWS_FUNCTIONS[name]: step for name, step in steps.items()}
        with stubber:
            result = machine.run(event, resolver=resolver, execution_name=execution_name)
        stubber.assert_no_pending_responses()
        return result

    def emails(self) -> list[tuple[str, str]]:
        """(subject, body) of each message published to the topic."""
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        notes = [json.loads(m["Body"]) for m in received.get("Messages", [])]
        return [(note["Subject"], note["Message"]) for note in notes]


def _image_state(event: dict[str, Any]) -> dict[str, Any]:
    obj = event["detail"]["object"]
    return {
        "bucket": event["detail"]["bucket"]["name"],
        "key": obj["key"],
        "versionId": obj["version-id"],
    }


def _expect_detect_faces(stubber: Stubber, image: ImageRef, data: bytes) -> None:
    """Rekognition answers as the local detector does for these bytes (or fails as it does)."""
    expected = {"Image": {"S3Object": s3_object_reference(image)}, "Attributes": ["DEFAULT"]}
    try:
        faces = detect_faces_in_bytes(data, "DEFAULT")
    except StepError as error:
        stubber.add_client_error(
            "detect_faces",
            service_error_code=type(error).__name__,
            service_message=REKOGNITION_BAD_FORMAT,
            http_status_code=400,
            expected_params=expected,
        )
        return
    stubber.add_response("detect_faces", {"FaceDetails": faces}, expected)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalPipeline]:
    options = PipelineOptions(
        workers=1, detect=CONFIGS["detect"], persist=CONFIGS["persist"], notify=CONFIGS["notify"]
    )
    env = {"FACEPIPE_EMAIL_TO": "alice@example.com"}
    with LocalPipeline(DataHome(tmp_path / "home"), options, environ=env) as pipeline:
        yield pipeline


def local_emails(pipeline: LocalPipeline) -> list[tuple[str, str]]:
    parser = BytesParser(policy=policy.default)
    messages = [parser.parsebytes(p.read_bytes()) for p in (pipeline.home.outbox / "new").iterdir()]
    # On disk the message has SMTP's CRLF line ends; the text is compared with LF as SNS has it.
    return [(str(m["Subject"]), m.get_content().replace("\r\n", "\n")) for m in messages]


def without_message_id(output: dict[str, Any]) -> dict[str, Any]:
    """The execution output without the message id, which each mail service makes up."""
    notification = output.get("notification")
    if notification is None:
        return output
    assert notification["messageId"]  # there is one on both sides
    return {**output, "notification": {**notification, "messageId": "(set)"}}


def comparable(record: FaceRecord | None) -> dict[str, Any]:
    """The record without when it was emailed (a wall-clock time on each side)."""
    assert record is not None
    data = record.to_dict()
    data["notified"] = data.pop("notified_at") is not None
    return data


@pytest.mark.parametrize(
    ("sample", "key"),
    [
        (GROUP, "uploads/group.jpg"),
        (PORTRAIT, "uploads/Fête d'été + amis.jpg"),
        (NO_FACES, "uploads/coffee.JPEG"),
        ("png-named.jpg", "uploads/png-named.jpg"),
    ],
)
def test_detections_give_the_same_record_and_email(
    local: LocalPipeline, aws: AwsSide, samples: dict[str, bytes], sample: str, key: str
) -> None:
    upload = local.upload(samples[sample], key)
    local_outcome = upload.execution.result()  # type: ignore[union-attr]
    stored = local.executions.get(local_outcome.execution_arn)
    assert stored is not None
    name = stored.name

    aws_result = aws.run(stored.input, name, samples[sample])

    assert aws_result.status == local_outcome.status == "SUCCEEDED"
    assert without_message_id(aws_result.output) == without_message_id(local_outcome.output)
    version = str(upload.stored.version_id)
    aws_record = DynamoDbRecordStore(aws.table).get(key, version)
    assert comparable(aws_record) == comparable(local.records.get(key, version))
    assert aws.emails() == local_emails(local)
    if comparable(aws_record)["face_count"]:
        assert len(local_emails(local)) == 1


def test_a_corrupt_image_fails_the_same_way(
    local: LocalPipeline, aws: AwsSide, samples: dict[str, bytes]
) -> None:
    upload = local.upload(samples["corrupt.jpg"], "uploads/corrupt.jpg")
    local_outcome = upload.execution.result()  # type: ignore[union-attr]
    stored = local.executions.get(local_outcome.execution_arn)
    assert stored is not None

    aws_result = aws.run(stored.input, stored.name, samples["corrupt.jpg"])

    assert (aws_result.status, aws_result.error) == ("FAILED", "InvalidImageFormatException")
    assert (local_outcome.status, local_outcome.error) == (aws_result.status, aws_result.error)
    version = str(upload.stored.version_id)
    aws_record = comparable(DynamoDbRecordStore(aws.table).get("uploads/corrupt.jpg", version))
    local_record = comparable(local.records.get("uploads/corrupt.jpg", version))
    # The detail after the shared explanation is each service's own message.
    explanation = "The file is not a JPEG or PNG image, or it is damaged."
    assert aws_record.pop("reason").startswith(explanation)
    assert local_record.pop("reason").startswith(explanation)
    assert aws_record == local_record
    assert aws.emails() == local_emails(local) == []
