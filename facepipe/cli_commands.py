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
from typing import TYPE_CHECKING, Any

from facepipe import cli_views as views
from facepipe.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from facepipe.local.executions import ABORTED
from facepipe.local.home import DataHome, resolve_home
from facepipe.local.intake import (
    NOT_UPLOADED,
    SKIPPED,
    Source,
    files_in_folder,
    files_named,
    folder_prefix,
)
from facepipe.local.runtime import (
    DEFAULT_BUCKET,
    ExecutionOutcome,
    LocalPipeline,
    PipelineOptions,
    Resumed,
    Upload,
    prefix_refusal,
    route_step_logs,
)
from lambdas.detect.handler import DetectConfig

if TYPE_CHECKING:
    from facepipe.local.undelivered import ResendResult, UndeliveredMail

PROGRESS_THRESHOLD = 3  # a progress bar only for more images than this
NOT_STARTED = "NOT_STARTED"  # Ctrl-C came before its upload or its execution started


@dataclass
class FileResult:
    """One row of ``facepipe run``: the file's intake row, and how its execution ended."""

    row: Source
    outcome: ExecutionOutcome | None = None
    annotated: Path | None = None
    annotate_error: str | None = None

    @property
    def key(self) -> str:
        return self.row.key

    @property
    def execution(self) -> Future[ExecutionOutcome] | None:
        return self.row.execution

    @property
    def status(self) -> str:
        if self.row.status is not None:
            return self.row.status
        if self.outcome is not None:
            return self.outcome.status
        return NOT_STARTED

    @property
    def reason(self) -> str | None:
        if self.row.status is not None:
            return self.row.reason
        if self.outcome is None:
            uploaded = self.row.upload is not None
            return f"interrupted before {'its execution started' if uploaded else 'its upload'}"
        return None

    @property
    def failed(self) -> bool:
        if self.row.status == NOT_UPLOADED:
            return True
        outcome = self.outcome
        return outcome is not None and not outcome.succeeded and outcome.status != ABORTED

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.row.label, "key": self.key}
        if self.outcome is not None:
            data.update(self.outcome.to_dict())
        else:
            data.update(status=self.status, reason=self.reason)
        data["annotated"] = str(self.annotated) if self.annotated else None
        if self.annotate_error:
            data["annotateError"] = self.annotate_error
        return data


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _home(args: argparse.Namespace) -> DataHome:
    return resolve_home(args.home)


def _existing_home(args: argparse.Namespace) -> DataHome:
    """The data home to read; a typo in --home is an error, not an empty listing."""
    home = _home(args)
    if not home.root.is_dir():
        raise UsageError(
            f"no data home at {home.root}: nothing has run there (check --home or "
            "FACEPIPE_HOME; `facepipe run IMAGE` starts one)"
        )
    return home


def _pipeline(args: argparse.Namespace, stop: threading.Event | None = None) -> LocalPipeline:
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
        bucket=_bucket(args),
        detector=args.detector,
        workers=args.workers,
        detect=detect,
    )
    return LocalPipeline(_home(args), options, stop=stop)


def _bucket(args: argparse.Namespace) -> str:
    from facepipe.local.objectstore import validate_bucket_name

    bucket = str(args.bucket or DEFAULT_BUCKET)
    validate_bucket_name(bucket)
    return bucket


def _check_prefix(args: argparse.Namespace) -> None:
    refusal = prefix_refusal(_bucket(args), args.prefix)
    if refusal is not None:
        raise UsageError(refusal)


