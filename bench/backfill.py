"""The offline backfill at scale: statemachine/backfill.asl.json on the local engine over a
local bucket of 10,000 small objects, and the same images through the live pipeline.

The bucket: N (default 10,000) objects under uploads/, 160x120 JPEG variants of the sample
photos (seeded crops, 0/1/4 faces), 2 % of them not images (they must end FAILED with a
reason), 10 % already recorded DETECTED before the run (records written as a live run
leaves them: they must not be detected again). Then:

1. The backfill over all N, in this process (``LocalPipeline.backfill``), with the
   workflow's own MaxConcurrency; the process's RSS at each quarter of the Map Run (from
   DescribeMapRun's counts) and its peak; images per second.
2. The same images (the first ``--pipeline-images`` of them, default 1,000) through
   bench/pipeline.py's ``bench_pipeline``: upload -> rule -> one execution each, in a fresh
   data home; images per second beside the backfill's.
3. A smaller slice (default 200 objects, the same 2 % / 10 % mix) with the detector capped
   at 5 calls a second (FACEPIPE_FAULTS ``detector_tps:5``: ProvisionedThroughputExceeded
   above it, as Rekognition answers over its TPS quota): the workflow's Retry must keep
   every image. A slice, because at 5 TPS the full 9,000 detections take 30 minutes.

Checked for each run: every object has a record (``lost`` counts those without), every bad
one FAILED with a reason, none of the pre-recorded ones detected again (``redetected``: its
record was rewritten), no email twice (``duplicate_emails``: sends of one message id past
the first, counted at the notifier, so the Maildir's own de-duplication hides nothing).

The detector is MTCNN (the default; ``--detector``): yuface 2023.5.1 (YuNet) keeps about 35 KB
of native memory per call (measured: 3,000 bare ``detect`` calls on a 160x120 image, RSS
+105 MB), which would hide whether the backfill's own memory is flat.

Run: .venv/bin/python bench/backfill.py [--objects 10000] [--tps-objects 200] [--detector mtcnn]
The last line is ``objects=N recorded=R failed_with_reason=F redetected=D
duplicate_emails=E lost=L peak_rss_mb=M`` for the 10,000-object run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import bench_pipeline, memory_mb, sample_crops  # bench/pipeline.py

from facepipe.local.backfill import BackfillRequest
from facepipe.local.faults import parse_faults
from facepipe.local.home import DataHome
from facepipe.local.mail.message import Addresses
from facepipe.local.mail.notifier import MaildirOutbox
from facepipe.local.objectstore import LocalObjectStore
from facepipe.local.recordstore import SqliteRecordStore
from facepipe.local.runtime import LocalPipeline, PipelineOptions, route_step_logs
from lambdas.domain.model import Email, FaceRecord

SIZE = (160, 120)
SEED = 20261203
VARIANTS = 60
BUCKET = "facepipe-uploads"
PRE_RECORDED_ARN = "arn:bench:recorded-before-the-backfill"


def make_variants(folder: Path) -> list[bytes]:
    """``VARIANTS`` distinct small JPEGs cut from the sample photos."""
    return sample_crops(VARIANTS, folder, SIZE, seed=SEED, min_scale=0.8)


@dataclass(frozen=True)
class Bucket:
    keys: list[str]
    bad: set[str]
    recorded: set[str]


def fill_bucket(home: Path, count: int, variants: list[bytes]) -> Bucket:
    """``count`` objects: 2 % not images, 10 % recorded DETECTED already (as a live run
    leaves them), the rest new. Put straight into the store: no upload event, nothing runs."""
    store = LocalObjectStore(DataHome(home).create().buckets)
    records = SqliteRecordStore(DataHome(home).records_db)
    keys, bad, recorded = [], set(), set()
    try:
        for index in range(count):
            key = f"uploads/{index // 1000:02d}/{index:05d}.jpg"
            is_bad = index % 50 == 7  # 2 %
            data = f"not an image {index}".encode() if is_bad else variants[index % VARIANTS]
            stored = store.put_object(BUCKET, key, data)
            keys.append(key)
            if is_bad:
                bad.add(key)
            elif index % 10 == 3:  # 10 %
                recorded.add(key)
                records.put_if_newer(
                    FaceRecord(
                        bucket=BUCKET,
                        key=key,
                        version_id=str(stored.version_id),
                        etag=stored.etag.strip('"'),
                        size=stored.size,
                        sequencer=stored.sequencer,
                        status="DETECTED",
                        face_count=1,
                        faces=[],
                        detected_at="2026-12-01T00:00:00+00:00",
                        execution_arn=PRE_RECORDED_ARN,
                        event_time="2026-12-01T00:00:00Z",
                    )
                )
    finally:
        store.close()
        records.close()
    return Bucket(keys, bad, recorded)


class CountingOutbox:
    """The Maildir outbox, counting every send per message (dedup) id."""

    def __init__(self, outbox: MaildirOutbox) -> None:
        self.outbox = outbox
        self.sends: Counter[str] = Counter()
        self._lock = threading.Lock()

    def send(self, email: Email) -> str:
        with self._lock:
            self.sends[email.dedup_id] += 1
        return self.outbox.send(email)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.sends.values())


@dataclass(frozen=True)
class Figures:
    objects: int
    recorded: int
    failed_with_reason: int
    redetected: int
    duplicate_emails: int
    lost: int
    emails: int
    seconds: float
    status: str

    @property
    def rate(self) -> float:
        return self.objects / self.seconds


def run_backfill(
    home: Path, bucket: Bucket, detector: str, faults: str = "", quarters: bool = False
) -> Figures:
    outbox = CountingOutbox(
        MaildirOutbox(home / "outbox", Addresses("facepipe@localhost", ("bench@example.com",)))
    )
    options = PipelineOptions(detector=detector, workers=2)
    plan = parse_faults(faults)
    with LocalPipeline(DataHome(home), options, notifier=outbox, faults=plan, environ={}) as p:
        arn = p.backfill.start(BackfillRequest())
        stop_watch = threading.Event()
        watcher = threading.Thread(
            target=watch_quarters, args=(p, arn, len(bucket.keys), stop_watch), daemon=True
        )
        if quarters:
            watcher.start()
        started = time.perf_counter()
        result = p.backfill.run(arn, BackfillRequest())
        seconds = time.perf_counter() - started
        stop_watch.set()
        if quarters:
            watcher.join()
            print(f"  rss at 4/4: {memory_mb('VmRSS'):.1f} MB", flush=True)
        records = {
            (r.key, r.version_id): r
            for r in p.records.list_records(limit=len(bucket.keys) * 2 + 10)
        }
    by_key = {key: record for (key, _), record in records.items()}
    recorded = sum(key in by_key for key in bucket.keys)
    failed_with_reason = sum(
        1
        for key in bucket.bad
        if key in by_key and by_key[key].status == "FAILED" and by_key[key].reason
    )
    redetected = sum(1 for key in bucket.recorded if by_key[key].execution_arn != PRE_RECORDED_ARN)
    return Figures(
        objects=len(bucket.keys),
        recorded=recorded,
        failed_with_reason=failed_with_reason,
        redetected=redetected,
        duplicate_emails=outbox.duplicates,
        lost=len(bucket.keys) - recorded,
        emails=sum(outbox.sends.values()),
        seconds=seconds,
        status=result.status,
    )


def watch_quarters(pipeline: LocalPipeline, arn: str, total: int, stop: threading.Event) -> None:
    """RSS when the Map Run's finished items pass 1/4, 1/2 and 3/4 of the objects."""
    marks = [total // 4, total // 2, 3 * total // 4]
    machine = pipeline.backfill.machine
    while marks and not stop.wait(0.5):
        runs = machine.list_map_runs(arn)["mapRuns"]
        if not runs:
            continue
        counts = machine.describe_map_run(runs[0]["mapRunArn"])["itemCounts"]
        done = sum(counts[name] for name in ("succeeded", "failed", "timedOut", "aborted"))
        while marks and done >= marks[0]:
            quarter = 4 - len(marks)
            print(f"  rss at {quarter}/4 ({done} done): {memory_mb('VmRSS'):.1f} MB", flush=True)
            marks.pop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--tps-objects", type=int, default=200)
    parser.add_argument("--pipeline-images", type=int, default=1000)
    # MTCNN, the default: yuface 2023.5.1 (YuNet) keeps about 35 KB per call natively, which
    # would hide whether the backfill's own memory is flat.
    parser.add_argument("--detector", default="mtcnn")
    args = parser.parse_args()
    route_step_logs("ERROR")
    with tempfile.TemporaryDirectory(prefix="facepipe-bench-backfill-") as tmp:
        folder = Path(tmp)
        variants = make_variants(folder)
        print(f"rss at start: {memory_mb('VmRSS'):.1f} MB", flush=True)

        print(f"filling a bucket with {args.objects} objects...", flush=True)
        bucket = fill_bucket(folder / "big", args.objects, variants)
        print(f"backfill of {args.objects} objects (workflow MaxConcurrency):", flush=True)
        big = run_backfill(folder / "big", bucket, args.detector, quarters=True)
        print(
            f"  {big.status} in {big.seconds:.1f} s: {big.rate:.1f} objects/s; "
            f"{big.emails} email(s)",
            flush=True,
        )

        images = folder / "images"
        images.mkdir()
        paths = []
        for index in range(args.pipeline_images):
            path = images / f"{index:05d}.jpg"
            path.write_bytes(variants[index % VARIANTS])
            paths.append(path)
        rate, _, _, failures = bench_pipeline(paths, 2, args.detector, folder / "live")
        print(
            f"the same images through bench/pipeline.py's pipeline (upload -> execution, "
            f"2 workers, {len(paths)} images, {args.detector}): {rate:.1f} images/s "
            f"({failures} failed); "
            f"backfill {big.rate:.1f} objects/s (10 % of them skipped, 2 % not images)",
            flush=True,
        )

        print(f"backfill of {args.tps_objects} objects with detector_tps:5:", flush=True)
        small_bucket = fill_bucket(folder / "tps", args.tps_objects, variants)
        small = run_backfill(folder / "tps", small_bucket, args.detector, faults="detector_tps:5")
        print(
            f"  {small.status} in {small.seconds:.1f} s ({small.rate:.1f} objects/s): "
            f"objects={small.objects} recorded={small.recorded} "
            f"failed_with_reason={small.failed_with_reason} redetected={small.redetected} "
            f"duplicate_emails={small.duplicate_emails} lost={small.lost}",
            flush=True,
        )
    print(
        f"objects={big.objects} recorded={big.recorded} "
        f"failed_with_reason={big.failed_with_reason} redetected={big.redetected} "
        f"duplicate_emails={big.duplicate_emails} lost={big.lost} "
        f"peak_rss_mb={memory_mb('VmHWM'):.1f}"
    )


if __name__ == "__main__":
    main()
