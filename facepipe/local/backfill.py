"""The backfill offline: statemachine/backfill.asl.json on the local engine, over the local
bucket, and RedriveExecution of what failed.

The same definition the CDK app deploys, with local values for its substitutions; its
Distributed Map reads the local bucket (``EngineBucket``), keeps its Map Run and children in
the executions file (``SqliteMapRunStore``), and its Tasks run on local services: the three
step handlers (``lambda:invoke``, as every local run) and ``facepipe.local.sdk_integrations``
for S3, DynamoDB, Step Functions and SNS. A stop (Ctrl-C) stops it as StopExecution does:
the Map Run is aborted, the execution ends ABORTED, and a run again skips what is done.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from facepipe.engine import ApiError, Clock, ExecutionResult, StateMachine
from facepipe.local.clock import StoppableClock
from facepipe.local.engine_bucket import EngineBucket
from facepipe.local.events.bus import LOCAL_ACCOUNT
from facepipe.local.executions import BACKFILL, StoredExecution
from facepipe.local.sdk_integrations import backfill_integrations
from facepipe.resources import backfill_path

if TYPE_CHECKING:
    from collections.abc import Mapping

    from facepipe.local.executions import ExecutionStore, SqliteMapRunStore
    from facepipe.local.objectstore import LocalObjectStore
    from facepipe.local.recordstore import SqliteRecordStore
    from lambdas.domain.ports import Notifier


class HostOptions(Protocol):
    @property
    def bucket(self) -> str: ...

    @property
    def clock(self) -> Clock | None: ...


class Host(Protocol):
    """What the backfill needs of ``facepipe.local.runtime.LocalPipeline`` (a Protocol of
    its own, so this module never imports the runtime that builds it)."""

    @property
    def options(self) -> HostOptions: ...

    @property
    def stopping(self) -> threading.Event: ...

    @property
    def backfill(self) -> LocalBackfill: ...

    @property
    def executions(self) -> ExecutionStore: ...

    @property
    def map_runs(self) -> SqliteMapRunStore: ...

    @property
    def objects(self) -> LocalObjectStore: ...

    @property
    def records(self) -> SqliteRecordStore: ...

    @property
    def notifier(self) -> Notifier: ...

    @property
    def machine(self) -> StateMachine: ...

    @property
    def resolver(self) -> Mapping[str, Any]: ...


BACKFILL_MACHINE_NAME = "facepipe-backfill-local"
LOCAL_TABLE = "facepipe-records"
LOCAL_TOPIC = f"arn:aws:sns:local:{LOCAL_ACCOUNT}:facepipe-alerts"
FAILED = "FAILED"
RESULTS_PREFIX = "backfill-results"  # as infra/backfill.py: outside uploads/, never a trigger


@dataclass(frozen=True)
class BackfillRequest:
    prefix: str = "uploads/"
    notify_each: bool = False


def backfill_name(now: datetime) -> str:
    return "backfill-" + now.strftime("%Y%m%dT%H%M%S%fZ")


class LocalBackfill:
    """backfill.asl.json wired to one ``LocalPipeline``'s services."""

    def __init__(self, pipeline: Host, function_arns: Mapping[str, str]) -> None:
        """``function_arns``: the DetectFunctionArn, PersistFunctionArn and NotifyFunctionArn
        substitutions the pipeline's resolver answers."""
        self.pipeline = pipeline
        substitutions = {
            **function_arns,
            "BucketName": pipeline.options.bucket,
            "TableName": LOCAL_TABLE,
            "TopicArn": LOCAL_TOPIC,
            "ResultsPrefix": RESULTS_PREFIX,
        }
        definition = json.loads(backfill_path().read_text(encoding="utf-8"))
        self.machine = StateMachine(
            definition,
            substitutions,
            name=BACKFILL_MACHINE_NAME,
            map_run_store=pipeline.map_runs,
        )
        self.bucket = EngineBucket(pipeline.objects)
        self.resolver: dict[str, Any] = {
            **pipeline.resolver,
            **backfill_integrations(
                objects=pipeline.objects,
                records=pipeline.records,
                notifier=pipeline.notifier,
                machine=lambda: self.machine,
                table=LOCAL_TABLE,
                topic_arn=LOCAL_TOPIC,
            ),
        }

    def execution_arn(self, name: str) -> str:
        return self.machine.arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def start(self, request: BackfillRequest, name: str | None = None) -> str:
        """Record a RUNNING backfill execution (before it runs, so a follower can find it)."""
        name = name or backfill_name(datetime.now(UTC))
        arn = self.execution_arn(name)
        self.pipeline.executions.start(
            execution_arn=arn,
            name=name,
            state_machine_arn=self.machine.arn,
            bucket=self.pipeline.options.bucket,
            image_key=request.prefix,
            version_id="",
            input=_input(request),
            start_date=datetime.now(UTC),
            kind=BACKFILL,
            definition=self.machine.definition,
        )
        return arn

    def run(self, arn: str, request: BackfillRequest) -> ExecutionResult:
        """Run the started backfill ``arn`` to its end (or until the pipeline is stopped)."""
        stored = self.pipeline.executions.get(arn)
        assert stored is not None, "start() recorded it"
        history = self.pipeline.executions.history_writer(arn)
        try:
            result = self.machine.run(
                _input(request),
                resolver=self.resolver,
                execution_name=stored.name,
                clock=StoppableClock(
                    self.pipeline.options.clock, self.pipeline.stopping, raising=False
                ),
                on_event=history,
                object_store=self.bucket,
                stop=self.pipeline.stopping,
            )
        except Exception as failure:
            history.flush()
            # Not an ASL failure (those end in the result): still never leave it RUNNING.
            now = datetime.now(UTC)
            self.pipeline.executions.mark_stopped(
                arn, status="FAILED", stop_date=now, error=type(failure).__name__,
                cause=str(failure),
            )  # fmt: skip
            self.pipeline.map_runs.abort_unfinished(arn, now)
            raise
        history.flush()
        self.pipeline.executions.finish(result)
        return result


