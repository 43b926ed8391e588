"""The backfill's per-object child (statemachine/backfill.asl.json's ItemProcessor) under moto.

The engine on main cannot run a DISTRIBUTED Map's ItemReader yet, so the ItemProcessor's
states run as their own machine, with the input its ItemSelector gives each child: the
ListObjectsV2 entry ({Key, ETag, Size, LastModified, StorageClass}), the bucket, notifyEach and
the backfill's execution name. S3, DynamoDB and SNS are moto; the SDK integrations answer as
Step Functions' do (tests/support/sdk_integrations.py); the three Lambdas are the real step
handlers on their AWS adapters, Rekognition behind a botocore Stubber that fails the test on
any call it was not told to expect, so "no Rekognition call" is checked, not assumed.

Idempotency follows lambdas/domain/ordering.py: a version recorded DETECTED is skipped, a
FAILED one is detected again and repaired (same sequencer, DETECTED replaces FAILED), and with
no record the backfill's empty sequencer sorts before every S3 event's, so a live upload of the
same version is the record that stands and the one that emails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from face_table import create_face_table
from fake_aws import use_fake_aws
from moto import mock_aws
from sdk_integrations import sdk_resolver

from facepipe.engine import ExecutionResult, StateMachine
from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.aws.rekognition import RekognitionDetector
from lambdas.aws.sns import SnsNotifier
from lambdas.detect.step import DetectConfig
from lambdas.detect.step import create_handler as detect_step
from lambdas.domain.model import FaceRecord
from lambdas.notify.step import NotifyConfig
from lambdas.notify.step import create_handler as notify_step
from lambdas.persist.step import PersistConfig
from lambdas.persist.step import create_handler as persist_step

REGION = "us-east-1"
BUCKET = "facepipe-images"
TABLE = "FaceRecords"
BACKFILL = "backfill-20261203T100000Z"
MOMENT = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)
DEFINITION = Path(__file__).resolve().parents[2] / "statemachine" / "backfill.asl.json"
FUNCTIONS = {
    name: f"arn:aws:lambda:{REGION}:123456789012:function:FacePipe-{name}"
    for name in ("DetectFunctionArn", "PersistFunctionArn", "NotifyFunctionArn")
}
SDK_RESOURCES = [
    "arn:aws:states:::aws-sdk:s3:headObject",
    "arn:aws:states:::aws-sdk:dynamodb:getItem",
    "arn:aws:states:::aws-sdk:dynamodb:updateItem",
]
LIVE_SEQUENCER = "00617F08299329D189"


def face(left: float) -> dict[str, Any]:
    """One FaceDetail as DetectFaces returns it with Attributes DEFAULT."""
    return {
        "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": left, "Top": 0.1},
        "Landmarks": [{"Type": "eyeLeft", "X": left + 0.05, "Y": 0.2}],
        "Pose": {"Roll": 1.0, "Yaw": 2.0, "Pitch": 3.0},
        "Quality": {"Brightness": 80.0, "Sharpness": 90.0},
        "Confidence": 99.9,
    }


def child_definition() -> str:
    """The ItemProcessor as a machine of its own (its states, in the file's query language)."""
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    processor = definition["States"]["ProcessImages"]["ItemProcessor"]
    machine = {
        "QueryLanguage": definition["QueryLanguage"],
        "StartAt": processor["StartAt"],
        "States": processor["States"],
    }
    return json.dumps(machine)


@dataclass
class Account:
    s3: Any
    table: Any
    sqs: Any
    queue_url: str
    topic_arn: str

    def upload(self, key: str, body: bytes) -> str:
        return str(self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"])

    def listed(self, key: str) -> dict[str, Any]:
        """The object as ListObjectsV2 (the Map's ItemReader) lists it."""
        (entry,) = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=key)["Contents"]
        return {
            "Key": entry["Key"],
            "ETag": entry["ETag"],
            "Size": entry["Size"],
            "LastModified": entry["LastModified"].isoformat(),
            "StorageClass": entry.get("StorageClass", "STANDARD"),
        }

    def record(self, key: str, version: str) -> FaceRecord | None:
        return DynamoDbRecordStore(self.table).get(key, version)

    def tally(self) -> dict[str, Any]:
        item = self.table.get_item(
            Key={"imageKey": f"#BACKFILL#{BACKFILL}", "versionId": "#SUMMARY"}
        )
        return dict(item.get("Item", {}))

    def emails(self) -> list[dict[str, Any]]:
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in received.get("Messages", [])]

    def run_child(
        self,
        item: dict[str, Any],
        rekognition_answers: list[tuple[str, Any]],
        *,
        notify_each: bool = False,
        dynamodb: Any = None,
    ) -> ExecutionResult:
        """One child execution; ``rekognition_answers`` are the only DetectFaces calls allowed."""
        rekognition = boto3.client("rekognition")
        stubber = Stubber(rekognition)
        for kind, answer in rekognition_answers:
            if kind == "faces":
                stubber.add_response("detect_faces", {"FaceDetails": answer})
            else:
                stubber.add_client_error(
                    "detect_faces", service_error_code=kind, service_message=answer
                )
        store = DynamoDbRecordStore(self.table)
        steps = {
            "DetectFunctionArn": detect_step(
                RekognitionDetector(rekognition), DetectConfig(clock=lambda: MOMENT)
            ),
            "PersistFunctionArn": persist_step(store, PersistConfig(clock=lambda: MOMENT)),
            "NotifyFunctionArn": notify_step(
                store, SnsNotifier(boto3.client("sns"), self.topic_arn), NotifyConfig()
            ),
        }
        resolver = {FUNCTIONS[name]: step for name, step in steps.items()}
        clients = {
            "s3": self.s3,
            "dynamodb": dynamodb or boto3.client("dynamodb"),
            "sns": boto3.client("sns"),
        }
        resolver.update(sdk_resolver(clients, SDK_RESOURCES))
        substitutions = {**FUNCTIONS, "TableName": TABLE}
        machine = StateMachine(child_definition(), substitutions, name="FacePipe-Backfill")
        child_input = {
            "bucket": BUCKET,
            "object": item,
            "notifyEach": notify_each,
            "backfill": BACKFILL,
        }
        with stubber:
            result = machine.run(child_input, resolver=resolver)
        stubber.assert_no_pending_responses()
        return result


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    use_fake_aws(monkeypatch, REGION)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        table = create_face_table(TABLE)
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic_arn = sns.create_topic(Name="FaceAlerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        yield Account(s3, table, sqs, queue_url, topic_arn)


def test_a_new_image_is_detected_recorded_and_not_emailed(account: Account) -> None:
    version = account.upload("uploads/party.jpg", b"jpeg bytes")
    result = account.run_child(
        account.listed("uploads/party.jpg"), [("faces", [face(0.1), face(0.5)])]
    )
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "key": "uploads/party.jpg",
        "versionId": version,
        "outcome": "detected",
        "faceCount": 2,
    }
    record = account.record("uploads/party.jpg", version)
    assert record is not None and record.status == "DETECTED" and record.face_count == 2
    # The payload the Lambdas took is today's: the ETag without S3's quotes, the size, and
    # the empty sequencer of an object no event announced.
    head = account.s3.head_object(Bucket=BUCKET, Key="uploads/party.jpg")
    assert record.etag == head["ETag"].strip('"') and record.size == len(b"jpeg bytes")
    assert record.sequencer == ""
    assert account.emails() == []
    tally = account.tally()
    assert (tally["detected"], tally["faces"]) == (1, 2)


