"""Every event delivered twice, and each key's two uploads delivered newest first, over a batch.

Offline: the events go through the local event bus (EventBridge's at-least-once delivery) into
the upload rule, the real ASL on the engine, the real detector, SQLite and the Maildir outbox,
on a worker pool so duplicates race. Under moto: the same ASL with the AWS adapters
(DynamoDB, SNS fanned out to SQS to count the emails, Rekognition under Stubber).
In both: one record per image version, the newest version of each key wins, and exactly one
email per image version with faces.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fake_aws import use_fake_aws
from moto import mock_aws

from facepipe.engine import FakeClock, StateMachine
from facepipe.local.events.bus import object_created_event
from facepipe.local.home import DataHome
from facepipe.local.mail.message import DEDUP_HEADER, dedup_id_from_header
from facepipe.local.objectstore import LocalObjectStore, StoredObject
from facepipe.local.runtime import LocalPipeline, PipelineOptions
from facepipe.resources import state_machine_path
from facepipe.samples import GROUP, NO_FACES, PORTRAIT, sample_images
from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.aws.rekognition import RekognitionDetector
from lambdas.aws.sns import SnsNotifier
from lambdas.detect.step import DetectConfig
from lambdas.detect.step import create_handler as create_detect
from lambdas.notify.step import NotifyConfig
from lambdas.notify.step import create_handler as create_notify
from lambdas.persist.step import PersistConfig
from lambdas.persist.step import create_handler as create_persist

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "lambdas"))
from lambda_factories import detect_faces_response
from lambda_factories import object_created_event as aws_object_created_event

KEYS = 8
MAIL_ENV = {"FACEPIPE_EMAIL_TO": "alice@example.com", "FACEPIPE_EMAIL_FROM": "pipe@example.com"}


def delivery_order(pairs: list[tuple[Any, Any]]) -> list[Any]:
    """Per key: the newer event, the older one, then both again (duplicates, out of order)."""
    return [event for older, newer in pairs for event in (newer, older, newer, older)]


# --- offline -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {path.name: path for path in sample_images(tmp_path_factory.mktemp("samples"))}


def stored_versions(home: DataHome, samples: dict[str, Path]) -> list[tuple[StoredObject, ...]]:
    """Two versions per key, stored without announcing them (the test delivers the events)."""
    quiet = LocalObjectStore(home.buckets)
    images = [samples[PORTRAIT], samples[NO_FACES], samples[GROUP]]
    try:
        return [
            tuple(
                quiet.put_object("facepipe-uploads", f"uploads/img{n}.jpg", images[(n + i) % 3])
                for i in range(2)
            )
            for n in range(KEYS)
        ]
    finally:
        quiet.close()


def test_offline_duplicates_and_reversed_pairs(tmp_path: Path, samples: dict[str, Path]) -> None:
    home = DataHome(tmp_path / "home").create()
    versions = stored_versions(home, samples)
    pairs = [(object_created_event(old), object_created_event(new)) for old, new in versions]
    options = PipelineOptions(detector="yunet", workers=4)
    with LocalPipeline(home, options, environ=MAIL_ENV) as pipeline:
        for event in delivery_order(pairs):
            pipeline.bus.put_event(json.loads(json.dumps(event)))
        # close() waits for every queued execution
    with LocalPipeline(home, options, environ=MAIL_ENV) as pipeline:
        records = pipeline.records.list_records(limit=1000)
        latest = {key: pipeline.records.latest_version_id(key) for key in {r.key for r in records}}
        executions = pipeline.executions.list_executions(limit=1000)
        assert pipeline.executions.pending.count() == 0

    assert len(executions) == 4 * KEYS and {e.status for e in executions} == {"SUCCEEDED"}
    by_version = Counter((r.key, r.version_id) for r in records)
    assert set(by_version) == {(o.key, str(o.version_id)) for pair in versions for o in pair}
    assert set(by_version.values()) == {1}
    assert latest == {new.key: str(new.version_id) for _, new in versions}
    with_faces = {f"facepipe-uploads/{r.key}#{r.version_id}" for r in records if r.face_count}
    assert len(with_faces) >= KEYS  # the batch does have face images in both versions
    emails = [
        dedup_id_from_header(
            str(
                BytesParser(policy=policy.default).parsebytes(path.read_bytes())[DEDUP_HEADER]
            ).strip()
        )
        for path in (home.outbox / "new").iterdir()
    ]
    assert sorted(emails) == sorted(with_faces)  # one each, none for a no-face version
    # The outbox would drop a second copy on its own: the claims alone must hold sends to one.
    sent = Counter(
        f"{e.bucket}/{e.image_key}#{e.version_id}"
        for e in executions
        if (e.output.get("notification") or {}).get("sent")
    )
    assert sorted(sent.elements()) == sorted(with_faces)
    assert all(r.notified_at for r in records if r.face_count)
    print(f"{len(executions)} executions, {len(records)} records, {len(emails)} emails")


# --- AWS path under moto ---------------------------------------------------------------------
FUNCTIONS = {
    "DetectFunctionArn": "detect",
    "PersistFunctionArn": "persist",
    "NotifyFunctionArn": "notify",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    use_fake_aws(monkeypatch, "eu-west-1")
    with mock_aws():
        table = boto3.resource("dynamodb").create_table(
            TableName="FaceRecords",
            KeySchema=[
                {"AttributeName": "imageKey", "KeyType": "HASH"},
                {"AttributeName": "versionId", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "imageKey", "AttributeType": "S"},
                {"AttributeName": "versionId", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic_arn = sns.create_topic(Name="face-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="email-copies")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        yield {"table": table, "sns": sns, "sqs": sqs, "topic": topic_arn, "queue": queue_url}


def published_versions(sqs: Any, queue_url: str) -> list[str]:
    """The imageVersion attribute of every message SNS delivered to the queue."""
    found: list[str] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in messages:
            body = json.loads(message["Body"])
            found.append(body["MessageAttributes"]["imageVersion"]["Value"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_aws_path_duplicates_and_reversed_pairs(aws: dict[str, Any]) -> None:
    store = DynamoDbRecordStore(aws["table"])
    rekognition = boto3.client("rekognition")
    resolver = {
        "detect": create_detect(RekognitionDetector(rekognition), DetectConfig(min_confidence=0)),
        "persist": create_persist(store, PersistConfig()),
        "notify": create_notify(store, SnsNotifier(aws["sns"], aws["topic"]), NotifyConfig()),
    }
    machine = StateMachine(state_machine_path().read_text(encoding="utf-8"), FUNCTIONS)
    pairs = [
        tuple(
            aws_object_created_event(
                f"uploads/img{n}.jpg",
                version_id=f"v{n}-{i}",
                sequencer=f"00{n:02X}{i:02X}0000000000000",
            )
            for i in range(2)
        )
        for n in range(KEYS)
    ]
    faces_of = {f"v{n}-{i}": (n + i) % 3 for n in range(KEYS) for i in range(2)}  # 0: no face
    statuses = []
    with Stubber(rekognition) as stub:
        for event in delivery_order(pairs):
            version = event["detail"]["object"]["version-id"]
            stub.add_response("detect_faces", detect_faces_response(faces_of[version], "DEFAULT"))
            statuses.append(machine.run(event, resolver=resolver, clock=FakeClock()).status)
        stub.assert_no_pending_responses()

    assert set(statuses) == {"SUCCEEDED"}
    items = aws["table"].scan(ConsistentRead=True)["Items"]
    versions = Counter(
        (i["imageKey"], i["versionId"]) for i in items if i["versionId"] != "#LATEST"
    )
    assert len(versions) == 2 * KEYS and set(versions.values()) == {1}
    for n in range(KEYS):
        assert store.latest_version_id(f"uploads/img{n}.jpg") == f"v{n}-1"
    expected = sorted(
        f"facepipe-uploads/uploads/img{n}.jpg#v{n}-{i}"
        for n in range(KEYS)
        for i in range(2)
        if faces_of[f"v{n}-{i}"]
    )
    assert sorted(published_versions(aws["sqs"], aws["queue"])) == expected
