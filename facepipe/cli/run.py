"""``facepipe run``, ``watch`` and ``resume``: images into the local pipeline, Ctrl-C handled."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from pathlib import Path

from facepipe.cli import views
from facepipe.cli.context import check_prefix, local_pipeline
from facepipe.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from facepipe.cli.results import FileResult
from facepipe.local.executions import ABORTED
from facepipe.local.intake import (
    NOT_UPLOADED,
    SKIPPED,
    Source,
    files_in_folder,
    files_named,
    folder_prefix,
)
from facepipe.local.outcome import ExecutionOutcome, Upload
from facepipe.local.runtime import LocalPipeline, Resumed

PROGRESS_THRESHOLD = 3  # a progress bar only for more images than this


# --- run -----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    check_prefix(args)
    rows = files_named(args.paths, args.prefix)
    if not rows:
        raise UsageError("no files to run: the folders given are empty")
    annotate_dir = _annotate_folder(args.annotate, rows, args.paths)
    results = [FileResult(row) for row in rows]
    with ctrl_c_flag() as stop, local_pipeline(args, stop) as pipeline:
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
            views.print_json([result.to_dict() for result in results])
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
    with ctrl_c_flag() as stop, local_pipeline(args, stop) as pipeline:
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
def ctrl_c_flag(stopping: str = STOPPING) -> Iterator[threading.Event]:
    """The first Ctrl-C sets the flag (``stopping`` said at once) so no upload or step stops
    half-way; a second one ends the process now, as a kill would (``resume`` picks up)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_ctrl_c(*_: object) -> None:
        if stop.is_set():
            os.write(sys.stderr.fileno(), STOPPED_NOW.encode())
            os._exit(EXIT_INTERRUPTED)
        stop.set()
        os.write(sys.stderr.fileno(), stopping.encode())

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
    from lambdas.domain.errors import StepError

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
    check_prefix(args)
    watcher = FolderWatcher(folder, include_existing=args.existing, settle_seconds=args.settle)
    tally = views.WatchTally(views.stdout_console())
    with ctrl_c_flag() as stop, local_pipeline(args, stop) as pipeline:
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