def _input(request: BackfillRequest) -> dict[str, Any]:
    return {"prefix": request.prefix, "notifyEach": request.notify_each}


# --- redrive -------------------------------------------------------------------------------
def redrive(pipeline: Host, execution_arn: str) -> ExecutionResult:
    """RedriveExecution of a stored execution (an upload's or a backfill's): the same
    execution, its history continued, from the state that did not succeed. Raises
    ``ApiError`` with Step Functions' code and message when it refuses."""
    stored = pipeline.executions.get(execution_arn)
    if stored is None:
        child = pipeline.map_runs.child(execution_arn)
        if child is not None and child.execution_type == "EXPRESS":
            raise ApiError(
                "InvalidArn",
                f"Invalid Arn: 'This operation is not supported by EXPRESS state machines: "
                f"{execution_arn}'",
            )
        if child is not None:  # a STANDARD child is run again by redriving its Map Run
            raise ApiError(
                "ExecutionNotRedrivable",
                "Execution is a child of a Map Run: redrive its parent execution "
                f"{pipeline.map_runs.map_run(child.map_run_arn).execution_arn}",  # type: ignore[union-attr]
            )
        raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{execution_arn}'")
    backfill = pipeline.backfill if stored.kind == BACKFILL else None
    machine = backfill.machine if backfill is not None else pipeline.machine
    record = stored.record(pipeline.executions.history(execution_arn))
    answer = machine.describe_execution_record(record, datetime.now(UTC))
    if answer.get("redriveStatus") != "REDRIVABLE":
        raise ApiError("ExecutionNotRedrivable", str(answer.get("redriveStatusReason")))
    if not pipeline.executions.begin_redrive(execution_arn):
        raise ApiError("ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven")
    history = pipeline.executions.history_writer(execution_arn)
    resolver = backfill.resolver if backfill is not None else pipeline.resolver
    try:
        result = machine.redrive(
            record,
            resolver=resolver,
            clock=StoppableClock(pipeline.options.clock, pipeline.stopping, raising=False),
            on_event=history,
            object_store=backfill.bucket if backfill is not None else None,
            stop=pipeline.stopping,
        )
    except ApiError:
        _restore(pipeline, stored)
        raise
    except BaseException:
        history.flush()
        _restore(pipeline, stored)
        raise
    history.flush()
    pipeline.executions.finish(result)
    return result


def _restore(pipeline: Host, stored: StoredExecution) -> None:
    pipeline.executions.mark_stopped(
        stored.execution_arn,
        status=stored.status,
        stop_date=datetime.fromisoformat(stored.stop_date) if stored.stop_date else None,
        output=stored.output,
        error=stored.error,
        cause=stored.cause,
    )


def redrivable_since(pipeline: Host, since: datetime) -> list[StoredExecution]:
    """The FAILED executions (uploads' and backfills') that stopped since ``since``."""
    return [
        found for found in pipeline.executions.unsuccessful_since(since) if found.status == FAILED
    ]