def test_a_version_recorded_detected_is_skipped_without_rekognition_or_email(
    account: Account,
) -> None:
    version = account.upload("uploads/known.jpg", b"jpeg bytes")
    first = account.run_child(account.listed("uploads/known.jpg"), [("faces", [face(0.2)])])
    assert first.status == "SUCCEEDED"
    # The second run has no DetectFaces answer: a call would fail the Stubber.
    again = account.run_child(account.listed("uploads/known.jpg"), [], notify_each=True)
    assert again.status == "SUCCEEDED", again.cause
    assert again.output["outcome"] == "skipped"
    invoked = [e for e in again.history if e["type"] == "TaskStateEntered"]
    assert [e["stateEnteredEventDetails"]["name"] for e in invoked] == [
        "ReadVersion",
        "ReadRecord",
        "Tally",
    ]
    assert account.emails() == []
    record = account.record("uploads/known.jpg", version)
    assert record is not None and record.face_count == 1
    assert account.tally()["skipped"] == 1


def test_a_failed_version_is_detected_again_and_its_record_repaired(account: Account) -> None:
    version = account.upload("uploads/retry.jpg", b"jpeg bytes")
    store = DynamoDbRecordStore(account.table)
    store.put_if_newer(
        FaceRecord(
            bucket=BUCKET,
            key="uploads/retry.jpg",
            version_id=version,
            etag="e",
            size=10,
            sequencer=LIVE_SEQUENCER,
            status="FAILED",
            error="ThrottlingException",
            reason="A service the pipeline calls stayed throttled after every retry.",
        )
    )
    result = account.run_child(account.listed("uploads/retry.jpg"), [("faces", [face(0.3)])])
    assert result.status == "SUCCEEDED", result.cause
    record = account.record("uploads/retry.jpg", version)
    assert record is not None
    assert (record.status, record.face_count, record.error) == ("DETECTED", 1, None)
    assert record.sequencer == LIVE_SEQUENCER  # the live event's, kept


