"""What ``resume`` does with the files a dead runner had noted and not uploaded.

The "dead runner" is a real process that has exited: its pid is written into the rows, as
if it had planned the batch and been killed before uploading the rest.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dead_runner import dead_runner

from facepipe import cli
from facepipe.local.events.bus import object_created_event
from facepipe.local.executions import ExecutionStore, executions_db_path
from facepipe.local.home import DataHome
from facepipe.local.objectstore import InvalidObjectName
from facepipe.local.runtime import LocalPipeline, PipelineOptions
from facepipe.samples import NO_FACES, PORTRAIT, sample_images

BUCKET = "facepipe-uploads"
MAIL_ENV = {"FACEPIPE_EMAIL_TO": "alice@example.com", "FACEPIPE_EMAIL_FROM": "pipe@example.com"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {path.name: path for path in sample_images(tmp_path_factory.mktemp("samples"))}


def pipeline(home: DataHome) -> LocalPipeline:
    return LocalPipeline(home, PipelineOptions(detector="yunet", workers=1), environ=MAIL_ENV)


def leave_to_a_dead_runner(home: DataHome, *tables: str) -> None:
    """Hand the rows of ``tables`` (the noted uploads by default) to a runner that exited
    without releasing its lease."""
    db = executions_db_path(home)
    dead = dead_runner(db.parent / "runners")
    with sqlite3.connect(db) as conn:
        for table in tables or ("planned_uploads",):
            conn.execute(f"UPDATE {table} SET owner_runner = ?", (dead,))


def test_resume_uploads_the_rest_says_what_it_could_not_and_leaves_nothing_behind(
    tmp_path: Path, samples: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in (PORTRAIT, NO_FACES):
        shutil.copy(samples[name], photos / name)
    (photos / "gone.jpg").write_bytes(samples[NO_FACES].read_bytes())
    home = DataHome(tmp_path / "home")
    monkeypatch.chdir(tmp_path)  # the batch is noted with relative paths
    relative = [Path("photos") / name for name in (PORTRAIT, NO_FACES, "gone.jpg")]
    with pipeline(home) as first:
        first.plan_uploads([(path, f"uploads/{path.name}") for path in relative])
    leave_to_a_dead_runner(home)
    (photos / "gone.jpg").unlink()
    monkeypatch.chdir(tmp_path / "photos")  # resumed from elsewhere

    with pipeline(home) as second:
        resumed = second.resume()
        outcomes = [future.result(timeout=120) for future in resumed.executions]
        again = second.resume()

    assert resumed.uploaded == 2
    assert resumed.not_uploaded == [f"{photos / 'gone.jpg'} (No such file or directory)"]
    assert "1 file(s) could not be uploaded: " in resumed.summary()
    assert sorted((o.key, o.status) for o in outcomes) == [
        (f"uploads/{NO_FACES}", "SUCCEEDED"),
        (f"uploads/{PORTRAIT}", "SUCCEEDED"),
    ]
    assert not again.anything  # nothing left to stand in front of later runs


def test_a_name_s3_would_refuse_is_refused_before_the_batch_is_noted(
    tmp_path: Path, samples: dict[str, Path]
) -> None:
    home = DataHome(tmp_path / "home")
    with pipeline(home) as runner, pytest.raises(InvalidObjectName, match="object key"):
        runner.plan_uploads(
            [(samples[PORTRAIT], "uploads/ok.jpg"), (samples[NO_FACES], "u/" + "x" * 1100)]
        )
    leave_to_a_dead_runner(home)

    with pipeline(home) as later:
        assert not later.resume().anything


def test_two_resumers_run_an_abandoned_upload_once(
    tmp_path: Path, samples: dict[str, Path]
) -> None:
    """A takes the dead runner's pending event; B, resuming at the same time, aborts the
    execution it had left RUNNING but must not queue the upload a second time."""
    home = DataHome(tmp_path / "home")
    with pipeline(home) as dead:
        stored = dead.objects.put_object("facepipe-uploads", "uploads/p.jpg", samples[PORTRAIT])
        event = object_created_event(stored)
        dead.executions.pending.add("event-1", event)
        dead.executions.start(
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:facepipe-local:x",
            name="x",
            state_machine_arn=dead.machine.arn,
            bucket="facepipe-uploads",
            image_key="uploads/p.jpg",
            version_id=str(stored.version_id),
            input=event,
            start_date=datetime.now(UTC),
            pending_event_id="event-1",
        )
    leave_to_a_dead_runner(home, "pending_events", "executions")
    resumer_a = ExecutionStore(executions_db_path(home))
    try:
        assert [p.event_id for p in resumer_a.pending.take_orphaned()] == ["event-1"]
        with pipeline(home) as resumer_b:
            resumed = resumer_b.resume()
        assert resumed.aborted == [
            "arn:aws:states:us-east-1:123456789012:execution:facepipe-local:x"
        ]
        assert resumed.executions == []  # A runs it; B queues nothing
    finally:
        resumer_a.close()


def test_running_the_same_batch_again_after_a_crash_runs_each_file_once(
    tmp_path: Path,
    samples: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What a person does after a crash: the same `facepipe run` again. Resume uploads what
    the dead run had noted; the batch must then not upload those files a second time."""
    for name, value in MAIL_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("FACEPIPE_SMTP_URL", "FACEPIPE_SMTP_HOST", "FACEPIPE_FAULTS"):
        monkeypatch.delenv(name, raising=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in (PORTRAIT, NO_FACES):
        shutil.copy(samples[name], photos / name)
    home = DataHome(tmp_path / "home")
    with pipeline(home) as killed:  # noted its batch, then died before uploading
        killed.plan_uploads([(photos / name, f"uploads/{name}") for name in (PORTRAIT, NO_FACES)])
    leave_to_a_dead_runner(home)
    command = ["--home", str(home.root), "run", str(photos), "--detector", "yunet", "--json"]

    assert cli.main(command) == 0
    first = json.loads(capsys.readouterr().out)
    assert cli.main(command) == 0  # and once more, with everything done
    second = json.loads(capsys.readouterr().out)

    assert [(r["key"], r["status"]) for r in first] == [
        (f"uploads/{NO_FACES}", "SKIPPED"),
        (f"uploads/{PORTRAIT}", "SKIPPED"),
    ]
    assert all(r["reason"].startswith(("already queued", "already run")) for r in first)
    assert {r["status"] for r in second} == {"SKIPPED"}
    assert all(r["reason"].startswith("already run") for r in second)
    with pipeline(home) as after:
        versions = {
            name: after.objects.list_versions(BUCKET, f"uploads/{name}")
            for name in (PORTRAIT, NO_FACES)
        }
        records = after.records.list_records(limit=10)
    assert {name: len(found) for name, found in versions.items()} == {PORTRAIT: 1, NO_FACES: 1}
    assert sorted((r.key, r.status) for r in records) == [
        (f"uploads/{NO_FACES}", "DETECTED"),
        (f"uploads/{PORTRAIT}", "DETECTED"),
    ]
    assert len(list((home.outbox / "new").iterdir())) == 1  # the portrait's, once
