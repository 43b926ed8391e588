"""The offline pipeline: the deployed ASL file run by the local engine, wired to local services.

    local bucket put -> "Object Created" event -> upload rule (statemachine/upload_rule.json)
    -> an execution of statemachine/face_pipeline.asl.json on a worker pool -> the same
    create_handler() step logic as the Lambdas (lambdas/<step>/step.py), on SQLite / the
    local detector / the outbox.

Every execution is stored with its history as it happens (facepipe.local.executions).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from facepipe.engine import Clock, ExecutionResult, StateMachine
from facepipe.local.clock import RunnerStopped, StoppableClock
from facepipe.local.detection import LocalDetector
from facepipe.local.events.bus import (
    LOCAL_ACCOUNT,
    LocalEventBus,
    S3EventSource,
    load_upload_rule,
    object_created_shape,
)
from facepipe.local.executions import (
    ABORTED,
    BACKFILL,
    ExecutionStore,
    PendingEvent,
    StoredExecution,
    executions_db_path,
)
from facepipe.local.faults import FaultPlan, faults_from_env, with_detector_faults
from facepipe.local.home import DataHome
from facepipe.local.intake import Intake, RowListener, Source
from facepipe.local.mail.notifier import check_mail_settings, notifier_from_env
from facepipe.local.mail.undelivered import KeepingUnsent, UndeliveredMail
from facepipe.local.objectstore import (
    InvalidObjectName,
    LocalObjectStore,
    validate_bucket_name,
    validate_key,
)
from facepipe.local.outcome import ExecutionOutcome, Upload
from facepipe.local.recordstore import SqliteRecordStore
from facepipe.resources import state_machine_path
from lambdas.detect.step import DetectConfig
from lambdas.detect.step import create_handler as create_detect_step
from lambdas.domain.errors import StepError
from lambdas.domain.ports import FaceAttributes, Notifier
from lambdas.notify.step import NotifyConfig
from lambdas.notify.step import create_handler as create_notify_step
from lambdas.persist.step import PersistConfig
from lambdas.persist.step import create_handler as create_persist_step

if TYPE_CHECKING:
    from facepipe.local.backfill import LocalBackfill

DEFAULT_BUCKET = "facepipe-uploads"
STATE_MACHINE_NAME = "facepipe-local"
UPLOAD_RULE_NAME = "facepipe-upload"
FUNCTION_NAMES = {
    "DetectFunctionArn": "facepipe-detect",
    "PersistFunctionArn": "facepipe-persist",
    "NotifyFunctionArn": "facepipe-notify",
}


def local_function_arn(function_name: str) -> str:
    return f"arn:aws:lambda:local:{LOCAL_ACCOUNT}:function:{function_name}"


def function_arn_substitutions() -> dict[str, str]:
    """The DefinitionSubstitutions the CDK stack fills with real ARNs, filled with local ones."""
    return {name: local_function_arn(function) for name, function in FUNCTION_NAMES.items()}


LOCAL_CONSOLE_URL = "http://127.0.0.1:8765"
"""Where ``facepipe console`` serves by default; FACEPIPE_CONSOLE_URL overrides it for links."""


def local_execution_reference(execution_arn: str) -> str:
    """Where the email points offline: the execution's page in the local web console."""
    base = os.environ.get("FACEPIPE_CONSOLE_URL", LOCAL_CONSOLE_URL).rstrip("/")
    return f"{base}/execution?arn={quote(execution_arn, safe='')}"


def default_workers() -> int:
    return os.cpu_count() or 1


