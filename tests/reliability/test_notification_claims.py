"""Both record stores keep the same claim rules: once per version, released only by its holder.

A resume releases the claims of executions a killed runner left, and nobody else's. The
holder may take its own claim again until the email is marked sent (a Step Functions retry
of the same execution), and a claim is only ever on the record of the upload it is about.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from facepipe.local.recordstore import SqliteRecordStore
from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.domain.model import FaceRecord

KEY, VERSION = "uploads/party.jpg", "v1"


def face_record(
    version_id: str = VERSION, sequencer: str = "0062E99A88DC407460", etag: str = "e"
) -> FaceRecord:
    return FaceRecord(
        bucket="facepipe-uploads",
        key=KEY,
        version_id=version_id,
        etag=etag,
        size=1,
        sequencer=sequencer,
        status="DETECTED",
        face_count=1,
    )


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        sqlite = SqliteRecordStore(tmp_path / "records.sqlite3")
        yield sqlite
        sqlite.close()
        return
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
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
        yield DynamoDbRecordStore(table)


def test_a_claim_is_released_only_by_its_holder(store: Any) -> None:
    store.put_if_newer(face_record())
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:dead") is True
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:other") is False

    store.release_notification(KEY, VERSION, claimant="arn:exec:other")  # not its claim
    assert store.get(KEY, VERSION).notified_at is not None
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:other") is False

    store.release_notification(KEY, VERSION, claimant="arn:exec:dead")
    assert store.get(KEY, VERSION).notified_at is None
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:resumed") is True


def test_claims_without_a_claimant_work_as_before(store: Any) -> None:
    store.put_if_newer(face_record())
    assert store.claim_notification(KEY, VERSION) is True
    assert store.claim_notification(KEY, VERSION) is False
    store.release_notification(KEY, VERSION)
    assert store.claim_notification(KEY, VERSION) is True
    assert store.claim_notification("uploads/unknown.jpg", VERSION) is False


def test_the_holder_may_claim_again_until_the_email_is_marked_sent(store: Any) -> None:
    store.put_if_newer(face_record())
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:a") is True
    # The same execution again (its Lambda timed out, or its send and release both failed):
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:a") is True
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:b") is False  # a duplicate

    assert store.mark_notification_sent(KEY, VERSION, "msg-1", claimant="arn:exec:b") is False
    assert store.mark_notification_sent(KEY, VERSION, "msg-1", claimant="arn:exec:a") is True
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:a") is False
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:b") is False


def test_a_claim_marked_sent_is_never_released(store: Any) -> None:
    store.put_if_newer(face_record())
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:dead") is True
    assert store.mark_notification_sent(KEY, VERSION, "msg-1", claimant="arn:exec:dead") is True

    store.release_notification(KEY, VERSION, claimant="arn:exec:dead")  # e.g. a resume
    store.release_notification(KEY, VERSION)
    assert store.get(KEY, VERSION).notified_at is not None
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:resumed") is False
    assert store.claim_notification(KEY, VERSION) is False


def test_without_a_claimant_a_claim_is_taken_once(store: Any) -> None:
    store.put_if_newer(face_record())
    assert store.claim_notification(KEY, VERSION, claimant="arn:exec:a") is True
    assert store.claim_notification(KEY, VERSION) is False
    assert store.mark_notification_sent(KEY, VERSION, "msg-1") is True


def test_a_claim_is_on_the_record_of_its_own_upload(store: Any) -> None:
    """Unversioned objects: every upload of the key is version "null"; the older upload's
    step must not claim (and email about) the newer upload's record."""
    older, newer = "0062E99A88DC407460", "0062E99A88DC407461"
    store.put_if_newer(face_record(version_id="null", sequencer=older, etag="old"))
    store.put_if_newer(face_record(version_id="null", sequencer=newer, etag="new"))

    assert store.claim_notification(KEY, "null", claimant="arn:exec:old", sequencer=older) is False
    assert store.get(KEY, "null").notified_at is None
    assert store.claim_notification(KEY, "null", claimant="arn:exec:new", sequencer=newer) is True
    assert store.claim_notification(KEY, "null", claimant="arn:exec:old", sequencer=older) is False


def test_a_claim_matches_sequencers_as_stored_padded(store: Any) -> None:
    """A shorter or lower-case spelling of the same S3 sequencer names the same upload."""
    store.put_if_newer(face_record(sequencer="0062e99a88dc4074"))
    assert store.claim_notification(KEY, VERSION, sequencer="0062E99A88DC407400") is True
