"""What each ``facepipe`` sub-command does (parsing lives in facepipe.cli)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from facepipe import cli_views as views
from facepipe.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from facepipe.local.home import DataHome, resolve_home
from facepipe.local.runtime import (
    DEFAULT_BUCKET,
    ExecutionOutcome,
    LocalPipeline,
    PipelineOptions,
    Resumed,
    Upload,
    accepted_key_patterns,
    route_step_logs,
)
from lambdas.detect.handler import DetectConfig

PROGRESS_THRESHOLD = 3  # a progress bar only for more images than this
NOT_STARTED = "NOT_STARTED"  # uploaded, but Ctrl-C came before its execution started


@dataclass
class FileResult:
    """One input file: its upload, and how its execution ended (None when skipped)."""

    file: Path
    upload: Upload | None  # None: not uploaded, as it was run already (``skipped`` says)
    key: str
    outcome: ExecutionOutcome | None = None
    annotated: Path | None = None
    skipped: str | None = None

    @property
    def execution(self) -> Future[ExecutionOutcome] | None:
        return self.upload.execution if self.upload is not None else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": str(self.file), "key": self.key}
        if self.upload is None:
            data.update(status="SKIPPED", reason=self.skipped)
        elif self.upload.execution is None:
            data.update(status="SKIPPED", reason=skip_reason(self.key))
        elif self.outcome is None:
            data.update(status=NOT_STARTED, reason="interrupted before its execution started")
        else:
            data.update(self.outcome.to_dict())
        data["annotated"] = str(self.annotated) if self.annotated else None
        return data


def skip_reason(key: str) -> str:
    return f"the upload rule does not take {key!r}; it takes keys like " + ", ".join(
        accepted_key_patterns()
    )


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _home(args: argparse.Namespace) -> DataHome:
    return resolve_home(args.home)


def _pipeline(args: argparse.Namespace) -> LocalPipeline:
    from facepipe.local.detection import get_finder

    route_step_logs(logging.INFO if args.verbose else logging.WARNING)
    get_finder(args.detector)  # an unknown or missing detector is a usage error, up front
    # As the detect Lambda reads its settings; a flag stands in for its variable.
    flags = {"MIN_CONFIDENCE": args.min_confidence, "FACE_ATTRIBUTES": args.attributes}
    environ = {name: value for name, value in os.environ.items() if flags.get(name) is None}
    detect = DetectConfig.from_env(environ)
    if args.min_confidence is not None:
        detect = replace(detect, min_confidence=args.min_confidence)
    if args.attributes is not None:
        detect = replace(detect, attributes=args.attributes)
    options = PipelineOptions(
        bucket=args.bucket or DEFAULT_BUCKET,
        detector=args.detector,
        workers=args.workers,
        detect=detect,
    )
    return LocalPipeline(_home(args), options)


def object_key(prefix: str, file: Path) -> str:
    """``<prefix>/<file name>``; a prefix is taken as a folder ("uploads" means "uploads/")."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix + file.name