def test_a_bad_image_is_recorded_failed_with_its_reason_and_fails_the_child(
    account: Account,
) -> None:
    version = account.upload("uploads/broken.jpg", b"not an image")
    result = account.run_child(
        account.listed("uploads/broken.jpg"),
        [("InvalidImageFormatException", "Request has invalid image format")],
    )
    assert result.status == "FAILED"
    assert result.error == "InvalidImageFormatException"
    assert result.cause is not None and "not a JPEG or PNG image" in result.cause
    record = account.record("uploads/broken.jpg", version)
    assert record is not None and record.status == "FAILED"
    tally = account.tally()
    assert tally["failed"] == 1
    (failure,) = tally["failures"]
    assert failure["key"] == "uploads/broken.jpg"
    assert failure["error"] == "InvalidImageFormatException"
    assert failure["reason"] == record.reason


def test_a_file_not_named_as_an_image_fails_as_in_the_live_pipeline(account: Account) -> None:
    account.upload("uploads/notes.txt", b"text")
    result = account.run_child(account.listed("uploads/notes.txt"), [])
    assert result.status == "FAILED" and result.error == "InvalidImageFormatException"


def test_notify_each_emails_once_per_version(account: Account) -> None:
    account.upload("uploads/group.jpg", b"jpeg bytes")
    listed = account.listed("uploads/group.jpg")
    first = account.run_child(listed, [("faces", [face(0.1)])], notify_each=True)
    assert first.status == "SUCCEEDED", first.cause
    again = account.run_child(listed, [], notify_each=True)
    assert again.output["outcome"] == "skipped"
    assert len(account.emails()) == 1


def test_an_object_deleted_after_listing_is_counted_gone(account: Account) -> None:
    account.upload("uploads/gone.jpg", b"jpeg bytes")
    listed = account.listed("uploads/gone.jpg")
    account.s3.delete_object(Bucket=BUCKET, Key="uploads/gone.jpg")
    result = account.run_child(listed, [])
    assert result.status == "SUCCEEDED", result.cause
    assert account.tally()["gone"] == 1


def test_a_live_upload_recorded_first_stands_and_the_backfill_sends_nothing(
    account: Account,
) -> None:
    """The live pipeline recorded the version (with its S3 sequencer) while the backfill's
    child was past its GetItem: Persist keeps the live record (STALE) and nothing is sent."""
    version = account.upload("uploads/live.jpg", b"jpeg bytes")
    store = DynamoDbRecordStore(account.table)
    live = FaceRecord(
        bucket=BUCKET,
        key="uploads/live.jpg",
        version_id=version,
        etag="e",
        size=10,
        sequencer=LIVE_SEQUENCER,
        status="DETECTED",
        face_count=1,
    )
    dynamodb = boto3.client("dynamodb")
    looked = dynamodb.get_item

    def live_write_after_lookup(**kwargs: Any) -> Any:
        answer = looked(**kwargs)
        if kwargs["Key"]["versionId"]["S"] == version:
            store.put_if_newer(live)  # the live upload is recorded right after the look
        return answer

    dynamodb.get_item = live_write_after_lookup  # type: ignore[method-assign]
    result = account.run_child(
        account.listed("uploads/live.jpg"),
        [("faces", [face(0.4)])],
        notify_each=True,
        dynamodb=dynamodb,
    )
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["outcome"] == "skipped"
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in result.history
        if "stateEnteredEventDetails" in e
    ]
    assert "RecordedByUpload" in entered and "Notify" not in entered
    record = account.record("uploads/live.jpg", version)
    assert record is not None and record.sequencer == LIVE_SEQUENCER
    assert account.emails() == []
