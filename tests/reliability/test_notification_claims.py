"""Both record stores keep the same claim rules: once per version, released only by its holder.

A resume releases the claims of executions a killed runner left, and nobody else's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from facepipe.local.recordstore import SqliteRecordStore
from lambdas.common.aws.dynamodb import DynamoDbRecordStore
from lambdas.common.model import FaceRecord

KEY, VERSION = "uploads/party.jpg", "v1"


def face_record() -> FaceRecord:
    return FaceRecord(
        bucket="facepipe-uploads",
        key=KEY,
        version_id=VERSION,
        etag="e",
        size=1,
        sequencer="0062E99A88DC407460",
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
