"""statemachine/upload_rule.json, matched by moto's EventBridge pattern engine on real event shapes.

EventBridge ORs the conditions listed for one field, so "prefix uploads/" AND "suffix .jpg in
any case" cannot be two conditions on detail.object.key. Wildcards anchor both ends in one
condition but are case-sensitive, so the rule lists `uploads/*.<ext>` for every letter-case
spelling of jpg, jpeg and png.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from infra.sources import SourceFileError, upload_rule_pattern

BUCKET = "facepipe-images-123"


def object_created(key: str, *, bucket: str = BUCKET, detail_type: str = "Object Created") -> Any:
    """An EventBridge S3 event as S3 sends it (detail-type, source, detail.bucket/object)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 5,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


@pytest.fixture(scope="module")
def rule() -> EventPattern:
    return EventPattern.load(json.dumps(upload_rule_pattern(BUCKET)))


@pytest.mark.parametrize(
    "key",
    [
        "uploads/a.jpg",
        "uploads/B.JPeG",
        "uploads/x/y.PNG",
        "uploads/with space.jpg",
        "uploads/with+space.jpg",  # the same key as S3 URL-encodes it in notifications
        "uploads/.png",
    ],
)
def test_accepts_images_under_uploads(rule: EventPattern, key: str) -> None:
    assert rule.matches_event(object_created(key))


@pytest.mark.parametrize(
    "key",
    [
        "other/a.jpg",
        "uploads/a.gif",
        "uploads/a.jpg.txt",
        "Uploads/a.jpg",
        "xuploads/a.jpg",
        "uploads/ajpg",
        "uploads/a.jp",
    ],
)
def test_rejects_other_keys(rule: EventPattern, key: str) -> None:
    assert not rule.matches_event(object_created(key))


def test_rejects_other_buckets(rule: EventPattern) -> None:
    assert not rule.matches_event(object_created("uploads/a.jpg", bucket="someone-else"))


@pytest.mark.parametrize("detail_type", ["Object Deleted", "Object Restore Completed"])
def test_rejects_other_detail_types(rule: EventPattern, detail_type: str) -> None:
    assert not rule.matches_event(object_created("uploads/a.jpg", detail_type=detail_type))


def test_rejects_other_sources(rule: EventPattern) -> None:
    event = object_created("uploads/a.jpg")
    event["source"] = "custom.uploader"
    assert not rule.matches_event(event)


def test_every_letter_case_of_each_extension_is_listed() -> None:
    keys = upload_rule_pattern(BUCKET)["detail"]["object"]["key"]
    spellings = {
        "".join(letters)
        for extension in ("jpg", "jpeg", "png")
        for letters in itertools.product(*[(c.lower(), c.upper()) for c in extension])
    }
    assert sorted(condition["wildcard"] for condition in keys) == sorted(
        f"uploads/*.{spelling}" for spelling in spellings
    )


def test_bucket_placeholder_is_required(tmp_path: Path) -> None:
    pattern_file = tmp_path / "upload_rule.json"
    pattern_file.write_text(json.dumps({"source": ["aws.s3"]}))
    with pytest.raises(SourceFileError, match=r"\$\{BucketName\}"):
        upload_rule_pattern(BUCKET, pattern_file)


def test_malformed_pattern_file_names_the_file(tmp_path: Path) -> None:
    pattern_file = tmp_path / "upload_rule.json"
    pattern_file.write_text('{"source": ["aws.s3"],')
    with pytest.raises(SourceFileError, match=r"upload_rule\.json is not valid JSON"):
        upload_rule_pattern(BUCKET, pattern_file)
