"""The SQLite record store: a real file, the DynamoDB store's idempotency and ordering rules."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from facepipe.local.database import SchemaTooNewError
from facepipe.local.recordstore import SqliteRecordStore
from lambdas.domain.model import FaceRecord
from lambdas.domain.ordering import InvalidSequencerError

FACE = {"confidence": 99.5, "box": {"left": 0.1, "top": 0.2, "width": 0.3, "height": 0.4}}


def record(
    key: str = "uploads/a.jpg",
    version_id: str = "v1",
    sequencer: str = "0064D3901D00059242",
    status: str = "DETECTED",
    faces: int = 1,
    detected_at: str = "2026-11-25T12:00:00+00:00",
) -> FaceRecord:
    return FaceRecord(
        bucket="faces-local",
        key=key,
        version_id=version_id,
        etag="5d41402abc4b2a76b9719d911017c592",
        size=5,
        sequencer=sequencer,
        status=status,
        face_count=faces,
        faces=[FACE] * faces,
        detected_at=detected_at,
        execution_arn="arn:aws:states:us-east-1:000000000000:execution:FacePipeline:run-1",
        error="InvalidImageFormatException" if status == "FAILED" else None,
        reason="not a JPEG or PNG" if status == "FAILED" else None,
        event_time="2026-11-25T11:59:59Z",
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteRecordStore:
    return SqliteRecordStore(tmp_path / "records.sqlite3")


def test_a_record_round_trips(store: SqliteRecordStore):
    written = record()

    assert store.put_if_newer(written) is True
    assert store.get("uploads/a.jpg", "v1") == written
    assert store.get("uploads/a.jpg", "v2") is None


def test_the_same_event_twice_writes_once(store: SqliteRecordStore):
    assert store.put_if_newer(record()) is True
    assert store.put_if_newer(replace(record(), execution_arn="arn:...:run-2")) is False

    assert store.get("uploads/a.jpg", "v1") == record()


def test_an_older_event_never_overwrites_a_newer_one(store: SqliteRecordStore):
    newer = record(version_id="null", sequencer="0064D3901D00059242", faces=2)
    older = record(version_id="null", sequencer="0064D3901D00059241", faces=0)

    assert store.put_if_newer(newer) is True
    assert store.put_if_newer(older) is False
    assert store.get("uploads/a.jpg", "null") == newer


def test_sequencers_of_different_lengths_compare_by_the_shared_rule(store: SqliteRecordStore):
    # S3: right-pad the shorter with zeros. "0F" reads as "0F00": above "0100", though a
    # numeric compare would say 0x0F < 0x100.
    assert store.put_if_newer(record(version_id="null", sequencer="0F", faces=1)) is True
    assert store.put_if_newer(record(version_id="null", sequencer="0100", faces=3)) is False
    assert store.get("uploads/a.jpg", "null").face_count == 1  # type: ignore[union-attr]


def test_a_detection_may_repair_a_failure_of_the_same_event_but_not_the_reverse(
    store: SqliteRecordStore,
):
    failed = record(status="FAILED", faces=0)
    detected = record(status="DETECTED", faces=1)

    assert store.put_if_newer(failed) is True
    assert store.put_if_newer(detected) is True
    assert store.put_if_newer(failed) is False
    assert store.get("uploads/a.jpg", "v1") == detected


def test_latest_view_only_moves_forward_across_versions(store: SqliteRecordStore):
    v2 = record(version_id="v2", sequencer="0064D3901D00059250")
    v1 = record(version_id="v1", sequencer="0064D3901D00059240")

    store.put_if_newer(v2)
    assert store.put_if_newer(v1) is True  # its own version's record is still kept
    assert store.latest_version_id("uploads/a.jpg") == "v2"
    assert store.get_latest("uploads/a.jpg") == v2
    v3 = record(version_id="v3", sequencer="0064D3901D00059260")
    store.put_if_newer(v3)
    assert store.get_latest("uploads/a.jpg") == v3
    assert store.get_latest("uploads/never.jpg") is None


def test_a_bad_sequencer_is_refused_before_anything_is_written(store: SqliteRecordStore):
    with pytest.raises(InvalidSequencerError, match="not a hexadecimal string"):
        store.put_if_newer(record(sequencer="not-hex"))

    assert store.get("uploads/a.jpg", "v1") is None
    assert store.latest_version_id("uploads/a.jpg") is None


def test_claim_is_granted_once_and_release_allows_another(store: SqliteRecordStore):
    store.put_if_newer(record())

    assert store.claim_notification("uploads/a.jpg", "v1") is True
    assert store.claim_notification("uploads/a.jpg", "v1") is False
    assert store.get("uploads/a.jpg", "v1").notified_at  # type: ignore[union-attr]
    store.release_notification("uploads/a.jpg", "v1")
    assert store.get("uploads/a.jpg", "v1").notified_at is None  # type: ignore[union-attr]
    assert store.claim_notification("uploads/a.jpg", "v1") is True


def test_a_claim_on_a_missing_record_is_refused(store: SqliteRecordStore):
    assert store.claim_notification("uploads/none.jpg", "v1") is False
    store.release_notification("uploads/none.jpg", "v1")  # no error, nothing to release


def test_only_one_of_many_threads_wins_the_claim(store: SqliteRecordStore):
    store.put_if_newer(record())
    wins: list[bool] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        wins.append(store.claim_notification("uploads/a.jpg", "v1"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(wins) == [False] * 7 + [True]


def test_many_threads_writing_out_of_order_leave_the_newest(store: SqliteRecordStore):
    sequencers = [f"{n:018X}" for n in range(1, 201)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(chunk: list[str]) -> None:
        start.wait()
        try:
            for seq in chunk:
                unversioned = record(key="u.jpg", version_id="null", sequencer=seq)
                store.put_if_newer(replace(unversioned, face_count=int(seq, 16)))
                store.put_if_newer(record(version_id=f"v{seq}", sequencer=seq))
        except BaseException as exc:  # surfaced below: a thread's error must fail the test
            errors.append(exc)

    shuffled = sequencers[::-1]
    threads = [threading.Thread(target=write, args=(shuffled[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert store.get("u.jpg", "null").face_count == 200  # type: ignore[union-attr]
    assert store.latest_version_id("uploads/a.jpg") == f"v{200:018X}"
    assert len(store.list_records(limit=1000)) == 201


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from facepipe.local.recordstore import SqliteRecordStore
    from lambdas.domain.model import FaceRecord

    store = SqliteRecordStore(Path(sys.argv[1]))
    first, step = int(sys.argv[2]), 2
    wins = 0
    for n in range(first, 301, step):
        seq = "%018X" % n
        for key, version in (("u.jpg", "null"), ("uploads/a.jpg", "v" + seq)):
            wins += store.put_if_newer(FaceRecord(
                bucket="faces-local", key=key, version_id=version, etag="e",
                size=1, sequencer=seq, status="DETECTED", face_count=n,
                detected_at="2026-11-25T12:00:00+00:00"))
        wins += store.put_if_newer(FaceRecord(
            bucket="faces-local", key="uploads/a.jpg", version_id="dup", etag="e", size=1,
            sequencer="000000000000000001", status="DETECTED"))
    print(wins)
    """
)