def image_files(paths: list[str]) -> list[Path]:
    """The files named, and the (non-hidden) files directly inside the folders named."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {raw}")
    if not files:
        raise UsageError("no files to run: the folders given are empty")
    unreadable = [str(f) for f in files if not os.access(f, os.R_OK)]
    if unreadable:
        raise UsageError(f"cannot read: {', '.join(unreadable)}")
    return files


# --- run -----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    files = image_files(args.paths)
    annotate_dir = Path(args.annotate) if args.annotate else None
    results: list[FileResult] = []
    with ctrl_c_flag() as stop, _pipeline(args) as pipeline:
        resumed = _resume(pipeline)
        batch = [(file, object_key(args.prefix, file)) for file in files]
        # Run again after a crash, the batch must not run what resume just ran or queued.
        already = {file: pipeline.already_run(file, key) for file, key in batch}
        to_upload = [(file, key) for file, key in batch if already[file] is None]
        planned = iter(pipeline.plan_uploads(to_upload))
        for file, key in batch:
            if stop.is_set():
                break
            if already[file] is not None:
                results.append(FileResult(file, None, key, skipped=already[file]))
                continue
            upload = pipeline.upload(file, key, planned=next(planned))
            results.append(FileResult(file, upload, key))
        _wait_for(results, stop, show_progress=not args.json and sys.stderr.isatty())
        if stop.is_set():
            pipeline.cancel_pending()  # queued executions do not start; running ones finish
            _collect(results)
        if annotate_dir is not None:
            _annotate(pipeline, results, annotate_dir)
        if args.json:
            print_json([result.to_dict() for result in results])
        else:
            _print_run(pipeline, results, annotate_dir)
        _report_resumed(resumed, stop)
        _report_unsent(pipeline)
    if stop.is_set():
        print(interrupted_summary(results, len(files)), file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = any(r.outcome is not None and not r.outcome.succeeded for r in results)
    return EXIT_FAILED if failed else EXIT_OK


def _resume(pipeline: LocalPipeline) -> Resumed:
    """Pick up what a killed runner left, before anything new; say so when there was any."""
    resumed = pipeline.resume()
    if resumed.anything:
        print(resumed.summary(), file=sys.stderr)
    return resumed


def _report_resumed(resumed: Resumed, stop: threading.Event) -> None:
    if not resumed.executions:
        return
    while not stop.is_set() and not all(f.done() for f in resumed.executions):
        wait(resumed.executions, timeout=0.2)
    finished = [f for f in resumed.executions if f.done() and not f.cancelled()]
    failed = sum(f.exception() is not None or not f.result().succeeded for f in finished)
    print(
        f"resumed executions: {len(finished) - failed} succeeded, {failed} failed, "
        f"{len(resumed.executions) - len(finished)} not finished",
        file=sys.stderr,
    )


def _report_unsent(pipeline: LocalPipeline) -> None:
    unsent = pipeline.undelivered.unsent()
    if unsent:
        print(
            f"{len(unsent)} email(s) could not be sent and are kept in "
            f"{pipeline.undelivered.folder}; `facepipe outbox` lists them, "
            "`facepipe outbox --retry` sends them",
            file=sys.stderr,
        )


# --- resume --------------------------------------------------------------------------------
def resume(args: argparse.Namespace) -> int:
    with ctrl_c_flag() as stop, _pipeline(args) as pipeline:
        resumed = pipeline.resume()
        print(resumed.summary())
        _report_resumed(resumed, stop)
        _report_unsent(pipeline)
        if stop.is_set():
            pipeline.cancel_pending()
    finished = [f for f in resumed.executions if f.done() and not f.cancelled()]
    if stop.is_set():
        return EXIT_INTERRUPTED
    failed = any(f.exception() is not None or not f.result().succeeded for f in finished)
    return EXIT_FAILED if failed else EXIT_OK


@contextmanager
def ctrl_c_flag() -> Iterator[threading.Event]:
    """Ctrl-C sets the flag instead of raising, so no upload or execution stops half-way."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_for(results: list[FileResult], stop: threading.Event, *, show_progress: bool) -> None:
    pending = {r.execution for r in results if r.execution is not None}
    enabled = show_progress and len(pending) > PROGRESS_THRESHOLD
    with views.progress(len(pending), enabled=enabled) as advance:
        while pending and not stop.is_set():
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for _ in done:
                advance()
    _collect(results)


def _collect(results: list[FileResult]) -> None:
    for result in results:
        if result.upload is None or (future := result.upload.execution) is None:
            continue
        if future.done() and not future.cancelled():
            result.outcome = _outcome_of(future, result.upload)


def interrupted_summary(results: list[FileResult], file_count: int) -> str:
    started = [r for r in results if r.execution is not None]
    finished = sum(r.outcome is not None for r in started)
    return (
        f"interrupted: {finished} execution(s) finished, {len(started) - finished} queued "
        f"one(s) not started (their images are in the bucket: `facepipe resume` runs them, "
        "as does the next run or watch), "
        f"{file_count - len(results)} file(s) not uploaded"
    )


def _outcome_of(future: Future[ExecutionOutcome], upload: Upload) -> ExecutionOutcome:
    """The execution's outcome; an error outside the state machine counts as a failure."""
    try:
        return future.result()
    except Exception as error:
        stored = upload.stored
        return ExecutionOutcome(
            execution_arn="",
            bucket=stored.bucket,
            key=stored.key,
            version_id=str(stored.version_id),
            status="FAILED",
            start_date=None,
            stop_date=None,
            error=type(error).__name__,
            cause=str(error),
        )


def _annotate(pipeline: LocalPipeline, results: list[FileResult], folder: Path) -> None:
    from facepipe.annotate import annotate_image

    for result in results:
        outcome = result.outcome
        if outcome is None or not outcome.succeeded:
            continue
        record = pipeline.records.get(outcome.key, outcome.version_id)
        if record is None:
            continue
        result.annotated = annotate_image(
            result.file.read_bytes(), record.faces, folder / result.file.name
        )


