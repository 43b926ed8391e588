"""The local services together, the way the pipeline uses them: an upload becomes an
EventBridge event, the deployed rule picks it, the step-side model reads the version back
from the bucket, the record store orders and deduplicates, the outbox delivers once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facepipe.local.events.bus import LocalEventBus, S3EventSource, load_upload_rule
from facepipe.local.home import DataHome
from facepipe.local.mail.message import Addresses
from facepipe.local.mail.notifier import MaildirOutbox
from facepipe.local.mail.outbox import list_outbox
from facepipe.local.objectstore import LocalObjectStore
from facepipe.local.recordstore import SqliteRecordStore
from lambdas.domain.errors import InvalidS3ObjectException
from lambdas.domain.face_email import build_face_email
from lambdas.domain.model import FaceRecord, ImageRef

BUCKET = "faces-local"


class LocalServices:
    def __init__(self, root: Path) -> None:
        self.home = DataHome(root).create()
        self.bus = LocalEventBus()
        self.events: list[dict[str, Any]] = []
        self.bus.add_rule("uploads", load_upload_rule(BUCKET), self.events.append)
        self.bucket = LocalObjectStore(self.home.buckets, on_object_created=S3EventSource(self.bus))
        self.records = SqliteRecordStore(self.home.records_db)
        self.outbox = MaildirOutbox(
            self.home.outbox, Addresses("facepipe@localhost", ("me@localhost",))
        )


@pytest.fixture
def services(tmp_path: Path) -> LocalServices:
    return LocalServices(tmp_path / "home")


def normalise(event: dict[str, Any]) -> ImageRef:
    """The image the state machine's Detect Arguments pass to the steps, read as they read it."""
    obj = event["detail"]["object"]
    return ImageRef.from_state(
        {
            "bucket": event["detail"]["bucket"]["name"],
            "key": obj["key"],
            "versionId": obj.get("version-id"),
            "etag": obj["etag"],
            "size": obj["size"],
            "sequencer": obj["sequencer"],
            "eventTime": event["time"],
        }
    )


def face_record(image: ImageRef, faces: int) -> FaceRecord:
    return FaceRecord(
        bucket=image.bucket,
        key=image.key,
        version_id=image.record_version_id,
        etag=image.etag,
        size=image.size,
        sequencer=image.sequencer,
        status="DETECTED",
        face_count=faces,
        faces=[{"confidence": 99.0, "box": {"left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}}]
        * faces,
        detected_at="2026-11-25T12:00:00+00:00",
        event_time=image.event_time,
    )


def test_an_upload_flows_to_one_record_and_one_email(services: LocalServices):
    data = b"\xff\xd8\xff a jpeg"
    services.bucket.put_object(BUCKET, "uploads/Family Day+1 été.JPG", data)
    services.bucket.put_object(BUCKET, "notes/not-an-image.txt", b"ignored by the rule")

    (event,) = services.events
    image = normalise(event)
    assert image.key == "uploads/Family Day+1 été.JPG"  # decoded back exactly
    assert services.bucket.get_bytes(image.bucket, image.key, image.version_id) == data
    head = services.bucket.head(image.bucket, image.key, image.version_id)
    assert head.etag.strip('"') == image.etag and head.size == image.size

    for _delivery in range(2):  # EventBridge may deliver an event twice
        written = services.records.put_if_newer(face_record(image, faces=2))
        if services.records.claim_notification(image.key, image.record_version_id):
            email = build_face_email(image, {"faceCount": 2, "faces": []}, "http://x/exec")
            services.outbox.send(email)
        assert written is (_delivery == 0)

    (message,) = list_outbox(services.home.outbox)
    assert message.subject.startswith("2 faces found in uploads/Family Day+1")
    assert services.records.get_latest(image.key).face_count == 2  # type: ignore[union-attr]


def test_events_handled_out_of_order_leave_the_newest_upload_as_latest(services: LocalServices):
    services.bucket.put_object(BUCKET, "uploads/a.png", b"first")
    services.bucket.put_object(BUCKET, "uploads/a.png", b"second")
    first, second = (normalise(event) for event in services.events)

    assert services.records.put_if_newer(face_record(second, faces=1)) is True
    assert services.records.put_if_newer(face_record(first, faces=0)) is True  # its own version

    assert services.records.latest_version_id("uploads/a.png") == second.version_id
    latest_bytes = services.bucket.get_bytes(BUCKET, "uploads/a.png")
    assert latest_bytes == b"second"


def test_a_key_deleted_before_detection_runs(services: LocalServices):
    services.bucket.put_object(BUCKET, "uploads/gone.jpg", b"x")
    (event,) = services.events
    image = normalise(event)

    services.bucket.delete_object(BUCKET, image.key)  # a delete marker: the version remains
    assert services.bucket.get_bytes(BUCKET, image.key, image.version_id) == b"x"
    with pytest.raises(InvalidS3ObjectException, match="was deleted"):
        services.bucket.get_bytes(BUCKET, image.key)

    services.bucket.delete_object(BUCKET, image.key, image.version_id)  # the version itself
    with pytest.raises(InvalidS3ObjectException, match="no object at"):
        services.bucket.get_bytes(BUCKET, image.key, image.version_id)
