"""Throughput of the local services the pipeline leans on, with 1 and N writer threads.

- bucket puts: ``LocalObjectStore.put_object`` of a 200 KB image (atomic write + fsync +
  SQLite index + sequencer), and the event match against the deployed upload rule;
- record writes: ``SqliteRecordStore.put_if_newer`` of new versions, plus duplicates;
- claims: ``claim_notification`` on fresh records;
- outbox: ``MaildirOutbox.send`` of distinct emails.

Run: .venv/bin/python bench/local_services.py [--count 300] [--threads 4]
Prints operations per second for each; everything happens in a temporary data home.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from facepipe.local.events.bus import load_upload_rule, object_created_event
from facepipe.local.home import DataHome
from facepipe.local.mail.message import Addresses
from facepipe.local.mail.notifier import MaildirOutbox
from facepipe.local.objectstore import LocalObjectStore
from facepipe.local.recordstore import SqliteRecordStore
from lambdas.domain.model import Email, FaceRecord

BUCKET = "bench-bucket"


def timed(label: str, count: int, threads: int, operation: Callable[[int], object]) -> None:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(operation, range(count)))
    elapsed = time.perf_counter() - start
    print(f"{label:<38} threads={threads:<2} {count / elapsed:10.0f} ops/s  ({elapsed:.2f} s)")


def face_record(n: int, sequencer: str) -> FaceRecord:
    return FaceRecord(
        bucket=BUCKET,
        key=f"uploads/{n}.jpg",
        version_id=f"v{n}",
        etag="e",
        size=1,
        sequencer=sequencer,
        status="DETECTED",
        face_count=1,
        faces=[{"confidence": 99.0}],
        detected_at="2026-11-25T12:00:00+00:00",
    )


def run(home: DataHome, count: int, threads: int) -> None:
    image = os.urandom(200 * 1024)
    rule = load_upload_rule(BUCKET)
    bucket = LocalObjectStore(home.buckets)
    records = SqliteRecordStore(home.records_db)
    outbox = MaildirOutbox(home.outbox, Addresses("bench@localhost", ("me@localhost",)))
    base = threads * 1_000_000

    def put(n: int) -> None:
        stored = bucket.put_object(BUCKET, f"uploads/{base + n}.jpg", image)
        assert rule.matches(object_created_event(stored))

    timed("bucket put 200 KB + rule match", count, threads, put)
    timed(
        "record put_if_newer (new versions)",
        count,
        threads,
        lambda n: records.put_if_newer(face_record(base + n, f"{n + 1:018X}")),
    )
    timed(
        "record put_if_newer (duplicates)",
        count,
        threads,
        lambda n: records.put_if_newer(face_record(base + n, f"{n + 1:018X}")),
    )
    timed(
        "claim_notification",
        count,
        threads,
        lambda n: records.claim_notification(f"uploads/{base + n}.jpg", f"v{base + n}"),
    )
    timed(
        "outbox send",
        count,
        threads,
        lambda n: outbox.send(Email("s", "body\n", f"{BUCKET}/{base + n}#v")),
    )
    bucket.close()
    records.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facepipe-bench-") as folder:
        home = DataHome(Path(folder)).create()
        for threads in sorted({1, args.threads}):
            run(home, args.count, threads)


if __name__ == "__main__":
    main()
