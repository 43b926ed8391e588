"""``facepipe backfill`` and ``facepipe redrive`` through the real ``facepipe`` process.

The bucket is seeded as a bucket that already holds images: objects put straight into the
local store (no upload event, so nothing runs), one image run before by ``facepipe run``
(recorded DETECTED, emailed once), one recorded FAILED, one that is not an image. The
backfill is statemachine/backfill.asl.json on the local engine; its Map Run follows
Step Functions' Distributed Map
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html) and a
redrive follows RedriveExecution
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html).
"""

from __future__ import annotations

import email
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from cli_harness import FAST_DETECTOR, clean_env, executions_of, facepipe_process, outbox_files

from facepipe.local.home import DataHome
from facepipe.local.objectstore import LocalObjectStore
from facepipe.local.recordstore import SqliteRecordStore
from facepipe.samples import GROUP, NO_FACES, PORTRAIT
from lambdas.domain.model import FaceRecord

BUCKET = "facepipe-uploads"


def seed(home: Path, files: dict[str, Path | bytes]) -> dict[str, str]:
    """Put objects into the local bucket as they were before the pipeline: their version ids."""
    store = LocalObjectStore(DataHome(home).create().buckets)
    try:
        return {
            key: str(store.put_object(BUCKET, key, data).version_id) for key, data in files.items()
        }
    finally:
        store.close()


def record_failed(home: Path, key: str, version: str, size: int) -> None:
    """A FAILED record of that version, as a run before a fix would have left."""
    records = SqliteRecordStore(DataHome(home).records_db)
    try:
        records.put_if_newer(
            FaceRecord(
                bucket=BUCKET,
                key=key,
                version_id=version,
                etag="x",
                size=size,
                sequencer="0000000000000001",
                status="FAILED",
                face_count=0,
                faces=[],
                detected_at="2026-12-01T00:00:00Z",
                execution_arn="arn:before-the-fix",
                error="ServiceUnavailableError",
                reason="The detector was down.",
                event_time="2026-12-01T00:00:00Z",
            )
        )
    finally:
        records.close()


def records_of(home: Path) -> dict[str, FaceRecord]:
    records = SqliteRecordStore(DataHome(home).records_db)
    try:
        return {r.key: r for r in records.list_records(limit=10_000)}
    finally:
        records.close()


def emails(home: Path) -> list[email.message.Message]:
    return [email.message_from_bytes(path.read_bytes()) for path in outbox_files(home)]


