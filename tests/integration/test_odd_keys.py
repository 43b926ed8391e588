"""Any key, exactly: odd object keys run end to end, under moto and offline, encoded or not.

EventBridge's S3 events carry the key unencoded (lambdas/README.md has the evidence), which is
what moto sends too; a classic S3 notification URL-encodes it (a space as "+"). Each key runs
both ways: the record must be stored under the object's real key, and the email name it.

Under moto the path is S3 PutObject (EventBridge notifications on) -> moto's EventBridge with
the deployed upload rule -> an SQS target that holds the event -> the real ASL on the local
engine with the Lambda step logic on boto3 (DynamoDB and SNS in moto; Rekognition through
botocore's Stubber, answering as Rekognition does: InvalidS3ObjectException for a name that
has no object in the bucket, else the faces the local detector finds in that object).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.stub import Stubber
from face_table import create_face_table
from fake_aws import use_fake_aws
from moto import mock_aws

from facepipe.engine import StateMachine
from facepipe.local.detection import detect_faces_in_bytes
from facepipe.local.home import DataHome
from facepipe.local.runtime import LocalPipeline, PipelineOptions
from facepipe.resources import state_machine_path, upload_rule_path
from facepipe.samples import PORTRAIT, sample_images
from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.aws.rekognition import RekognitionDetector
from lambdas.aws.sns import SnsNotifier
from lambdas.detect.step import DetectConfig
from lambdas.detect.step import create_handler as detect_step
from lambdas.notify.step import NotifyConfig
from lambdas.notify.step import create_handler as notify_step
from lambdas.persist.step import PersistConfig
from lambdas.persist.step import create_handler as persist_step

KEYS = [
    "uploads/team photo.jpg",
    "uploads/c++ team+friends.jpg",
    "uploads/100% real.jpg",
    "uploads/2026-11-25T12:00:00.jpg",
    "uploads/#1 shot.jpg",
    "uploads/a=1&b=2.jpg",
    "uploads/Grüße aus Köln 東京.jpg",
]
REGION = "eu-west-1"
BUCKET = "facepipe-odd-keys"
FUNCTIONS = {
    name: f"arn:aws:lambda:{REGION}:123456789012:function:FacePipe-{name}"
    for name in ("DetectFunctionArn", "PersistFunctionArn", "NotifyFunctionArn")
}


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    paths = {path.name: path for path in sample_images(tmp_path_factory.mktemp("samples"))}
    return paths[PORTRAIT].read_bytes()


@pytest.fixture(scope="module")
def face_details(photo: bytes) -> list[dict[str, Any]]:
    return detect_faces_in_bytes(photo)


class MotoStack:
    """The stack's bucket, rule, table and topic in moto; the Lambdas run on the engine."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3")
        self.s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        sqs = boto3.client("sqs")
        self.sqs = sqs
        self.queue_url = sqs.create_queue(QueueName="rule-target")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        pattern = upload_rule_path().read_text(encoding="utf-8").replace("${BucketName}", BUCKET)
        events = boto3.client("events")
        events.put_rule(Name="ImageUploaded", EventPattern=pattern)
        events.put_targets(
            Rule="ImageUploaded",
            Targets=[{"Id": "queue", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )
        self.table = create_face_table("FaceRecords")
        sns = boto3.client("sns")
        self.topic_arn = sns.create_topic(Name="faces")["TopicArn"]
        self.sns = sns
        self.inbox_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn["Attributes"]["QueueArn"]
        )

    def delivered_events(self) -> list[dict[str, Any]]:
        """What the rule delivered, in AWS's shape where moto's differs."""
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        events = [json.loads(message["Body"]) for message in received.get("Messages", [])]
        for event in events:
            obj = event["detail"]["object"]
            # moto spells the field "eTag", where AWS's "EventBridge event message
            # structure" page (S3 user guide) shows "etag".
            obj["etag"] = obj.pop("eTag", obj.get("etag"))
        return events

    def run(self, event: dict[str, Any], face_details: list[dict[str, Any]]) -> Any:
        rekognition = boto3.client("rekognition")
        stubber = Stubber(rekognition)
        self._answer_as_rekognition(stubber, event, face_details)
        store = DynamoDbRecordStore(self.table)
        steps = {
            "DetectFunctionArn": detect_step(RekognitionDetector(rekognition), DetectConfig()),
            "PersistFunctionArn": persist_step(store, PersistConfig()),
            "NotifyFunctionArn": notify_step(
                store, SnsNotifier(self.sns, self.topic_arn), NotifyConfig()
            ),
        }
        machine = StateMachine(state_machine_path().read_text(encoding="utf-8"), FUNCTIONS)
        resolver = {FUNCTIONS[name]: step for name, step in steps.items()}
        with stubber:
            result = machine.run(event, resolver=resolver)
        stubber.assert_no_pending_responses()
        return result

    def _answer_as_rekognition(
        self, stubber: Stubber, event: dict[str, Any], face_details: list[dict[str, Any]]
    ) -> None:
        obj = event["detail"]["object"]
        version = obj["version-id"]
        # The key as delivered first, then decoded: the order Detect tries them in.
        for name in dict.fromkeys([obj["key"], _decoded(obj["key"])]):
            expected = {
                "Image": {"S3Object": {"Bucket": BUCKET, "Name": name, "Version": version}},
                "Attributes": ["DEFAULT"],
            }
            if self._holds(name, version):
                stubber.add_response("detect_faces", {"FaceDetails": face_details}, expected)
                return
            stubber.add_client_error(
                "detect_faces", "InvalidS3ObjectException", expected_params=expected
            )

    def _holds(self, key: str, version: str) -> bool:
        try:
            self.s3.head_object(Bucket=BUCKET, Key=key, VersionId=version)
        except self.s3.exceptions.ClientError:
            return False
        return True

    def emails(self) -> list[str]:
        received = self.sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"])["Message"] for m in received.get("Messages", [])]


def _decoded(key: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(key)


def _encoded(event: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(event))
    copy["detail"]["object"]["key"] = quote_plus(copy["detail"]["object"]["key"], safe="/")
    return copy


@pytest.fixture
def moto_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    use_fake_aws(monkeypatch, REGION)
    with mock_aws():
        yield MotoStack()


@pytest.mark.parametrize("key", KEYS)
def test_under_moto_the_record_has_the_real_key_whichever_encoding_the_event_carries(
    moto_stack: MotoStack, photo: bytes, face_details: list[dict[str, Any]], key: str
) -> None:
    version = moto_stack.s3.put_object(Bucket=BUCKET, Key=key, Body=photo)["VersionId"]
    (event,) = moto_stack.delivered_events()
    assert event["detail"]["object"]["key"] == key  # moto, like EventBridge, sends it raw

    for delivered in (event, _encoded(event)):
        result = moto_stack.run(delivered, face_details)
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert result.output["detection"]["objectKey"] == key

    item = moto_stack.table.get_item(Key={"imageKey": key, "versionId": version})["Item"]
    assert (item["status"], int(item["faceCount"])) == ("DETECTED", len(face_details))
    (email,) = moto_stack.emails()  # the encoded replay is the same image version: no 2nd
    assert key in email
    scanned = moto_stack.table.scan()["Items"]
    assert {row["imageKey"] for row in scanned} == {key}  # no record under a wrong key


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[LocalPipeline]:
    environ = {"FACEPIPE_EMAIL_TO": "alice@example.com", "FACEPIPE_EMAIL_FROM": "p@example.com"}
    with LocalPipeline(
        DataHome(tmp_path / "home"), PipelineOptions(workers=1), environ=environ
    ) as p:
        yield p


@pytest.mark.parametrize("key", KEYS)
def test_offline_the_record_has_the_real_key_whichever_encoding_the_event_carries(
    pipeline: LocalPipeline, photo: bytes, key: str
) -> None:
    upload = pipeline.upload(photo, key)
    assert upload.execution is not None
    outcome = upload.execution.result()
    assert outcome.status == "SUCCEEDED", outcome.cause
    event = pipeline.executions.get(outcome.execution_arn).input  # type: ignore[union-attr]
    assert event["detail"]["object"]["key"] == key

    replay = pipeline.run_event(_encoded(event))
    assert replay.status == "SUCCEEDED", replay.cause
    assert replay.output["detection"]["objectKey"] == key
    assert replay.output["record"]["outcome"] == "DUPLICATE"  # the same image version
    assert {record.key for record in pipeline.records.list_records()} == {key}