def detect_config(
    min_confidence: float | None = None,
    attributes: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> DetectConfig:
    """FACE_ATTRIBUTES and MIN_CONFIDENCE, as the detect Lambda reads them; a value given
    (a command-line flag) stands in for its variable, which is then not read at all."""
    flags = {"MIN_CONFIDENCE": min_confidence, "FACE_ATTRIBUTES": attributes}
    environ = os.environ if environ is None else environ
    detect = DetectConfig.from_env(
        {name: value for name, value in environ.items() if flags.get(name) is None}
    )
    if min_confidence is not None:
        detect = replace(detect, min_confidence=min_confidence)
    if attributes is not None:
        detect = replace(detect, attributes=cast(FaceAttributes, attributes))
    return detect


@dataclass(frozen=True)
class PipelineOptions:
    bucket: str = DEFAULT_BUCKET
    detector: str = "auto"
    workers: int = field(default_factory=default_workers)
    detect: DetectConfig = field(default_factory=detect_config)
    persist: PersistConfig = field(default_factory=PersistConfig)
    notify: NotifyConfig = field(
        default_factory=lambda: NotifyConfig(execution_url=local_execution_reference)
    )
    # The engine's clock: None is the system clock; a FakeClock makes retry waits instant.
    clock: Clock | None = None


@dataclass(frozen=True)
class Resumed:
    """What ``LocalPipeline.resume`` picked up from a runner that stopped mid-batch."""

    executions: list[Future[ExecutionOutcome]]  # one per upload run again
    aborted: list[str]  # ARNs of executions the dead runner left RUNNING, now ABORTED
    uploaded: int = 0  # files the dead runner was to upload and had not: uploaded now
    # Such files that could not be uploaded now (gone meanwhile, unreadable), with why.
    not_uploaded: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"resumed {len(self.executions)} executions ({len(self.aborted)} interrupted "
            f"mid-run, now ABORTED; {self.uploaded} for files not uploaded before)"
        )
        if self.not_uploaded:
            text += f"; {len(self.not_uploaded)} file(s) could not be uploaded: " + ", ".join(
                self.not_uploaded
            )
        return text

    @property
    def anything(self) -> bool:
        return bool(self.executions or self.aborted or self.not_uploaded)


