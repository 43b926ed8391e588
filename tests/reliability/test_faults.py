"""Offline runs with injected faults: retries as the ASL says, visible in the history; when
they run out the image ends FAILED with the reason; an email the mail server refused is kept
and sent later, never dropped.

The engine runs on a FakeClock (its retry waits pass instantly) and the fault plan reads the
same clock, so "the SMTP server is down for 3 s" means 3 s of the executions' own time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from histories import task_attempts

from facepipe import cli
from facepipe.engine import FakeClock
from facepipe.local.faults import FaultPlan
from facepipe.local.home import DataHome
from facepipe.local.runtime import LocalPipeline, PipelineOptions
from facepipe.samples import GROUP, NO_FACES, PORTRAIT, sample_images

MAIL_ENV = {"FACEPIPE_EMAIL_TO": "alice@example.com", "FACEPIPE_EMAIL_FROM": "pipe@example.com"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {path.name: path for path in sample_images(tmp_path_factory.mktemp("samples"))}


@pytest.fixture
def home(tmp_path: Path) -> DataHome:
    return DataHome(tmp_path / "home")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def fault_plan(clock: FakeClock, **settings: Any) -> FaultPlan:
    return FaultPlan(clock=lambda: clock.now().timestamp(), **settings)


def pipeline(home: DataHome, clock: FakeClock, plan: FaultPlan) -> LocalPipeline:
    options = PipelineOptions(detector="yunet", workers=1, clock=clock)
    return LocalPipeline(home, options, faults=plan, environ=MAIL_ENV)


def run_all(
    running: LocalPipeline, images: list[Path], prefix: str
) -> tuple[list[Any], list[list[dict[str, Any]]], list[Any]]:
    """Upload each image and wait: the outcomes, their histories and the records."""
    uploads = [running.upload(image, f"{prefix}{n}.jpg") for n, image in enumerate(images)]
    outcomes = [upload.execution.result() for upload in uploads if upload.execution]
    histories = [running.executions.history(o.execution_arn) for o in outcomes]
    return outcomes, histories, running.records.list_records(limit=100)


def task_failures(histories: list[list[dict[str, Any]]]) -> list[str]:
    """The error of every TaskFailed event, in every history."""
    return [
        event["taskFailedEventDetails"]["error"]
        for history in histories
        for event in history
        if event["type"] == "TaskFailed"
    ]


def test_a_detector_capped_at_two_calls_per_second_loses_no_image(
    home: DataHome, clock: FakeClock, samples: dict[str, Path]
) -> None:
    """detector_tps stands in for Rekognition's TPS quota: two workers push above it, the
    calls above the cap fail with ProvisionedThroughputExceededException, and Detect's Retry
    (backing off on the executions' clock) brings every image through."""
    plan = fault_plan(clock, detector_tps=2)
    images = [samples[PORTRAIT], samples[NO_FACES]] * 6
    options = PipelineOptions(detector="yunet", workers=2, clock=clock)
    with LocalPipeline(home, options, faults=plan, environ=MAIL_ENV) as running:
        outcomes, histories, records = run_all(running, images, "uploads/tps-")

    assert [o.status for o in outcomes] == ["SUCCEEDED"] * len(images)
    refused = task_failures(histories)
    assert refused and set(refused) == {"ProvisionedThroughputExceededException"}
    assert len(records) == len(images) and {r.status for r in records} == {"DETECTED"}


def test_five_percent_detector_and_store_faults_are_retried_away(
    home: DataHome, clock: FakeClock, samples: dict[str, Path]
) -> None:
    plan = fault_plan(clock, rates={"detector": 0.05, "store": 0.05}, seed=11)
    images = [samples[PORTRAIT], samples[GROUP], samples[NO_FACES]] * 10
    with pipeline(home, clock, plan) as running:
        outcomes, histories, records = run_all(running, images, "uploads/")

    assert [o.status for o in outcomes] == ["SUCCEEDED"] * len(images)
    failed_tasks = task_failures(histories)
    assert failed_tasks, "the plan injected no fault at all"
    assert set(failed_tasks) <= {"ThrottlingException", "ProvisionedThroughputExceededException"}
    retried = sum(
        task_attempts(h, state) > 1 for h in histories for state in ("Detect", "Persist", "Notify")
    )
    assert retried > 0
    assert clock.sleeps, "retries wait as the Retry says (instantly, on the fake clock)"
    assert len(records) == len(images) and {r.status for r in records} == {"DETECTED"}
    assert len(list((home.outbox / "new").iterdir())) == sum(r.face_count > 0 for r in records)
    print(f"{len(failed_tasks)} injected faults retried in {len(images)} executions")


def test_when_detector_retries_run_out_the_image_ends_failed_with_the_reason(
    home: DataHome, clock: FakeClock, samples: dict[str, Path]
) -> None:
    plan = fault_plan(clock, rates={"detector": 1.0}, seed=3)
    with pipeline(home, clock, plan) as running:
        upload = running.upload(samples[PORTRAIT], "uploads/portrait.jpg")
        assert upload.execution is not None
        outcome = upload.execution.result()
        history = running.executions.history(outcome.execution_arn)
        record = running.records.get("uploads/portrait.jpg", str(upload.stored.version_id))

    assert outcome.status == "FAILED"
    assert outcome.error in {"ThrottlingException", "ProvisionedThroughputExceededException"}
    assert record is not None and record.status == "FAILED" and record.reason == outcome.cause
    assert outcome.cause == (
        "The service stayed over capacity after every retry. "
        "Injected fault: detector failed transiently."
    )
    assert task_attempts(history, "Detect") == 7  # the first try and MaxAttempts 6 retries
    assert task_attempts(history, "RecordFailure") == 1


def test_smtp_down_for_a_while_is_outlasted_by_the_notify_retries(
    home: DataHome, clock: FakeClock, samples: dict[str, Path]
) -> None:
    plan = fault_plan(clock, smtp_down_for=3.0)
    with pipeline(home, clock, plan) as running:
        upload = running.upload(samples[GROUP], "uploads/group.jpg")
        assert upload.execution is not None
        outcome = upload.execution.result()
        history = running.executions.history(outcome.execution_arn)
        unsent = running.undelivered.unsent()

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert task_attempts(history, "Notify") > 1
    assert unsent == []  # kept while refused, forgotten once sent
    assert len(list((home.outbox / "new").iterdir())) == 1


@pytest.fixture
def quiet_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("FACEPIPE_SMTP_URL", "FACEPIPE_SMTP_HOST", "FACEPIPE_FAULTS", "FACEPIPE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in MAIL_ENV.items():
        monkeypatch.setenv(name, value)
    yield


def outbox_json(home: DataHome, capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    capsys.readouterr()
    status = cli.main(["--home", str(home.root), "outbox", "--json", *extra])
    return status, json.loads(capsys.readouterr().out)


def test_an_email_refused_until_the_retries_run_out_is_kept_and_sent_later(
    home: DataHome,
    clock: FakeClock,
    samples: dict[str, Path],
    quiet_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = fault_plan(clock, smtp_down_for=1e9)
    with pipeline(home, clock, plan) as running:
        upload = running.upload(samples[PORTRAIT], "uploads/portrait.jpg")
        assert upload.execution is not None
        outcome = upload.execution.result()
        history = running.executions.history(outcome.execution_arn)
    version = str(upload.stored.version_id)

    assert (outcome.status, outcome.error) == ("FAILED", "ServiceUnavailableError")
    assert task_attempts(history, "Notify") == 7
    status, listed = outbox_json(home, capsys)
    assert status == 0
    [unsent] = listed
    assert unsent["status"] == "UNSENT" and unsent["attempts"] == 7
    assert unsent["imageVersion"] == f"facepipe-uploads/uploads/portrait.jpg#{version}"
    assert "SMTP server is down" in unsent["reason"]

    status, listed = outbox_json(home, capsys, "--retry")  # the server is back (no faults)
    assert status == 0
    [sent] = listed
    assert sent["status"] == "SENT" and sent["subject"].endswith("uploads/portrait.jpg")
    with pipeline(home, clock, fault_plan(clock)) as running:
        record = running.records.get("uploads/portrait.jpg", version)
    assert record is not None and record.notified_at  # `facepipe records` shows it emailed
    with sqlite3.connect(home.records_db) as conn:
        sent_at, message_id = conn.execute(
            "SELECT sent_at, message_id FROM face_records WHERE version_id = ?", (version,)
        ).fetchone()
    assert sent_at and message_id == sent["messageId"]  # a later Notify will not send again