def _print_run(pipeline: LocalPipeline, results: list[FileResult], annotated: Path | None) -> None:
    console = views.stdout_console()
    console.print(views.run_table(results))
    ran = [r for r in results if r.outcome is not None and r.outcome.execution_arn]
    if len(ran) == 1 and len(results) == 1:
        views.print_execution_graph(
            console,
            pipeline.definition,
            pipeline.executions.history(ran[0].outcome.execution_arn),  # type: ignore[union-attr]
            ran[0].key,
        )
    for result in results:
        if result.execution is None:
            why = result.skipped or skip_reason(result.key)
            console.print(
                f"skipped {result.file}: {why}",
                soft_wrap=True,
                markup=False,
            )
    if annotated is not None:
        console.print(f"annotated images: {annotated}", soft_wrap=True, markup=False)
    console.print(
        f"records: {pipeline.records.path}\noutbox: {pipeline.home.outbox}",
        soft_wrap=True,
        markup=False,
    )


# --- watch ---------------------------------------------------------------------------------
def watch(args: argparse.Namespace) -> int:
    from facepipe.local.watcher import FolderWatcher

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"no such folder: {args.folder}")
    watcher = FolderWatcher(folder, include_existing=args.existing, settle_seconds=args.settle)
    tally = views.WatchTally(views.stdout_console())
    with ctrl_c_flag() as stop, _pipeline(args) as pipeline:
        tally.say(f"watching {folder} (Ctrl-C to stop)")
        _resume(pipeline)
        while not stop.wait(args.interval):
            for path in watcher.poll():
                if stop.is_set():
                    break  # what is not uploaded yet is left for the next run
                _hand_over(pipeline, path, args.prefix, tally)
        tally.say(f"stopping: finishing {tally.in_progress} execution(s) already started")
    tally.say(tally.summary())
    return EXIT_FAILED if tally.failed else EXIT_OK


def _hand_over(pipeline: LocalPipeline, path: Path, prefix: str, tally: views.WatchTally) -> None:
    key = object_key(prefix, path)
    try:
        already = pipeline.already_run(path, key)  # e.g. --existing after a restart
        if already is not None:
            tally.skipped(path, already)
            return
        upload = pipeline.upload(path, key)
    except FileNotFoundError:
        tally.say(f"{path.name} disappeared before it could be uploaded")
        return
    except OSError as error:  # e.g. not readable: tell, and keep watching the others
        tally.say(f"{path.name} could not be uploaded: {error.strerror or error}")
        return
    if upload.execution is None:
        tally.skipped(path, skip_reason(upload.stored.key))
        return
    tally.started()
    upload.execution.add_done_callback(lambda done: tally.finished(_outcome_of(done, upload)))


# --- records, show, outbox -------------------------------------------------------------------
def records(args: argparse.Namespace) -> int:
    from facepipe.local.recordstore import SqliteRecordStore

    home = _home(args)
    found = []
    if home.records_db.exists():
        store = SqliteRecordStore(home.records_db)
        found = store.list_records(limit=args.limit, faces_only=args.faces_only)
        store.close()
    if args.json:
        print_json([record.to_dict() for record in found])
    else:
        views.stdout_console().print(views.records_table(found))
    return EXIT_OK


def show(args: argparse.Namespace) -> int:
    from facepipe.local.executions import ExecutionStore, executions_db_path
    from facepipe.local.recordstore import SqliteRecordStore

    home = _home(args)
    record, execution, history = None, None, []
    if home.records_db.exists():
        store = SqliteRecordStore(home.records_db)
        record = store.get(args.key, args.version) if args.version else store.get_latest(args.key)
        store.close()
    if executions_db_path(home).exists():
        executions = ExecutionStore(executions_db_path(home))
        version = args.version or (record.version_id if record else None)
        found = executions.for_image(args.key, version)
        if found:
            execution, history = found[0], executions.history(found[0].execution_arn)
        executions.close()
    if record is None and execution is None:
        raise UsageError(f"nothing recorded for key {args.key!r}; `facepipe records` lists keys")
    if args.json:
        print_json(
            {
                "record": record.to_dict() if record else None,
                "execution": execution.to_dict() if execution else None,
                "history": history,
            }
        )
        return EXIT_OK
    views.print_show(views.stdout_console(), record, execution, history)
    return EXIT_OK