# --- run -----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    _check_prefix(args)
    rows = files_named(args.paths, args.prefix)
    if not rows:
        raise UsageError("no files to run: the folders given are empty")
    annotate_dir = _annotate_folder(args.annotate, rows, args.paths)
    results = [FileResult(row) for row in rows]
    with ctrl_c_flag() as stop, _pipeline(args, stop) as pipeline:
        resumed = _resume(pipeline)
        show_progress = not args.json and sys.stderr.isatty() and len(rows) > PROGRESS_THRESHOLD
        with views.progress(len(rows), enabled=show_progress) as advance:

            def settled(row: Source) -> None:
                if row.execution is None:
                    advance()
                else:
                    row.execution.add_done_callback(lambda _: advance())

            # At most two executions per worker wait: a long batch is read as it runs.
            pipeline.take_in(rows, force=args.force, queue_limit=2 * args.workers, on_row=settled)
            _wait_for(results, stop)
        if stop.is_set():
            pipeline.cancel_pending()  # queued executions do not start; running ones finish
            _collect(results)
        if annotate_dir is not None:
            _annotate(pipeline, results, annotate_dir, args.prefix)
        if args.json:
            print_json([result.to_dict() for result in results])
        else:
            _print_run(pipeline, results, annotate_dir)
        _report_resumed(resumed, stop)
        _report_unsent(pipeline)
    if stop.is_set():
        print(interrupted_summary(results), file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(result.failed for result in results) else EXIT_OK


def _annotate_folder(raw: str | None, rows: list[Source], paths: list[str]) -> Path | None:
    """The --annotate folder, made now; refused when it holds an input or lies inside a
    folder being run (its copies would be taken as new images next time)."""
    if raw is None:
        return None
    folder = Path(raw)
    target = folder.resolve()
    for named in paths:
        if Path(named).is_dir() and target.is_relative_to(Path(named).resolve()):
            raise UsageError(
                f"--annotate {raw} is inside {named}, which is being run: the boxed copies "
                "would be run as new images next time; choose a folder outside it"
            )
    for row in rows:
        if row.path is not None and row.path.resolve().is_relative_to(target):
            raise UsageError(
                f"--annotate {raw} holds an input, {row.label}: a boxed copy could replace "
                "it; choose another folder"
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--annotate {raw}: cannot make the folder: {error.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--annotate {raw}: cannot write into the folder")
    return folder


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
    with ctrl_c_flag() as stop, _pipeline(args, stop) as pipeline:
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


STOPPING = (
    "\nfacepipe: stopping: steps already running finish; executions waiting to retry and "
    "those queued are left to `facepipe resume`. Ctrl-C again stops now.\n"
)
STOPPED_NOW = "\nfacepipe: stopped now; `facepipe resume` finishes what was left.\n"


@contextmanager
def ctrl_c_flag() -> Iterator[threading.Event]:
    """The first Ctrl-C sets the flag (said at once) so no upload or step stops half-way;
    a second one ends the process now, as a kill would (``resume`` picks up after it)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_ctrl_c(*_: object) -> None:
        if stop.is_set():
            os.write(sys.stderr.fileno(), STOPPED_NOW.encode())
            os._exit(EXIT_INTERRUPTED)
        stop.set()
        os.write(sys.stderr.fileno(), STOPPING.encode())

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_for(results: list[FileResult], stop: threading.Event) -> None:
    pending = {r.execution for r in results if r.execution is not None}
    while pending and not stop.is_set():
        _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
    _collect(results)


def _collect(results: list[FileResult]) -> None:
    for result in results:
        upload = result.row.upload
        if upload is None or (future := upload.execution) is None:
            continue
        if future.done() and not future.cancelled():
            result.outcome = _outcome_of(future, upload)


def interrupted_summary(results: list[FileResult]) -> str:
    started = [r for r in results if r.execution is not None]
    finished = sum(r.outcome is not None and r.outcome.status != ABORTED for r in started)
    handed = sum(r.outcome is not None and r.outcome.status == ABORTED for r in started)
    unstarted = len(started) - finished - handed
    not_uploaded = sum(
        r.row.claim is not None and r.row.status is None and r.row.upload is None for r in results
    )
    return (
        f"interrupted: {finished} execution(s) finished; {handed + unstarted} left to "
        f"`facepipe resume` (or the next run or watch): {handed} stopped while waiting to "
        f"retry, {unstarted} queued, their images in the bucket; "
        f"{not_uploaded} file(s) not uploaded"
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


def _annotate(
    pipeline: LocalPipeline, results: list[FileResult], folder: Path, prefix: str
) -> None:
    """A boxed copy of each image recorded, named by its key under the prefix (unique in a
    batch), never over an existing file."""
    from facepipe.annotate import annotate_image
    from lambdas.common.errors import StepError

    for result in results:
        outcome, upload = result.outcome, result.row.upload
        if outcome is None or not outcome.succeeded or upload is None:
            continue
        record = pipeline.records.get(outcome.key, outcome.version_id)
        if record is None:
            continue
        name = result.key.removeprefix(folder_prefix(prefix))
        try:
            data = pipeline.objects.get_bytes(outcome.bucket, outcome.key, outcome.version_id)
            result.annotated = annotate_image(data, record.faces, folder / name)
        except (OSError, ValueError, StepError) as error:  # a full disk; Pillow cannot draw it
            result.annotate_error = f"not annotated: {getattr(error, 'strerror', None) or error}"


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

    def say(text: str) -> None:
        console.print(text, soft_wrap=True, markup=False)

    for result in results:
        if result.row.status is not None:
            verb = "skipped" if result.row.status == SKIPPED else "not uploaded"
            say(f"{verb} {result.row.label}: {result.reason}")
        if result.annotate_error:
            say(f"{result.row.label}: {result.annotate_error}")
    if annotated is not None:
        written = sum(r.annotated is not None for r in results)
        say(
            f"annotated: {written} image(s) written to {annotated}"
            if written
            else f"annotated: none written to {annotated} (no image ran to a record)"
        )
    say(f"records: {pipeline.records.path}\n{pipeline.notifier.where}")


# --- watch ---------------------------------------------------------------------------------
def watch(args: argparse.Namespace) -> int:
    from facepipe.local.watcher import FolderWatcher

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"no such folder: {args.folder}")
    _check_prefix(args)
    watcher = FolderWatcher(folder, include_existing=args.existing, settle_seconds=args.settle)
    tally = views.WatchTally(views.stdout_console())
    with ctrl_c_flag() as stop, _pipeline(args, stop) as pipeline:
        tally.say(f"watching {folder} and its subfolders (Ctrl-C to stop)")
        _resume(pipeline)
        while not stop.wait(args.interval):
            found = watcher.poll()
            if found:
                rows = files_in_folder(folder, found, args.prefix)
                pipeline.take_in(rows, on_row=lambda row: _tell(tally, row))
        tally.say(f"stopping: finishing {tally.in_progress} execution(s) already started")
        pipeline.cancel_pending()  # queued ones and those waiting to retry: left to resume
    tally.say(tally.summary())
    return EXIT_FAILED if tally.failed else EXIT_OK


def _tell(tally: views.WatchTally, row: Source) -> None:
    if row.status is not None:
        tally.not_taken(row.label, row.reason or "", failed=row.status == NOT_UPLOADED)
        return
    upload = row.upload
    if upload is None or upload.execution is None:
        return
    tally.started()

    def ended(done: Future[ExecutionOutcome]) -> None:
        if done.cancelled():  # queued when watch stopped: its event is left to resume
            tally.left_to_resume(row.key)
        else:
            tally.finished(_outcome_of(done, upload))

    upload.execution.add_done_callback(ended)


# --- records, show, outbox -------------------------------------------------------------------
def records(args: argparse.Namespace) -> int:
    from facepipe.local.recordstore import SqliteRecordStore

    home = _existing_home(args)
    found, total = [], 0
    if home.records_db.exists():
        store = SqliteRecordStore(home.records_db)
        try:
            total = store.count_records(faces_only=args.faces_only)
            limit = max(total, 1) if args.all else args.limit
            found = store.list_records(limit=limit, faces_only=args.faces_only)
        finally:
            store.close()
    shown = f"{len(found)} of {total} record(s)" + (" with faces" if args.faces_only else "")
    more = "; --limit N or --all shows more" if len(found) < total else ""
    if args.json:
        print_json([record.to_dict() for record in found])
        if more:  # stdout stays the JSON list; the count goes where a person sees it
            print(f"facepipe: {shown}, newest first{more}", file=sys.stderr)
    else:
        views.stdout_console().print(views.records_table(found, f"{shown}, newest first{more}"))
    return EXIT_OK


def show(args: argparse.Namespace) -> int:
    from facepipe.local.executions import ExecutionStore, executions_db_path
    from facepipe.local.recordstore import SqliteRecordStore

    home = _existing_home(args)
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

    home = _existing_home(args)
    undelivered = UndeliveredMail(home.undelivered)
    retried = _retry_unsent(home, undelivered) if args.retry else []
    messages = list_outbox(home.outbox)
    unsent = undelivered.unsent()
    status = EXIT_FAILED if any(r.error for r in retried) else EXIT_OK
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
                    "to": list(u.delivery.recipients) if u.delivery else None,
                    "via": u.delivery.describe() if u.delivery else None,
                    "reason": u.reason,
                    "attempts": u.attempts,
                    "firstFailedAt": u.first_failed_at,
                    "lastFailedAt": u.last_failed_at,
                }
                for u in unsent
            ]
        )
        for result in retried:
            if result.refused:
                print(f"facepipe: not sent: {result.error}", file=sys.stderr)
        return status
    console = views.stdout_console()
    for result in retried:
        if result.error is None:
            delivery = result.unsent.delivery
            verdict = f"sent to {', '.join(delivery.recipients)}" if delivery else "sent"
        else:
            verdict = f"{'not sent' if result.refused else 'still not sent'}: {result.error}"
        console.print(f"{result.unsent.email.subject}: {verdict}", soft_wrap=True, markup=False)
    console.print(views.outbox_table(messages, lambda key: _message_path(home, key)))
    if unsent:
        console.print(views.unsent_table(unsent))
        console.print("`facepipe outbox --retry` sends them", soft_wrap=True, markup=False)
    console.print(f"outbox: {home.outbox}", soft_wrap=True, markup=False)
    return status


def _retry_unsent(home: DataHome, undelivered: UndeliveredMail) -> list[ResendResult]:
    """Send the kept emails the way each was meant to go; mark their records emailed."""
    from facepipe.local.notifier import notifiers_for_kept_mail
    from facepipe.local.recordstore import SqliteRecordStore
    from facepipe.local.undelivered import resend_undelivered

    results = resend_undelivered(undelivered, notifiers_for_kept_mail(home))
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
    """DetectFaces' answer for one file plus the ``file`` as given, or the error Rekognition
    would give."""
    from facepipe.local.detection import detect_faces_in_bytes
    from lambdas.common.errors import StepError

    try:
        data = file.read_bytes()
    except OSError as error:  # gone or unreadable meanwhile: this file's answer, not a crash
        return {"file": str(file), "error": {"Code": "UnreadableFile", "Message": str(error)}}
    try:
        faces = detect_faces_in_bytes(data, attributes, detector)
    except StepError as error:
        return {"file": str(file), "error": {"Code": type(error).__name__, "Message": error.reason}}
    return {"file": str(file), "FaceDetails": faces}
