"""ExecutionStore's crash bookkeeping: planned uploads and pending events left by a dead runner.

A "dead runner" is a real process that has exited: its pid is what the rows carry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dead_runner import dead_runner

from facepipe.local.events.bus import object_created_event
from facepipe.local.executions import QUEUED, ExecutionStore
from facepipe.local.executions.file import _SCHEMA
from facepipe.local.objectstore import LocalObjectStore

BUCKET = "facepipe-uploads"


def dead_runner_of(store: ExecutionStore) -> str:
    return dead_runner(store.path.parent / "runners")


def hand_to(db: Path, table: str, runner_id: str) -> None:
    """Make every row of ``table`` belong to ``runner_id`` (as if it had written them)."""
    with sqlite3.connect(db) as conn:
        conn.execute(f"UPDATE {table} SET owner_runner = ?", (runner_id,))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ExecutionStore]:
    opened = ExecutionStore(tmp_path / "executions.sqlite3")
    yield opened
    opened.close()


def test_planned_uploads_of_a_live_runner_are_left_alone(store: ExecutionStore) -> None:
    store.uploads.plan(BUCKET, [("/photos/a.jpg", "uploads/a.jpg")])

    assert store.uploads.take_orphaned(BUCKET) == []  # this runner is alive


def test_another_live_runners_work_is_left_to_it_until_it_closes(store: ExecutionStore) -> None:
    other = ExecutionStore(store.path)
    other.uploads.plan(BUCKET, [("/p/a.jpg", "uploads/a.jpg")])
    other.pending.add("event-1", {"id": "event-1"})

    assert store.uploads.take_orphaned(BUCKET) == []
    assert store.pending.take_orphaned() == []
    other.close()  # a runner that stops with work left leaves it to the next
    assert len(store.uploads.take_orphaned(BUCKET)) == 1
    assert [p.event_id for p in store.pending.take_orphaned()] == ["event-1"]


def test_a_dead_runners_planned_uploads_are_taken_once_in_order(store: ExecutionStore) -> None:
    ids = store.uploads.plan(BUCKET, [("/p/a.jpg", "uploads/a.jpg"), ("/p/b.jpg", "uploads/b.jpg")])
    store.uploads.done(ids[0])
    hand_to(store.path, "planned_uploads", dead_runner_of(store))

    taken = store.uploads.take_orphaned(BUCKET)

    assert taken == [(ids[1], "/p/b.jpg", "uploads/b.jpg")]
    assert store.uploads.take_orphaned(BUCKET) == []  # now owned by this (live) process


def test_a_dead_runners_uploads_into_another_bucket_wait_for_that_bucket(
    store: ExecutionStore,
) -> None:
    [upload_id] = store.uploads.plan("other-bucket", [("/p/a.jpg", "uploads/a.jpg")])
    hand_to(store.path, "planned_uploads", dead_runner_of(store))

    assert store.uploads.take_orphaned(BUCKET) == []
    assert store.uploads.take_orphaned("other-bucket") == [(upload_id, "/p/a.jpg", "uploads/a.jpg")]


def test_a_pending_event_marks_its_planned_upload_done(store: ExecutionStore) -> None:
    [upload_id] = store.uploads.plan(BUCKET, [("/p/a.jpg", "uploads/a.jpg")])

    store.pending.add("event-1", {"id": "event-1"}, planned_upload=upload_id)
    hand_to(store.path, "planned_uploads", dead_runner_of(store))
    hand_to(store.path, "pending_events", dead_runner_of(store))

    assert store.uploads.take_orphaned(BUCKET) == []
    assert [p.event_id for p in store.pending.take_orphaned()] == ["event-1"]


def test_a_deliberate_stop_forgets_its_own_files_and_hands_on_the_rest(
    store: ExecutionStore,
) -> None:
    store.uploads.plan(BUCKET, [("/p/mine.jpg", "uploads/mine.jpg")])
    other = ExecutionStore(store.path)
    [left] = other.uploads.plan(BUCKET, [("/p/left.jpg", "uploads/left.jpg")])
    other.close()  # a runner that stopped with a file not uploaded
    assert [upload[0] for upload in store.uploads.take_orphaned(BUCKET)] == [left]
    store.pending.add("queued", {"id": "queued"})  # its object is in the bucket

    store.stop_unstarted()

    after = ExecutionStore(store.path)
    try:
        assert [upload[0] for upload in after.uploads.take_orphaned(BUCKET)] == [left]
        assert [p.event_id for p in after.pending.take_orphaned()] == ["queued"]
    finally:
        after.close()


def test_an_executions_start_links_its_pending_event_in_the_same_write(
    store: ExecutionStore,
) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:x"
    store.pending.add("event-1", {"id": "event-1"})
    assert not store.pending.waiting_for(arn)

    store.start(
        execution_arn=arn,
        name="x",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m",
        bucket=BUCKET,
        image_key="uploads/a.jpg",
        version_id="v1",
        input={"id": "event-1"},
        start_date=datetime.now(UTC),
        pending_event_id="event-1",
    )

    assert store.pending.waiting_for(arn)


def test_a_queued_upload_is_in_flight_by_its_object_version(
    store: ExecutionStore, tmp_path: Path
) -> None:
    objects = LocalObjectStore(tmp_path / "buckets")
    try:
        stored = objects.put_object(BUCKET, "uploads/a b+é.jpg", b"\xff\xd8\xff")
    finally:
        objects.close()
    store.pending.add("event-1", object_created_event(stored))

    with store.uploads.claiming(BUCKET) as claims:
        assert claims.in_flight(stored.key, str(stored.version_id)) == QUEUED
        assert claims.in_flight(stored.key, "another-version") is None
    with store.uploads.claiming("other-bucket") as claims:
        assert claims.in_flight(stored.key, str(stored.version_id)) is None


def test_a_claim_is_held_by_its_runner_and_is_unique_per_key_and_content(
    store: ExecutionStore, tmp_path: Path
) -> None:
    other = ExecutionStore(store.path)
    try:
        with store.uploads.claiming(BUCKET) as claims:
            claims.claim("/p/a.jpg", "uploads/a.jpg", "etag-1")
        with other.uploads.claiming(BUCKET) as claims:
            holder = claims.holder("uploads/a.jpg", "etag-1")
            assert holder is not None and holder[0] == store.runner_id
            assert claims.holder("uploads/a.jpg", "etag-2") is None
            with pytest.raises(sqlite3.IntegrityError):  # the same bytes, the same key
                claims.claim("/q/a.jpg", "uploads/a.jpg", "etag-1")
    finally:
        other.close()


def test_an_older_database_gains_the_newer_tables(tmp_path: Path) -> None:
    db = tmp_path / "executions.sqlite3"
    with sqlite3.connect(db) as conn:  # as an earlier facepipe left it: two schema steps
        for migration in _SCHEMA[:2]:
            for statement in migration:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")

    upgraded = ExecutionStore(db)
    try:
        assert len(upgraded.uploads.plan(BUCKET, [("/p/a.jpg", "uploads/a.jpg")])) == 1
    finally:
        upgraded.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(_SCHEMA)