def body(message: email.message.Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def a_bucket_with_history(home: Path, samples: dict[str, Path], env: dict[str, str]) -> None:
    """10 objects: 1 run before (DETECTED), 1 FAILED before a fix, 1 not an image, 7 new."""
    ran = facepipe_process(home, "run", str(samples[PORTRAIT]), *FAST_DETECTOR, env=env)
    assert ran.returncode == 0, ran.stderr
    files: dict[str, Path | bytes] = {"uploads/notes.jpg": b"shopping list, not a photo"}
    for number in range(7):
        files[f"uploads/old/{number}.jpg"] = samples[(GROUP, NO_FACES, PORTRAIT)[number % 3]]
    files["uploads/retry.jpg"] = samples[GROUP]
    versions = seed(home, files)
    size = samples[GROUP].stat().st_size
    record_failed(home, "uploads/retry.jpg", versions["uploads/retry.jpg"], size)


def test_backfill_skips_the_detected_retries_the_failed_and_sends_one_summary(
    samples: dict[str, Path], tmp_path: Path
):
    home, env = tmp_path / "home", clean_env(tmp_path)
    a_bucket_with_history(home, samples, env)
    before = records_of(home)["uploads/portrait.jpg"]

    done = facepipe_process(home, "backfill", *FAST_DETECTOR, env=env)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "SUCCEEDED: 10 image(s), 9 succeeded, 1 failed" in done.stdout
    assert "backfill: 10/10 done, 9 succeeded, 1 failed" in done.stderr  # the progress line
    records = records_of(home)
    # Already DETECTED: not detected again (the same record, from the earlier run).
    assert records["uploads/portrait.jpg"].execution_arn == before.execution_arn
    assert records["uploads/portrait.jpg"].detected_at == before.detected_at
    # FAILED before: detected now (same sequencer, DETECTED replaces FAILED).
    assert records["uploads/retry.jpg"].status == "DETECTED"
    assert records["uploads/retry.jpg"].face_count == 4
    assert records["uploads/notes.jpg"].status == "FAILED"
    assert all(records[f"uploads/old/{n}.jpg"].status == "DETECTED" for n in range(7))
    # The earlier run's email and one summary: no email per image.
    messages = emails(home)
    assert len(messages) == 2
    (summary,) = [m for m in messages if str(m["Subject"]).startswith("facepipe backfill")]
    assert summary["Subject"] == "facepipe backfill: 10 images, 1 failed"
    text = body(summary)
    assert "Images: 10 (9 succeeded, 1 failed, 0 timed out, 0 aborted)" in text
    # 8 detected now: 3 groups (4 faces), 2 portraits (1), 2 without faces, and retry (4).
    assert "Detected now: 8, faces found in them: 18" in text
    assert "Already recorded, not detected again: 1" in text
    assert "- uploads/notes.jpg: " in text and "(InvalidImageFormatException)" in text
    assert "Map Run: arn:aws:states:" in text and ":mapRun:facepipe-backfill-local/" in text


def test_notify_each_emails_each_image_with_faces_once(samples: dict[str, Path], tmp_path: Path):
    home, env = tmp_path / "home", clean_env(tmp_path)
    a_bucket_with_history(home, samples, env)

    done = facepipe_process(home, "backfill", "--notify-each", *FAST_DETECTOR, env=env)

    assert done.returncode == 0, done.stderr
    subjects = [str(m["Subject"]) for m in emails(home)]
    # The earlier run's, one per image with faces detected now (3 groups, 2 portraits and
    # retry: not the already-emailed portrait.jpg), and the summary.
    assert len(subjects) == 1 + 6 + 1, subjects
    assert sum(s.startswith("facepipe backfill") for s in subjects) == 1


def test_dry_run_counts_and_prices_and_runs_nothing(samples: dict[str, Path], tmp_path: Path):
    home, env = tmp_path / "home", clean_env(tmp_path)
    a_bucket_with_history(home, samples, env)

    done = facepipe_process(home, "backfill", "--dry-run", *FAST_DETECTOR, env=env)

    assert done.returncode == 0, done.stderr
    assert "10 object(s) under s3://facepipe-uploads/uploads/" in done.stdout
    assert "1 already recorded DETECTED: skipped" in done.stdout
    assert "1 recorded FAILED: detected again" in done.stdout
    assert "8 not recorded: detected" in done.stdout
    assert "Rekognition DetectFaces: $0.0090" in done.stdout  # 9 images at $1 per 1,000
    assert [e.kind for e in executions_of(home)] == ["image"]  # only the earlier run
    assert len(outbox_files(home)) == 1


def test_a_prefix_outside_uploads_or_with_nothing_under_it_is_one_line(
    samples: dict[str, Path], tmp_path: Path
):
    home, env = tmp_path / "home", clean_env(tmp_path)
    outside = facepipe_process(home, "backfill", "--prefix", "photos/", env=env)
    assert outside.returncode == 2
    assert outside.stderr.strip().splitlines() == [
        "facepipe: error: prefix 'photos/' is outside uploads/: the pipeline (and the "
        "backfill's role) reads only objects under uploads/"
    ]
    seed(home, {"uploads/a.jpg": samples[PORTRAIT]})
    empty = facepipe_process(home, "backfill", "--prefix", "uploads/none/", env=env)
    assert empty.returncode == 2
    assert empty.stderr.strip() == (
        "facepipe: error: no objects under s3://facepipe-uploads/uploads/none/: nothing to backfill"
    )


def _started(home: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    from cli_harness import FACEPIPE

    return subprocess.Popen(
        [str(FACEPIPE), "--home", str(home), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _backfill_show(home: Path, env: dict[str, str]) -> dict[str, Any]:
    (backfill,) = [e for e in executions_of(home) if e.kind == "backfill"]
    shown = facepipe_process(home, "show", backfill.execution_arn, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def test_ctrl_c_aborts_the_map_run_and_a_redrive_finishes_it(
    samples: dict[str, Path], tmp_path: Path
):
    home = tmp_path / "home"
    # Detections capped at 2 a second: the run lasts long enough to be stopped midway.
    env = clean_env(tmp_path, FACEPIPE_FAULTS="detector_tps:2")
    seed(home, {f"uploads/{n}.jpg": samples[(GROUP, PORTRAIT)[n % 2]] for n in range(30)})
    runner = _started(home, "backfill", *FAST_DETECTOR, env=env)
    try:
        assert runner.stderr is not None
        for line in runner.stderr:  # wait for images to be done, then Ctrl-C
            if "backfill: " in line and " done," in line and not line.startswith("backfill: 0/"):
                break
        runner.send_signal(signal.SIGINT)
        _, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()

    assert runner.returncode == 130, err
    assert "Traceback" not in err
    assert "its Map Run was aborted. Run `facepipe backfill` again to go on" in err
    shown = _backfill_show(home, env)
    assert shown["execution"]["status"] == "ABORTED"
    assert shown["history"][-1]["type"] == "ExecutionAborted"
    (map_run,) = shown["mapRuns"]
    assert map_run["status"] == "ABORTED"
    done_before = map_run["itemCounts"]["succeeded"]
    assert 0 < done_before < 30
    assert not [m for m in emails(home) if "backfill" in str(m["Subject"])]  # not finished

    redriven = facepipe_process(
        home, "redrive", shown["execution"]["executionArn"], *FAST_DETECTOR[:2], env=env
    )

    assert redriven.returncode == 0, redriven.stderr
    assert ": redriven (1): SUCCEEDED" in redriven.stdout
    shown = _backfill_show(home, env)
    types = [event["type"] for event in shown["history"]]
    assert "ExecutionRedriven" in types and "MapRunRedriven" in types
    assert types[-1] == "ExecutionSucceeded"
    (map_run,) = shown["mapRuns"]  # the same Map Run, redriven
    assert map_run["status"] == "SUCCEEDED" and map_run["redriveCount"] == 1
    assert map_run["itemCounts"]["succeeded"] == 30
    records = records_of(home)
    assert len(records) == 30 and {r.status for r in records.values()} == {"DETECTED"}
    (summary,) = emails(home)
    assert "Images: 30 (30 succeeded, 0 failed" in body(summary)


def test_a_live_run_during_a_backfill_processes_each_upload_once(
    samples: dict[str, Path], tmp_path: Path
):
    home, env = tmp_path / "home", clean_env(tmp_path)
    seed(home, {f"uploads/old/{n}.jpg": samples[GROUP] for n in range(12)})
    live = tmp_path / "live"
    live.mkdir()
    for n in range(6):
        shutil.copy(samples[(PORTRAIT, GROUP)[n % 2]], live / f"{n}.jpg")
    backfill = _started(home, "backfill", "--prefix", "uploads/", *FAST_DETECTOR, env=env)
    time.sleep(1.0)  # the backfill has listed the bucket or is about to
    run = facepipe_process(home, "run", str(live), *FAST_DETECTOR, env=env)
    _, err = backfill.communicate(timeout=180)

    assert run.returncode == 0, run.stderr
    assert backfill.returncode == 0, err
    records = records_of(home)
    image_runs = {e.execution_arn for e in executions_of(home) if e.kind == "image"}
    for n in range(6):
        record = records[f"uploads/{n}.jpg"]
        assert record.status == "DETECTED"
        assert record.execution_arn in image_runs  # the live upload's record stands
    # One email per live image with faces (all six), one summary: none twice.
    subjects = [str(m["Subject"]) for m in emails(home)]
    assert len(subjects) == 6 + 1, subjects


def test_facepipe_show_of_a_backfill_lists_its_map_run_and_children(
    samples: dict[str, Path], tmp_path: Path
):
    home, env = tmp_path / "home", clean_env(tmp_path)
    seed(home, {f"uploads/{n}.jpg": samples[PORTRAIT] for n in range(3)})
    assert facepipe_process(home, "backfill", *FAST_DETECTOR, env=env).returncode == 0
    (backfill,) = [e for e in executions_of(home) if e.kind == "backfill"]

    shown = facepipe_process(home, "show", backfill.execution_arn, env=env)

    assert shown.returncode == 0, shown.stderr
    assert "Map Run" in shown.stdout and "child executions (3)" in shown.stdout
    assert "3 total: 3 succeeded, 0 failed" in shown.stdout
    as_json = _backfill_show(home, env)
    children = as_json["mapRuns"][0]["executions"]
    assert [c["status"] for c in children] == ["SUCCEEDED"] * 3
    assert sorted(c["imageKey"] for c in children) == [f"uploads/{n}.jpg" for n in range(3)]
    # An image a backfill recorded shows the child execution that recorded it.
    image = facepipe_process(home, "show", "uploads/0.jpg", "--json", env=env)
    assert image.returncode == 0, image.stderr
    child = json.loads(image.stdout)["execution"]
    assert child["executionArn"] in {c["executionArn"] for c in children}
    assert child["mapRunArn"] == as_json["mapRuns"][0]["mapRunArn"]


def test_redrive_continues_a_failed_execution_and_refuses_as_step_functions_does(
    samples: dict[str, Path], tmp_path: Path
):
    home, env = tmp_path / "home", clean_env(tmp_path)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    facepipe_process(home, "run", str(bad), str(samples[PORTRAIT]), *FAST_DETECTOR, env=env)
    by_key = {e.image_key: e for e in executions_of(home)}
    failed, succeeded = by_key["uploads/bad.jpg"], by_key["uploads/portrait.jpg"]
    assert failed.status == "FAILED"
    events_before = len(json.loads(facepipe_process(
        home, "show", failed.execution_arn, "--json", env=env).stdout)["history"])  # fmt: skip

    redriven = facepipe_process(home, "redrive", failed.execution_arn, *FAST_DETECTOR[:2], env=env)

    # From the state that failed (its Fail state), so it fails again, its history continued.
    assert redriven.returncode == 1, redriven.stderr
    assert f"{failed.execution_arn}: redriven (1): FAILED" in redriven.stdout
    shown = json.loads(
        facepipe_process(home, "show", failed.execution_arn, "--json", env=env).stdout
    )
    assert shown["execution"]["redriveCount"] == 1
    history = shown["history"]
    assert history[events_before]["type"] == "ExecutionRedriven"
    assert history[events_before]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))

    refused = facepipe_process(home, "redrive", succeeded.execution_arn, env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "facepipe: error: ExecutionNotRedrivable: Execution is SUCCEEDED and cannot be redriven"
    )
    unknown = "arn:aws:states:us-east-1:123456789012:execution:facepipe-local:nope"
    missing = facepipe_process(home, "redrive", unknown, env=env)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"facepipe: error: ExecutionDoesNotExist: Execution Does Not Exist: '{unknown}'"
    )
    since = facepipe_process(
        home, "redrive", "--failed-since", "2000-01-01", *FAST_DETECTOR[:2], env=env
    )
    assert f"{failed.execution_arn}: redriven (2): FAILED" in since.stdout
    assert succeeded.execution_arn not in since.stdout


def test_a_killed_backfill_is_marked_aborted_and_a_run_again_skips_what_it_did(
    samples: dict[str, Path], tmp_path: Path
):
    home = tmp_path / "home"
    env = clean_env(tmp_path, FACEPIPE_FAULTS="detector_tps:2")
    seed(home, {f"uploads/{n}.jpg": samples[PORTRAIT] for n in range(16)})
    runner = _started(home, "backfill", *FAST_DETECTOR, env=env)
    try:
        assert runner.stderr is not None
        for line in runner.stderr:
            if "backfill: " in line and " done," in line and not line.startswith("backfill: 0/"):
                break
        runner.kill()  # as kill -9: nothing is cleaned up
        runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    detected_before = {
        key: record.execution_arn
        for key, record in records_of(home).items()
        if record.status == "DETECTED"
    }
    assert 0 < len(detected_before) < 16

    resumed = facepipe_process(home, "resume", *FAST_DETECTOR, env=env)

    assert resumed.returncode == 0, resumed.stderr
    shown = _backfill_show(home, env)
    assert shown["execution"]["status"] == "ABORTED"
    assert "`facepipe backfill` again skips the images it did" in shown["execution"]["cause"]
    assert shown["mapRuns"][0]["status"] == "ABORTED"

    again = facepipe_process(home, "backfill", *FAST_DETECTOR, env=env)

    assert again.returncode == 0, again.stderr
    records = records_of(home)
    assert len(records) == 16 and {r.status for r in records.values()} == {"DETECTED"}
    # What the killed run detected was not detected again.
    assert all(records[key].execution_arn == arn for key, arn in detected_before.items())
