"""S3 "Object Created" events in EventBridge's shape, filtered by the deployed upload rule."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern as MotoEventPattern

from facepipe.local.events.bus import (
    LocalEventBus,
    S3EventSource,
    UploadRuleError,
    load_upload_rule,
    object_created_event,
)
from facepipe.local.events.pattern import EventPattern
from facepipe.local.objectstore import LocalObjectStore
from facepipe.resources import upload_rule_path

BUCKET = "faces-local"


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "buckets")


def test_event_has_eventbridges_exact_shape(store: LocalObjectStore):
    stored = store.put_object(BUCKET, "uploads/a.jpg", b"hello")

    event = object_created_event(stored, region="eu-west-1", account="123456789012")

    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert uuid.UUID(event["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert event["detail"]["request-id"].isalnum() and len(event["detail"]["request-id"]) == 16
    del event["id"], event["detail"]["request-id"]
    assert event == {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": stored.last_modified,
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {
                "key": "uploads/a.jpg",
                "size": 5,
                "etag": "5d41402abc4b2a76b9719d911017c592",  # md5("hello"), no quotes
                "version-id": stored.version_id,
                "sequencer": stored.sequencer,
            },
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }
    json.dumps(event)  # plain JSON, as EventBridge delivers


@pytest.mark.parametrize(
    "key", ["uploads/my photo.jpg", "uploads/a+b.jpg", "uploads/100%.jpg", "uploads/été:#=&.png"]
)
def test_keys_are_carried_unencoded_as_eventbridge_does(store: LocalObjectStore, key: str):
    """S3's EventBridge events carry the key as it is (see lambdas/README.md for the evidence)."""
    assert (
        object_created_event(store.put_object(BUCKET, key, b"x"))["detail"]["object"]["key"] == key
    )


def _event_for(store: LocalObjectStore, key: str, bucket: str = BUCKET) -> dict[str, Any]:
    return object_created_event(store.put_object(bucket, key, b"x"))


@pytest.mark.parametrize(
    ("key", "bucket", "expected"),
    [
        ("uploads/a.jpg", BUCKET, True),
        ("uploads/deep/er/a.JPEG", BUCKET, True),
        ("uploads/my holiday photo.PNG", BUCKET, True),
        ("uploads/a.gif", BUCKET, True),  # the state machine refuses it, with a record
        ("uploads/", BUCKET, True),  # a "folder" the S3 console creates: refused likewise
        ("elsewhere/a.jpg", BUCKET, False),
        ("uploads/a.jpg", "another-bucket", False),
    ],
)
def test_the_deployed_upload_rule_decides_which_uploads_start_the_pipeline(
    store: LocalObjectStore, key: str, bucket: str, expected: bool
):
    rule = load_upload_rule(BUCKET)
    event = _event_for(store, key, bucket)

    assert rule.matches(event) is expected
    assert MotoEventPattern.load(json.dumps(rule.pattern)).matches_event(event) is expected


def test_the_upload_rule_file_keeps_the_bucket_placeholder():
    assert "${BucketName}" in upload_rule_path().read_text(encoding="utf-8")


def test_a_broken_rule_file_is_reported_with_its_path(tmp_path: Path):
    broken = tmp_path / "upload_rule.json"
    broken.write_text('{"source": ["aws.s3"]', encoding="utf-8")

    with pytest.raises(ValueError, match=r"upload_rule\.json is not valid JSON"):
        load_upload_rule(BUCKET, broken)


def test_a_rule_file_eventbridge_would_refuse_is_refused_naming_the_file(tmp_path: Path):
    rule = json.loads(upload_rule_path().read_text(encoding="utf-8"))
    rule["detail"]["object"]["key"] = [{"wildcard": "*a*a*a*a*a*"}]
    refused = tmp_path / "upload_rule.json"
    refused.write_text(json.dumps(rule), encoding="utf-8")

    with pytest.raises(UploadRuleError) as error:
        load_upload_rule(BUCKET, refused)
    assert str(error.value).startswith(f"{refused}: Event pattern is not valid. Reason: Rule is")


def test_bus_delivers_to_every_matching_rule_and_only_those(tmp_path: Path):
    bus = LocalEventBus()
    uploads: list[dict[str, Any]] = []
    everything: list[dict[str, Any]] = []
    bus.add_rule("uploads", load_upload_rule(BUCKET), uploads.append)
    bus.add_rule("all-s3", EventPattern({"source": ["aws.s3"]}), everything.append)
    store = LocalObjectStore(tmp_path / "buckets", on_object_created=S3EventSource(bus))

    store.put_object(BUCKET, "uploads/face.jpg", b"x")
    store.put_object(BUCKET, "notes/readme.txt", b"y")  # outside uploads/: no match

    assert [e["detail"]["object"]["key"] for e in uploads] == ["uploads/face.jpg"]
    assert len(everything) == 2


def test_a_failing_target_does_not_keep_the_event_from_the_others():
    bus = LocalEventBus()
    delivered: list[dict[str, Any]] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("target down")

    bus.add_rule("broken", EventPattern({"source": ["aws.s3"]}), broken)
    bus.add_rule("working", EventPattern({"source": ["aws.s3"]}), delivered.append)

    with pytest.raises(RuntimeError, match="target down"):
        bus.put_event({"source": "aws.s3"})
    assert delivered == [{"source": "aws.s3"}]


def test_rule_names_are_unique_on_a_bus():
    bus = LocalEventBus()
    bus.add_rule("r", EventPattern({"source": ["a"]}), lambda event: None)

    with pytest.raises(ValueError, match="already on the bus"):
        bus.add_rule("r", EventPattern({"source": ["b"]}), lambda event: None)
