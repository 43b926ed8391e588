"""End to end offline: the real ASL file in the engine, the real step logic, local services and
the real face detector. Uploads go through the local bucket and the deployed upload rule."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image

from facepipe.local.executions import ExecutionStore, executions_db_path
from facepipe.local.home import DataHome
from facepipe.local.mail.message import Addresses
from facepipe.local.mail.notifier import MaildirOutbox
from facepipe.local.runtime import LocalPipeline, PipelineOptions
from facepipe.samples import GROUP, NO_FACES, PORTRAIT, sample_images
from lambdas.domain.model import Email

FACE_PATH = ["Detect", "Persist", "HasFaces", "Notify"]
NO_FACE_PATH = ["Detect", "Persist", "HasFaces", "NoFaces"]
FAILURE_PATH = ["Detect", "RecordFailure", "Failed"]
MAIL_ENV = {"FACEPIPE_EMAIL_TO": "alice@example.com", "FACEPIPE_EMAIL_FROM": "pipe@example.com"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {path.name: path for path in sample_images(tmp_path_factory.mktemp("samples"))}


@pytest.fixture
def home(tmp_path: Path) -> DataHome:
    return DataHome(tmp_path / "home")


@pytest.fixture
def pipeline(home: DataHome) -> Iterator[LocalPipeline]:
    # environ given explicitly: no SMTP server or fault plan from the machine running tests.
    with LocalPipeline(home, PipelineOptions(workers=2), environ=MAIL_ENV) as running:
        yield running


def outbox_messages(home: DataHome) -> list[Any]:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in (home.outbox / "new").iterdir()]


def entered_states(history: list[dict[str, Any]]) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in history
        if event["type"].endswith("StateEntered")
    ]


def test_face_image_ends_with_a_record_and_one_email(
    pipeline: LocalPipeline, home: DataHome, samples: dict[str, Path]
) -> None:
    upload = pipeline.upload(samples[GROUP], "uploads/team photo.jpg")
    assert upload.execution is not None
    outcome = upload.execution.result()

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.face_count == 4
    record = pipeline.records.get("uploads/team photo.jpg", str(upload.stored.version_id))
    assert record is not None
    assert (record.status, record.face_count, record.execution_arn) == (
        "DETECTED",
        4,
        outcome.execution_arn,
    )
    assert record.notified_at is not None
    [message] = outbox_messages(home)
    assert message["Subject"] == "4 faces found in uploads/team photo.jpg"
    assert message["To"] == "alice@example.com"
    body = message.get_content()
    assert "4 faces found in uploads/team photo.jpg" in body
    assert f"version {upload.stored.version_id}" in body
    # Offline, the email links to the execution's page in the local web console.
    link = f"http://127.0.0.1:8765/execution?arn={quote(outcome.execution_arn, safe='')}"
    assert link in body
    assert body.count("% sure;") == 4


def test_history_is_stored_live_and_shows_every_state(
    pipeline: LocalPipeline, samples: dict[str, Path]
) -> None:
    outcome = pipeline.upload(samples[PORTRAIT], "uploads/portrait.jpg").execution.result()  # type: ignore[union-attr]

    stored = pipeline.executions.get(outcome.execution_arn)
    history = pipeline.executions.history(outcome.execution_arn)
    assert stored is not None and stored.status == "SUCCEEDED"
    assert (stored.image_key, stored.bucket) == ("uploads/portrait.jpg", "facepipe-uploads")
    assert entered_states(history) == FACE_PATH
    assert [event["id"] for event in history] == list(range(1, len(history) + 1))
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == "ExecutionSucceeded"
    assert stored.output["detection"]["faceCount"] == 1
    assert stored.output["notification"]["sent"] is True


def test_a_running_execution_can_be_followed_from_the_store(
    home: DataHome, samples: dict[str, Path]
) -> None:
    """While Notify sends, the stored history already holds every earlier event."""
    seen: dict[str, Any] = {}

    class WatchingOutbox(MaildirOutbox):
        def send(self, email: Email) -> str:
            store = ExecutionStore(executions_db_path(home))  # a reader of its own
            [running] = store.list_executions(status="RUNNING")
            seen["status"] = running.status
            seen["states"] = entered_states(store.history(running.execution_arn))
            store.close()
            return super().send(email)

    outbox = WatchingOutbox(home.create().outbox, Addresses.from_env(MAIL_ENV))
    with LocalPipeline(home, PipelineOptions(workers=1), notifier=outbox, environ={}) as pipe:
        outcome = pipe.upload(samples[PORTRAIT], "uploads/p.jpg").execution.result()  # type: ignore[union-attr]

    assert outcome.status == "SUCCEEDED"
    assert seen == {"status": "RUNNING", "states": FACE_PATH}  # Notify entered, still sending


def test_no_face_image_ends_with_a_record_and_no_email(
    pipeline: LocalPipeline, home: DataHome, samples: dict[str, Path]
) -> None:
    upload = pipeline.upload(samples[NO_FACES], "uploads/coffee.jpeg")
    outcome = upload.execution.result()  # type: ignore[union-attr]

    assert (outcome.status, outcome.face_count) == ("SUCCEEDED", 0)
    record = pipeline.records.get("uploads/coffee.jpeg", str(upload.stored.version_id))
    assert record is not None and (record.status, record.face_count) == ("DETECTED", 0)
    assert record.notified_at is None
    assert outbox_messages(home) == []
    assert entered_states(pipeline.executions.history(outcome.execution_arn)) == NO_FACE_PATH


def test_png_named_jpg_is_judged_by_its_content(
    pipeline: LocalPipeline, samples: dict[str, Path]
) -> None:
    png = io.BytesIO()
    Image.open(samples[PORTRAIT]).save(png, "PNG")
    upload = pipeline.upload(png.getvalue(), "uploads/really-a-png.jpg")
    outcome = upload.execution.result()  # type: ignore[union-attr]

    assert (outcome.status, outcome.face_count) == ("SUCCEEDED", 1)
    record = pipeline.records.get("uploads/really-a-png.jpg", str(upload.stored.version_id))
    assert record is not None and record.status == "DETECTED"


def test_corrupt_image_ends_failed_with_a_readable_reason(
    pipeline: LocalPipeline, home: DataHome, samples: dict[str, Path]
) -> None:
    truncated = samples[PORTRAIT].read_bytes()[:2000]
    upload = pipeline.upload(truncated, "uploads/broken.jpg")
    outcome = upload.execution.result()  # type: ignore[union-attr]

    assert outcome.status == "FAILED"
    assert outcome.error == "InvalidImageFormatException"
    assert (
        outcome.cause is not None and "not a JPEG or PNG image, or it is damaged" in outcome.cause
    )
    record = pipeline.records.get("uploads/broken.jpg", str(upload.stored.version_id))
    assert record is not None
    assert (record.status, record.error) == ("FAILED", "InvalidImageFormatException")
    assert record.reason is not None and "corrupt or truncated" in record.reason
    stored = pipeline.executions.get(outcome.execution_arn)
    assert stored is not None and (stored.status, stored.error) == outcome_pair(outcome)
    history = pipeline.executions.history(outcome.execution_arn)
    assert entered_states(history) == FAILURE_PATH
    assert history[-1]["type"] == "ExecutionFailed"
    assert history[-1]["executionFailedEventDetails"]["error"] == "InvalidImageFormatException"
    assert outbox_messages(home) == []


def outcome_pair(outcome: Any) -> tuple[str, str]:
    return outcome.status, outcome.error


def test_the_same_event_twice_gives_one_record_and_one_email(
    pipeline: LocalPipeline, home: DataHome, samples: dict[str, Path]
) -> None:
    """EventBridge delivers at least once: the very event the upload made, delivered again."""
    first = pipeline.upload(samples[GROUP], "uploads/twice.jpg").execution.result()  # type: ignore[union-attr]
    event = pipeline.executions.get(first.execution_arn).input  # type: ignore[union-attr]
    assert event["detail"]["object"]["key"] == "uploads/twice.jpg"

    second = pipeline.run_event(event)

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert first.execution_arn != second.execution_arn
    assert second.output["record"]["outcome"] == "DUPLICATE"
    assert second.output["notification"] == {"sent": False, "messageId": None}
    records = [r for r in pipeline.records.list_records() if r.key == "uploads/twice.jpg"]
    assert len(records) == 1 and records[0].execution_arn == first.execution_arn
    assert len(outbox_messages(home)) == 1


def test_keys_outside_uploads_start_nothing(
    pipeline: LocalPipeline, samples: dict[str, Path]
) -> None:
    skipped = pipeline.upload(samples[PORTRAIT], "elsewhere/portrait.jpg")

    assert skipped.accepted is False
    assert pipeline.executions.list_executions() == []
    assert pipeline.objects.head("facepipe-uploads", "elsewhere/portrait.jpg").size > 0


def test_a_file_under_uploads_not_named_as_an_image_ends_failed_with_its_reason(
    pipeline: LocalPipeline,
) -> None:
    upload = pipeline.upload(b"GIF89a" + bytes(100), "uploads/animation.gif")

    outcome = upload.execution.result()  # type: ignore[union-attr]
    assert (outcome.status, outcome.error) == ("FAILED", "InvalidImageFormatException")
    (record,) = pipeline.records.list_records()
    assert (record.key, record.status) == ("uploads/animation.gif", "FAILED")
    assert "is not named as a JPEG or PNG image" in (record.reason or "")


def test_an_execution_left_by_a_killed_process_is_found(home: DataHome) -> None:
    """A process that dies mid-execution leaves a RUNNING row that ``abandoned`` reports."""
    script = textwrap.dedent(
        f"""
        import os
        from datetime import datetime, UTC
        from pathlib import Path
        from facepipe.local.executions import ExecutionStore
        store = ExecutionStore(Path({str(executions_db_path(home))!r}))
        store.start(execution_arn="arn:x:killed", name="killed", state_machine_arn="arn:sm",
                    bucket="b", image_key="uploads/k.jpg", version_id="v1", input={{}},
                    start_date=datetime.now(UTC))
        store.append_event("arn:x:killed", {{"id": 1, "type": "ExecutionStarted",
                           "timestamp": datetime.now(UTC), "previousEventId": 0}})
        os._exit(9)  # killed: no finish, no close
        """
    )
    subprocess.run([sys.executable, "-c", script], check=False)
    store = ExecutionStore(executions_db_path(home))

    [abandoned] = store.abandoned()
    assert (abandoned.execution_arn, abandoned.status) == ("arn:x:killed", "RUNNING")
    assert [event["type"] for event in store.history("arn:x:killed")] == ["ExecutionStarted"]
    store.close()


def test_history_is_written_whenever_the_engine_is_about_to_wait(home: DataHome) -> None:
    store = ExecutionStore(executions_db_path(home))
    store.start(
        execution_arn="arn:x:e1",
        name="e1",
        state_machine_arn="arn:sm",
        bucket="b",
        image_key="uploads/k.jpg",
        version_id="v1",
        input={},
        start_date=datetime.now(UTC),
    )
    writer = store.history_writer("arn:x:e1")
    stored_after: list[int] = []
    kinds = [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "SucceedStateEntered",
        "ExecutionSucceeded",
    ]
    for number, kind in enumerate(kinds, 1):
        writer({"id": number, "type": kind, "previousEventId": number - 1})
        stored_after.append(len(store.history("arn:x:e1")))

    # Stored up to each wait: the start, each task run, the retry's back-off, the end.
    assert stored_after == [1, 1, 1, 1, 1, 6, 7, 7, 9, 9, 9, 9, 13]
    store.close()