def test_two_processes_writing_at_once_keep_every_rule(tmp_path: Path):
    path = tmp_path / "records.sqlite3"
    SqliteRecordStore(path).close()
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(first)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first in (1, 2)
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results

    store = SqliteRecordStore(path)
    assert store.get("u.jpg", "null").face_count == 300  # type: ignore[union-attr]
    assert store.latest_version_id("uploads/a.jpg") == f"v{300:018X}"
    assert len(store.list_records(limit=1000)) == 302  # 300 versions, "null", "dup"
    wins = sum(int(out) for out, _ in results)
    assert wins >= 300 + 1 + 1  # every versioned record once, "null" and "dup" at least once


def test_list_records_newest_first_with_filters(store: SqliteRecordStore):
    store.put_if_newer(record(key="a.jpg", detected_at="2026-11-25T10:00:00+00:00"))
    store.put_if_newer(
        record(key="b.jpg", faces=0, detected_at="2026-11-25T11:00:00+00:00", version_id="v1")
    )
    store.put_if_newer(record(key="c.jpg", status="FAILED", faces=0, detected_at=""))
    store.put_if_newer(
        record(
            key="a.jpg",
            version_id="v2",
            sequencer="0064D3901D00059299",
            detected_at="2026-11-25T12:00:00+00:00",
        )
    )

    everything = [(r.key, r.version_id) for r in store.list_records()]
    assert everything == [("a.jpg", "v2"), ("b.jpg", "v1"), ("a.jpg", "v1"), ("c.jpg", "v1")]
    assert [(r.key, r.version_id) for r in store.list_records(faces_only=True)] == [
        ("a.jpg", "v2"),
        ("a.jpg", "v1"),
    ]
    assert [(r.key, r.version_id) for r in store.list_records(latest_only=True, limit=2)] == [
        ("a.jpg", "v2"),
        ("b.jpg", "v1"),
    ]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        store.list_records(limit=0)


def test_the_file_is_wal_and_schema_versioned(store: SqliteRecordStore):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # 2: who holds a notification claim; 3: when its email was sent, and the message id;
    # 4: the backfill items (a backfill's tally)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 4


def test_a_file_from_a_newer_facepipe_is_refused_with_a_clear_error(tmp_path: Path):
    path = tmp_path / "records.sqlite3"
    SqliteRecordStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")

    with pytest.raises(SchemaTooNewError, match=r"schema version 99.*only knows up to 4"):
        SqliteRecordStore(path)


def test_reopening_keeps_the_records(tmp_path: Path):
    path = tmp_path / "records.sqlite3"
    first = SqliteRecordStore(path)
    first.put_if_newer(record())
    first.close()

    assert SqliteRecordStore(path).get("uploads/a.jpg", "v1") == record()
