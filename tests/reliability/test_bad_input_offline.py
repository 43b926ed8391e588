"""Every kind of bad input through the offline pipeline, as one batch in one data home.

Real detector, real SQLite records, real Maildir outbox. Each upload must end as a FAILED
record with a reason a person understands, or as a correct result where the input is valid;
never as an engine crash, a stuck execution, a lost image or an email about a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from bad_inputs import KINDS, BadInput
from reliability_checks import (
    PAYLOAD_LIMIT,
    assert_complete_history,
    assert_reason_for_people,
    assert_same_box,
    largest_state_payload,
)

from facepipe.local.events.bus import object_created_event
from facepipe.local.executions import StoredExecution
from facepipe.local.home import DataHome
from facepipe.local.objectstore import LocalObjectStore
from facepipe.local.outcome import ExecutionOutcome
from facepipe.local.runtime import LocalPipeline, PipelineOptions
from lambdas.domain.model import FaceRecord

MAIL_ENV = {"FACEPIPE_EMAIL_TO": "alice@example.com", "FACEPIPE_EMAIL_FROM": "pipe@example.com"}


@dataclass(frozen=True)
class Ended:
    """How one upload of the batch ended, read back from the stores."""

    item: BadInput
    outcome: ExecutionOutcome
    record: FaceRecord | None
    execution: StoredExecution | None
    history: list[dict[str, Any]]


@dataclass(frozen=True)
class Batch:
    ended: dict[str, Ended]
    emails: list[Any]
    record_count: int
    home: DataHome


def start_after_deletion(pipeline: LocalPipeline, item: BadInput) -> ExecutionOutcome:
    """Put the image without announcing it, delete that version for good, then run its event.

    The event is what S3 sent for the put; the deletion lands before Detect reads the image.
    """
    quiet_bucket = LocalObjectStore(pipeline.home.buckets)  # same folder, no event source
    try:
        stored = quiet_bucket.put_object(pipeline.options.bucket, item.key, item.data)
        quiet_bucket.delete_object(pipeline.options.bucket, item.key, stored.version_id)
    finally:
        quiet_bucket.close()
    return pipeline.run_event(object_created_event(stored))


def run_batch(pipeline: LocalPipeline, corpus: dict[str, BadInput]) -> dict[str, Any]:
    """Upload every kind at once (two workers); return each kind's outcome."""
    started = {}
    deleted = []
    for kind, item in corpus.items():
        if item.deleted_before_detection:
            deleted.append(item)
            continue
        upload = pipeline.upload(item.data, item.key)
        assert upload.execution is not None, f"{kind}: the upload rule skipped {item.key!r}"
        started[kind] = (upload.stored.version_id, upload.execution)
    outcomes = {kind: future.result(timeout=300) for kind, (_, future) in started.items()}
    versions = {kind: str(version) for kind, (version, _) in started.items()}
    for item in deleted:
        outcome = start_after_deletion(pipeline, item)
        outcomes[item.kind], versions[item.kind] = outcome, outcome.version_id
    return {"outcomes": outcomes, "versions": versions}


@pytest.fixture(scope="module")
def batch(corpus: dict[str, BadInput], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    home = DataHome(tmp_path_factory.mktemp("offline") / "home")
    with LocalPipeline(home, PipelineOptions(workers=2), environ=MAIL_ENV) as pipeline:
        ran = run_batch(pipeline, corpus)
        ended = {}
        for kind, outcome in ran["outcomes"].items():
            ended[kind] = Ended(
                item=corpus[kind],
                outcome=outcome,
                record=pipeline.records.get(corpus[kind].key, ran["versions"][kind]),
                execution=pipeline.executions.get(outcome.execution_arn),
                history=pipeline.executions.history(outcome.execution_arn),
            )
        record_count = len(pipeline.records.list_records(limit=1000))
        yield Batch(ended, outbox_messages(home.outbox), record_count, home)


def outbox_messages(outbox: Path) -> list[Any]:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in sorted((outbox / "new").iterdir())]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_ends_as_a_record_with_a_complete_history(batch: Batch, kind: str) -> None:
    ended = batch.ended[kind]
    item, outcome, record = ended.item, ended.outcome, ended.record
    print(f"{kind}: {outcome.status} faces={outcome.face_count} {outcome.error or ''}")
    print(f"  {outcome.cause or ''}")

    assert record is not None, f"{kind}: no record for {item.key!r}"
    assert record.key == item.key
    assert record.execution_arn == outcome.execution_arn
    assert ended.execution is not None and ended.execution.status == outcome.status
    assert_complete_history(ended.history, outcome.status)
    if item.valid:
        assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
        assert (record.status, record.error, record.reason) == ("DETECTED", None, None)
        low = item.faces_at_least if item.faces_at_least is not None else item.faces
        assert low <= record.face_count <= item.faces
        assert len(record.faces) == record.face_count
    else:
        assert (outcome.status, outcome.error) == ("FAILED", item.error)
        assert (record.status, record.error) == ("FAILED", item.error)
        assert_reason_for_people(record.reason, item, item.reason)
        assert outcome.cause == record.reason  # the execution fails with the same words


def test_emails_go_out_for_faces_only(batch: Batch) -> None:
    with_faces = {kind for kind, ended in batch.ended.items() if ended.outcome.face_count}
    # The body names the exact key (the subject is ASCII-folded, as SNS requires).
    bodies = [message.get_content() for message in batch.emails]

    assert len(bodies) == len(with_faces)
    for kind, ended in batch.ended.items():
        mentions = [body for body in bodies if f", key {ended.item.key}, version " in body]
        assert len(mentions) == (1 if kind in with_faces else 0), kind
    assert all(message["To"] == "alice@example.com" for message in batch.emails)


def test_nothing_is_lost_in_the_batch(batch: Batch) -> None:
    assert set(batch.ended) == set(KINDS)
    assert batch.record_count == len(KINDS)  # one record per upload, none overwritten
    assert all(ended.execution is not None for ended in batch.ended.values())


def test_exif_rotated_boxes_match_the_displayed_photo(batch: Batch) -> None:
    [rotated] = batch.ended["EXIF-rotated photo"].record.faces  # type: ignore[union-attr]
    [upright] = batch.ended["key with spaces"].record.faces  # type: ignore[union-attr]

    assert_same_box(rotated["box"], upright["box"])


def test_hundred_faces_are_recorded_under_the_payload_limit(batch: Batch) -> None:
    ended = batch.ended["100-face image"]
    largest = largest_state_payload(ended.history)
    print(f"100-face mosaic: {ended.outcome.face_count} faces, largest state {largest} bytes")

    assert ended.record is not None and ended.record.face_count >= 95
    assert largest < PAYLOAD_LIMIT


def test_keys_never_become_paths(batch: Batch) -> None:
    """ "uploads/../../etc/passwd.jpg" is a key like any other: nothing lands outside the home."""
    outside = [path for path in batch.home.root.parent.iterdir() if path != batch.home.root]
    names = [path.name for path in batch.home.root.rglob("*")]

    assert outside == []
    assert not [name for name in names if "passwd" in name or "Köln" in name]