def outbox(args: argparse.Namespace) -> int:
    from facepipe.local.notifier import list_outbox
    from facepipe.local.undelivered import UndeliveredMail

    home = _home(args)
    undelivered = UndeliveredMail(home.undelivered)
    retried = _retry_unsent(home, undelivered) if args.retry else []
    messages = list_outbox(home.outbox)
    unsent = undelivered.unsent()
    if args.json:
        print_json(
            [
                {
                    "status": "SENT",
                    "id": m.id,
                    "date": m.date.isoformat(),
                    "to": m.to,
                    "subject": m.subject,
                    "messageId": m.message_id,
                    "path": str(_message_path(home, m.id)),
                }
                for m in messages
            ]
            + [
                {
                    "status": "UNSENT",
                    "subject": u.email.subject,
                    "imageVersion": u.email.dedup_id,
                    "reason": u.reason,
                    "attempts": u.attempts,
                    "firstFailedAt": u.first_failed_at,
                    "lastFailedAt": u.last_failed_at,
                }
                for u in unsent
            ]
        )
        return EXIT_FAILED if any(r.error for r in retried) else EXIT_OK
    console = views.stdout_console()
    for result in retried:
        verdict = "sent" if result.error is None else f"still not sent: {result.error}"
        console.print(f"{result.unsent.email.subject}: {verdict}", soft_wrap=True, markup=False)
    console.print(views.outbox_table(messages, lambda key: _message_path(home, key)))
    if unsent:
        console.print(views.unsent_table(unsent))
        console.print("`facepipe outbox --retry` sends them", soft_wrap=True, markup=False)
    console.print(f"outbox: {home.outbox}", soft_wrap=True, markup=False)
    return EXIT_FAILED if any(r.error for r in retried) else EXIT_OK


def _retry_unsent(home: DataHome, undelivered: Any) -> list[Any]:
    """Send the kept emails through the configured notifier; mark their records emailed."""
    from facepipe.local.notifier import notifier_from_env
    from facepipe.local.recordstore import SqliteRecordStore
    from facepipe.local.undelivered import resend_undelivered

    results = resend_undelivered(notifier_from_env(home.create()), undelivered)
    store = SqliteRecordStore(home.records_db)
    claimant = "facepipe outbox --retry"
    try:
        for result in results:
            if result.error is None and result.message_id is not None:
                key, version = _image_version(result.unsent.email.dedup_id)
                # Recorded as sent, as the Notify step records it: nothing sends it again.
                if store.claim_notification(key, version, claimant=claimant):
                    store.mark_notification_sent(key, version, result.message_id, claimant)
    finally:
        store.close()
    return results


def _image_version(dedup_id: str) -> tuple[str, str]:
    """``bucket/key#version`` (lambdas.common.face_email) as (key, version)."""
    bucket_and_key, _, version = dedup_id.rpartition("#")
    return bucket_and_key.partition("/")[2], version


def _message_path(home: DataHome, key: str) -> Path:
    """Where the Maildir keeps a message: new/ until a mail client reads it, then cur/."""
    unread = home.outbox / "new" / key
    if unread.exists():
        return unread
    read = sorted((home.outbox / "cur").glob(f"{key}:*"))
    return read[0] if read else unread


# --- detect --------------------------------------------------------------------------------
def detect(args: argparse.Namespace) -> int:
    from facepipe.local.detection import get_finder

    files = [Path(name) for name in args.images]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    get_finder(args.detector)  # an unknown or missing detector is a usage error, up front
    answers = [detect_file(f, args.attributes, args.detector) for f in files]
    if args.json:
        print_json(answers)
    else:
        views.stdout_console().print(views.detect_table(answers))
    return EXIT_FAILED if any("error" in answer for answer in answers) else EXIT_OK


def detect_file(file: Path, attributes: str, detector: str) -> dict[str, Any]:
    """DetectFaces' answer for one file plus its ``key``, or the error Rekognition would give."""
    from facepipe.local.detection import detect_faces_in_bytes
    from lambdas.common.errors import StepError

    try:
        faces = detect_faces_in_bytes(file.read_bytes(), attributes, detector)
    except StepError as error:
        return {"key": file.name, "error": {"Code": type(error).__name__, "Message": error.reason}}
    return {"key": file.name, "FaceDetails": faces}