class LocalPipeline:
    """The local services, the state machine and a worker pool, wired as in AWS.

    Thread-safe: uploads may come from any thread; executions run on the pool.
    """

    def __init__(
        self,
        home: DataHome,
        options: PipelineOptions | None = None,
        *,
        notifier: Notifier | None = None,
        faults: FaultPlan | None = None,
        environ: Mapping[str, str] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """``stop``, once set, ends executions waiting to retry (see ``stop``)."""
        # Settings first: a mistake in one stops here, before a new home is made.
        self.options = options or PipelineOptions()
        if self.options.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.options.workers}")
        plan = faults if faults is not None else faults_from_env(environ)
        if notifier is None:
            check_mail_settings(environ)
        self.home = home.create()
        self.records = SqliteRecordStore(home.records_db, faults=plan)
        self.executions = ExecutionStore(executions_db_path(home))
        # Map Runs (a backfill's Distributed Map) and their children, in the executions file:
        # read them with the backfill machine's list_map_runs / describe_map_run /
        # list_executions (``self.backfill.machine``), or this store directly.
        self.map_runs = self.executions.map_runs
        self._backfill: LocalBackfill | None = None
        self.undelivered = UndeliveredMail(home.undelivered)
        self.notifier = KeepingUnsent(
            notifier or notifier_from_env(home, environ, faults=plan), self.undelivered
        )
        self.bus = LocalEventBus()
        self.objects = LocalObjectStore(
            home.buckets, on_object_created=S3EventSource(self.bus), faults=plan
        )
        self.detector = with_detector_faults(
            LocalDetector(self.objects, self.options.detector), plan
        )
        self.definition = json.loads(state_machine_path().read_text(encoding="utf-8"))
        self.machine = StateMachine(
            self.definition, function_arn_substitutions(), name=STATE_MACHINE_NAME
        )
        self.resolver = self._step_handlers()
        self._upload_rule = load_upload_rule(self.options.bucket)
        self.bus.add_rule(UPLOAD_RULE_NAME, self._upload_rule, self._start_from_event)
        self._pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="facepipe-exec")
        self._this_upload = threading.local()
        self._stopping = stop or threading.Event()
        self._clock = StoppableClock(self.options.clock, self._stopping)
        self._intake = Intake(self)

    @property
    def stopping(self) -> threading.Event:
        """Set once this runner is stopping (``stop``)."""
        return self._stopping

    @property
    def backfill(self) -> LocalBackfill:
        """backfill.asl.json on this pipeline's services (built on first use)."""
        if self._backfill is None:
            from facepipe.local.backfill import LocalBackfill

            self._backfill = LocalBackfill(self, function_arn_substitutions())
        return self._backfill

    def redrive(self, execution_arn: str) -> ExecutionResult:
        """RedriveExecution of a stored execution (``facepipe.local.backfill.redrive``)."""
        from facepipe.local.backfill import redrive

        return redrive(self, execution_arn)

    def _step_handlers(self) -> dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]]:
        options = self.options
        steps = {
            "facepipe-detect": create_detect_step(self.detector, options.detect),
            "facepipe-persist": create_persist_step(self.records, options.persist),
            "facepipe-notify": create_notify_step(self.records, self.notifier, options.notify),
        }
        return {local_function_arn(name): step for name, step in steps.items()}

    # --- uploading -------------------------------------------------------------------------
    def plan_uploads(self, files: list[tuple[Path, str]]) -> list[int]:
        """Durably note a batch of ``(file, key)`` before uploading it, so a runner killed
        mid-batch leaves the rest to ``resume``; pass each id to ``upload``.

        Names S3 would refuse are refused here, before anything is noted: a leftover that
        can never be uploaded would otherwise stand in front of every later run.
        """
        validate_bucket_name(self.options.bucket)
        for _, key in files:
            validate_key(key)
        # Absolute paths: a resume may start from another folder.
        noted = [(str(path.resolve()), key) for path, key in files]
        return self.executions.uploads.plan(self.options.bucket, noted)

    def take_in(
        self,
        rows: list[Source],
        *,
        force: bool = False,
        queue_limit: int | None = None,
        on_row: RowListener | None = None,
    ) -> list[Source]:
        """The one intake (``facepipe.local.intake``): claim the rows' files, then upload each
        claimed one; its execution, when the rule starts one, is on ``row.execution``.

        ``force`` runs again what is recorded already; ``queue_limit`` keeps at most that
        many of the batch's executions waiting or running before the next upload. Once this
        runner is stopping, nothing more is uploaded.
        """
        return self._intake.take_in(
            rows, force=force, stop=self._stopping, queue_limit=queue_limit, on_row=on_row
        )

    def rule_takes(self, key: str) -> bool:
        """Whether the upload rule would start an execution for an upload of ``key``."""
        return self._upload_rule.matches(object_created_shape(self.options.bucket, key))

    def upload(self, source: Path | bytes, key: str, *, planned: int | None = None) -> Upload:
        """Put a file (or bytes) into the bucket under ``key``; the rule decides what runs."""
        data = Path(source) if not isinstance(source, bytes) else source
        # put_object delivers the event on this thread; the rule's target leaves its future here.
        self._this_upload.started = None
        self._this_upload.planned = planned
        try:
            stored = self.objects.put_object(self.options.bucket, key, data)
            if planned is not None and self._this_upload.started is None:
                self.executions.uploads.done(planned)  # the rule skipped it (else add_pending)
            return Upload(stored, self._this_upload.started)
        finally:
            self._this_upload.started = None
            self._this_upload.planned = None

    def _start_from_event(self, event: dict[str, Any]) -> None:
        """The upload rule's target: start an execution with the event as its input.

        The event is stored as pending first, so a runner killed before the execution ends
        leaves it for ``resume``.
        """
        pending_id = str(event.get("id") or uuid.uuid4())
        planned = getattr(self._this_upload, "planned", None)
        self.executions.pending.add(pending_id, event, planned_upload=planned)
        self._this_upload.started = self._pool.submit(
            self.run_event, event, pending_event_id=pending_id
        )

    # --- resuming after a crash ------------------------------------------------------------
    def resume(self) -> Resumed:
        """Run again what a killed runner of this data home left: its pending uploads, including
        the executions it left RUNNING (each marked ABORTED first, its email claim released).

        Safe because persist is idempotent and order-safe, and the local notifier delivers
        each image version's email once even if the dead runner had already sent it.
        """
        pending = self.executions.pending.take_orphaned()
        aborted: list[str] = []
        for execution in self.executions.abandoned():
            if execution.kind == BACKFILL:
                self._abort_backfill(execution)  # run again, it skips what it did
                continue
            if not self._abort_abandoned(execution):
                continue  # another process is resuming it
            aborted.append(execution.execution_arn)
            # Its pending event (taken here, or by another resumer) runs it again; only one
            # started without any (run_event called directly) is queued anew.
            if not self.executions.pending.waiting_for(execution.execution_arn):
                event_id = f"resume-{execution.name}"
                self.executions.pending.add(event_id, execution.input)
                pending.append(PendingEvent(event_id, execution.input, execution.execution_arn))
        futures = [
            self._pool.submit(self.run_event, p.event, pending_event_id=p.event_id) for p in pending
        ]
        uploaded, not_uploaded = self._upload_orphaned_files(futures)
        return Resumed(futures, aborted, uploaded, not_uploaded)

    def _upload_orphaned_files(
        self, futures: list[Future[ExecutionOutcome]]
    ) -> tuple[int, list[str]]:
        """Upload the files a dead runner had noted and not uploaded; ``(uploaded, not
        uploaded with why)``. Each is done either way, so none blocks later runs."""
        uploaded, not_uploaded = 0, []
        for upload_id, source, key in self.executions.uploads.take_orphaned(self.options.bucket):
            try:
                upload = self.upload(Path(source), key, planned=upload_id)
            except (OSError, InvalidObjectName) as error:
                reason = error.strerror if isinstance(error, OSError) else str(error)
                not_uploaded.append(f"{source} ({reason or error})")
                self.executions.uploads.done(upload_id)
                continue
            uploaded += 1
            if upload.execution is not None:
                futures.append(upload.execution)
        return uploaded, not_uploaded

    def _abort_backfill(self, execution: StoredExecution) -> None:
        cause = (
            f"The runner (process {execution.owner_pid}) stopped before this backfill ended; "
            "`facepipe backfill` again skips the images it did."
        )
        if self.executions.abort(execution.execution_arn, error="Runner.Stopped", cause=cause):
            self.map_runs.abort_unfinished(execution.execution_arn, datetime.now(UTC))

    def _abort_abandoned(self, execution: StoredExecution) -> bool:
        return self._abort(
            execution.execution_arn,
            execution.image_key,
            execution.version_id,
            f"The runner (process {execution.owner_pid}) stopped before this execution "
            "ended; its upload was run again as a new execution.",
        )

    def _abort(self, arn: str, key: str, version: str, cause: str) -> bool:
        """End a RUNNING execution as ABORTED (False if it was not RUNNING), after releasing
        its email claim, which may be on an email it never sent, so the re-run sends it."""
        _retrying_transient(lambda: self.records.release_notification(key, version, claimant=arn))
        return self.executions.abort(arn, error="Runner.Stopped", cause=cause)

    def _hand_over(self, arn: str, bucket: str, key: str, version: str) -> ExecutionOutcome:
        """An execution stopped in a retry wait: ABORTED, its event left to the next runner
        (``cancel_pending`` hands it back), which runs the upload again."""
        cause = (
            "Stopped (Ctrl-C) while waiting to retry a step; its upload is left to "
            "`facepipe resume` (or the next run or watch), which runs it again."
        )
        self._abort(arn, key, version, cause)
        return ExecutionOutcome(
            execution_arn=arn,
            bucket=bucket,
            key=key,
            version_id=version,
            status=ABORTED,
            start_date=None,
            stop_date=datetime.now(UTC),
            error="Runner.Stopped",
            cause=cause,
        )

    # --- executing -------------------------------------------------------------------------
    def run_event(
        self,
        event: dict[str, Any],
        *,
        execution_name: str | None = None,
        pending_event_id: str | None = None,
    ) -> ExecutionOutcome:
        """Run the state machine for one "Object Created" event, here, storing as it goes.

        ``pending_event_id`` names the stored pending event this execution resolves; it is
        removed in the same write that records how the execution ended.
        """
        name = execution_name or str(uuid.uuid4())
        arn = execution_arn(self.machine, name)
        bucket, key, version = _image_of(event)
        self.executions.start(
            execution_arn=arn,
            name=name,
            state_machine_arn=self.machine.arn,
            bucket=bucket,
            image_key=key,
            version_id=version,
            input=event,
            start_date=datetime.now(UTC),
            pending_event_id=pending_event_id,
        )
        history = self.executions.history_writer(arn)
        try:
            result = self.machine.run(
                event,
                resolver=self.resolver,
                execution_name=name,
                on_event=history,
                clock=self._clock,
            )
        except RunnerStopped:
            history.flush()
            return self._hand_over(arn, bucket, key, version)
        except Exception as failure:
            history.flush()
            # Not an ASL failure (those end in the result): still never leave it RUNNING.
            self.executions.mark_stopped(
                arn,
                status="FAILED",
                stop_date=datetime.now(UTC),
                error=type(failure).__name__,
                cause=str(failure),
                pending_event_id=pending_event_id,
            )
            raise
        history.flush()
        self.executions.finish(result, pending_event_id=pending_event_id)
        return _outcome(result, bucket, key, version)

    def stop(self) -> None:
        """Upload nothing more, and end at once the executions waiting to retry a step
        (ABORTED, for the next runner to run again); the others finish their step."""
        self._stopping.set()

    def cancel_pending(self) -> None:
        """Stop (``stop``), start no more executions, and wait for the running ones.

        The queued ones' images are in the bucket already, so their events are left for the
        next runner (``resume``, or the next run or watch), as S3 would still deliver them;
        this run's files not yet uploaded are forgotten.
        """
        self.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.executions.stop_unstarted()

    def close(self) -> None:
        """Finish the executions already started, then release the files."""
        self._pool.shutdown(wait=True)
        self.objects.close()
        self.records.close()
        self.executions.close()

    def __enter__(self) -> LocalPipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _retrying_transient(action: Callable[[], None], attempts: int = 10) -> None:
    """Run ``action``, again after a transient store error (e.g. an injected fault)."""
    for attempt in range(attempts):
        try:
            action()
            return
        except StepError:
            if attempt == attempts - 1:
                raise


