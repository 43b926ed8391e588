"""Every kind of bad input through the three Lambdas, on the real ASL file in the local engine.

The engine invokes each function's ``lambda_handler`` as deployed (adapters built from the
environment the stack sets, Powertools around it). S3, DynamoDB and SNS are moto; Rekognition
is a boto3 client under botocore's Stubber that answers as the service does: it reads the
object version from (moto) S3 itself, answers InvalidS3ObjectException when that version is
gone, Rekognition's error code and message when the bytes are not an image it takes, and else
the local detector's FaceDetails for the bytes. So Catch -> RecordFailure -> FAILED record runs
with the service's own words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from bad_inputs import KINDS, OBJECT_GONE, REKOGNITION_MESSAGES, BadInput
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from face_table import create_face_table
from moto import mock_aws
from reliability_checks import (
    PAYLOAD_LIMIT,
    assert_complete_history,
    assert_reason_for_people,
    assert_same_box,
    largest_state_payload,
)

from facepipe.engine import ExecutionResult, FakeClock, StateMachine
from facepipe.local.detection import detect_faces_in_bytes
from facepipe.local.events.bus import object_created_event
from facepipe.local.objectstore import StoredObject
from facepipe.resources import state_machine_path
from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.detect import handler as detect_handler
from lambdas.domain.errors import StepError
from lambdas.domain.model import FaceRecord
from lambdas.notify import handler as notify_handler
from lambdas.persist import handler as persist_handler

REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = "facepipe-uploads"
FUNCTIONS = {
    name: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:FacePipe-{name}"
    for name in ("DetectFunctionArn", "PersistFunctionArn", "NotifyFunctionArn")
}
TABLE_NAME = "FaceRecords"
# What the stack sets (TABLE_NAME, TOPIC_ARN come once the resources exist), and fake credentials.
LAMBDA_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_SERVICE_NAME": "facepipe",
    "POWERTOOLS_METRICS_NAMESPACE": "FacePipe",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "TABLE_NAME": TABLE_NAME,
}
HANDLERS = {
    "DetectFunctionArn": detect_handler,
    "PersistFunctionArn": persist_handler,
    "NotifyFunctionArn": notify_handler,
}


class EmulatedRekognition:
    """Queues on a Stubber what DetectFaces answers for an S3 object version."""

    def __init__(self, s3: Any) -> None:
        self.client = boto3.client("rekognition")
        self.stubber = Stubber(self.client)
        self._s3 = s3

    def expect_detect_faces(self, key: str, version_id: str) -> None:
        s3_object = {"Bucket": BUCKET, "Name": key, "Version": version_id}
        expected = {"Image": {"S3Object": s3_object}, "Attributes": ["DEFAULT"]}
        try:
            stored = self._s3.get_object(Bucket=BUCKET, Key=key, VersionId=version_id)
        except ClientError:
            self._fail(OBJECT_GONE, expected)
            return
        try:
            faces = detect_faces_in_bytes(stored["Body"].read())
        except StepError as error:
            self._fail(type(error).__name__, expected)
            return
        self.stubber.add_response("detect_faces", {"FaceDetails": faces}, expected)

    def _fail(self, code: str, expected: dict[str, Any]) -> None:
        self.stubber.add_client_error(
            "detect_faces",
            service_error_code=code,
            service_message=REKOGNITION_MESSAGES[code],
            http_status_code=400,
            expected_params=expected,
        )


@dataclass(frozen=True)
class Ended:
    item: BadInput
    result: ExecutionResult
    record: FaceRecord | None


@dataclass(frozen=True)
class Batch:
    ended: dict[str, Ended]
    emails: list[dict[str, Any]]
    record_count: int


def upload(s3: Any, item: BadInput, sequencer: int) -> dict[str, Any]:
    """Put the object in moto S3 and return the "Object Created" event S3 sends for it."""
    put = s3.put_object(Bucket=BUCKET, Key=item.key, Body=item.data)
    stored = StoredObject(
        bucket=BUCKET,
        key=item.key,
        version_id=put["VersionId"],
        etag=put["ETag"],
        size=len(item.data),
        sequencer=f"{sequencer:018X}",
        last_modified="2026-11-25T12:00:00Z",
    )
    if item.deleted_before_detection:
        s3.delete_object(Bucket=BUCKET, Key=item.key, VersionId=put["VersionId"])
    return object_created_event(stored, region=REGION, account=ACCOUNT)


def received_emails(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = []
    while received := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        notes += [json.loads(message["Body"]) for message in received]
        for message in received:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return notes


@pytest.fixture(scope="module")
def batch(corpus: dict[str, BadInput]) -> Iterator[Batch]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name, value in LAMBDA_ENVIRONMENT.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "FACE_ATTRIBUTES", "MIN_CONFIDENCE"):
            patch.delenv(name, raising=False)
        s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        topic_arn = sns.create_topic(Name="FaceAlerts")["TopicArn"]
        patch.setenv("TOPIC_ARN", topic_arn)
        queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        store = DynamoDbRecordStore(create_face_table(TABLE_NAME))
        rekognition = EmulatedRekognition(s3)
        patch.setattr(detect_handler, "rekognition_client", lambda: rekognition.client)
        for module in HANDLERS.values():
            module.aws_step.cache_clear()  # built from this environment on first invocation
        resolver = {FUNCTIONS[name]: module.lambda_handler for name, module in HANDLERS.items()}
        machine = StateMachine(state_machine_path().read_text(encoding="utf-8"), FUNCTIONS)
        ended = {}
        with rekognition.stubber:
            for sequencer, (kind, item) in enumerate(corpus.items(), 1):
                event = upload(s3, item, sequencer)
                version_id = event["detail"]["object"]["version-id"]
                rekognition.expect_detect_faces(item.key, version_id)
                result = machine.run(event, resolver=resolver, clock=FakeClock())
                rekognition.stubber.assert_no_pending_responses()
                ended[kind] = Ended(item, result, store.get(item.key, version_id))
        record_count = boto3.client("dynamodb").scan(TableName=TABLE_NAME, Select="COUNT")
        yield Batch(ended, received_emails(sqs, queue_url), record_count["Count"])
        for module in HANDLERS.values():
            module.aws_step.cache_clear()


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_ends_as_a_record(batch: Batch, kind: str) -> None:
    ended = batch.ended[kind]
    item, result, record = ended.item, ended.result, ended.record
    print(f"{kind}: {result.status} {result.error or ''} {result.cause or ''}")

    assert record is not None, f"{kind}: no record for {item.key!r}"
    assert record.key == item.key
    assert_complete_history(result.history, result.status)
    assert largest_state_payload(result.history) < PAYLOAD_LIMIT
    if item.valid:
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert (record.status, record.error, record.reason) == ("DETECTED", None, None)
        low = item.faces_at_least if item.faces_at_least is not None else item.faces
        assert low <= record.face_count <= item.faces
    else:
        assert (result.status, result.error) == ("FAILED", item.error)
        assert (record.status, record.error) == ("FAILED", item.error)
        assert_reason_for_people(record.reason, item, REKOGNITION_MESSAGES[str(item.error)])
        assert f"s3://{BUCKET}/{item.key}" in str(record.reason)  # which image, decoded
        assert result.cause == record.reason


def test_emails_go_out_for_faces_only(batch: Batch) -> None:
    with_faces = {kind for kind, ended in batch.ended.items() if ended.record.face_count}  # type: ignore[union-attr]
    bodies = [note["Message"] for note in batch.emails]

    assert len(bodies) == len(with_faces)
    for kind, ended in batch.ended.items():
        mentions = [body for body in bodies if f", key {ended.item.key}, version " in body]
        assert len(mentions) == (1 if kind in with_faces else 0), kind


def test_nothing_is_lost(batch: Batch) -> None:
    assert set(batch.ended) == set(KINDS)
    assert batch.record_count == 2 * len(KINDS)  # each version's record and the key's latest


def test_exif_rotated_boxes_match_the_displayed_photo(batch: Batch) -> None:
    [rotated] = batch.ended["EXIF-rotated photo"].record.faces  # type: ignore[union-attr]
    [upright] = batch.ended["key with spaces"].record.faces  # type: ignore[union-attr]

    assert_same_box(rotated["box"], upright["box"])