def execution_arn(machine: StateMachine, name: str) -> str:
    """The ARN the engine gives an execution of ``machine`` named ``name`` (as AWS forms it)."""
    return machine.arn.replace(":stateMachine:", ":execution:") + f":{name}"


def _image_of(event: dict[str, Any]) -> tuple[str, str, str]:
    detail = event.get("detail", {})
    obj = detail.get("object", {})
    return (
        str(detail.get("bucket", {}).get("name", "")),
        str(obj.get("key", "")),
        str(obj.get("version-id") or "null"),
    )


def _outcome(result: ExecutionResult, bucket: str, key: str, version: str) -> ExecutionOutcome:
    return ExecutionOutcome(
        execution_arn=result.execution_arn,
        bucket=bucket,
        key=key,
        version_id=version,
        status=result.status,
        start_date=result.start_date,
        stop_date=result.stop_date,
        output=result.output,
        error=result.error,
        cause=result.cause,
    )


UNNAMED_SERVICE = "service_undefined"  # what Powertools logs without POWERTOOLS_SERVICE_NAME
LOCAL_SERVICE_NAME = "facepipe-local"


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time (it may be replaced, e.g. by pytest)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def route_step_logs(level: int | str = logging.WARNING) -> None:
    """Send the steps' Powertools logs to stderr at ``level``, keeping stdout for results."""
    from lambdas.runtime.observability import logger

    logger.setLevel(level)
    if logger.service == UNNAMED_SERVICE:  # no POWERTOOLS_SERVICE_NAME, as in a Lambda
        logger.append_keys(service=LOCAL_SERVICE_NAME)
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler) and not isinstance(
        handler.stream, _CurrentStderr
    ):
        # Not setStream(): it flushes the old stream, which may be closed by now.
        with handler.lock or threading.Lock():
            handler.stream = _CurrentStderr()
