"""The public face of the engine: a validated state machine and its executions."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from facepipe.engine import tasks
from facepipe.engine.clock import Clock, SystemClock
from facepipe.engine.definition import load as load_definition
from facepipe.engine.definition import substituted
from facepipe.engine.errors import TIMEOUT, Aborted, StatesError
from facepipe.engine.executor import ExecutionContext, ExecutionTimedOut, Runner
from facepipe.engine.history import EventListener, History, data_details, error_details
from facepipe.engine.maprun import InMemoryMapRunStore, MapRunApi, MapRunStore
from facepipe.engine.redrive import (
    UNSUCCESSFUL,
    ExecutionRecord,
    check_redrivable,
    checkpoint_from_history,
    describe_fields,
)
from facepipe.engine.sizes import PAYLOAD_LIMIT_BYTES, payload_text
from facepipe.engine.timestamps import format_timestamp

if TYPE_CHECKING:
    from facepipe.engine.objectstore import ObjectStore

# Seeding a Random costs tens of microseconds; one shared generator serves every execution.
_JITTER = random.Random()

# StartExecution's rule: 1-80 characters, none of whitespace, brackets, wildcards, special
# punctuation or control characters.
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def _check_execution_name(name: str) -> None:
    if not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise ValueError(
            f"invalid execution name {name!r}: use 1-80 characters without spaces, brackets, "
            'wildcards or any of " # % \\ ^ | ~ ` $ & , ; : /'
        )


LOCAL_ROLE_ARN = tasks.LOCAL_ROLE_ARN


@dataclass
class ExecutionResult:
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED (stopped by the host)
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    execution_arn: str = ""
    name: str = ""
    start_date: datetime | None = None
    stop_date: datetime | None = None
    input: Any = None
    # What a redrive needs besides the history: where each flow stopped (None: SUCCEEDED).
    checkpoint: dict[str, Any] | None = None
    definition: str = ""  # the execution's own definition text (substitutions applied)
    state_machine_arn: str = ""
    redrive_count: int = 0
    redrive_date: datetime | None = None

    def summary(self) -> dict[str, Any]:
        """The one-object form the command line prints."""
        if self.status == "SUCCEEDED":
            return {"status": self.status, "output": self.output}
        return {"status": self.status, "error": self.error, "cause": self.cause}

    def record(self) -> ExecutionRecord:
        """What the host keeps to redrive this execution later."""
        assert self.start_date is not None, "a result of run or redrive has its start date"
        return ExecutionRecord(
            execution_arn=self.execution_arn, name=self.name, status=self.status,
            input=self.input, start_date=self.start_date,
            stop_date=self.stop_date, history=self.history, checkpoint=self.checkpoint,
            definition=self.definition, redrive_count=self.redrive_count,
            redrive_date=self.redrive_date, state_machine_arn=self.state_machine_arn,
            output=self.output, error=self.error, cause=self.cause,
        )  # fmt: skip

    def describe(self, now: datetime) -> dict[str, Any]:
        """DescribeExecution's answer, redrive fields included (`now` for the window)."""
        return describe_record(self.record(), now)


def describe_record(record: ExecutionRecord, now: datetime) -> dict[str, Any]:
    """DescribeExecution's answer for a kept execution (dates as aware datetimes)."""
    answer: dict[str, Any] = {
        "executionArn": record.execution_arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": record.status,
        "startDate": record.start_date,
        "input": json.dumps(record.input, separators=(",", ":"), ensure_ascii=False),
        "inputDetails": {"included": True},
    }
    if record.stop_date is not None:
        answer["stopDate"] = record.stop_date
    if record.status == "SUCCEEDED":
        answer["output"] = json.dumps(record.output, separators=(",", ":"), ensure_ascii=False)
        answer["outputDetails"] = {"included": True}
    if record.error is not None:
        answer["error"] = record.error
    if record.cause is not None:
        answer["cause"] = record.cause
    answer.update(
        describe_fields(
            record.status,
            record.execution_type,
            record.start_date,
            record.stop_date,
            len(record.history),
            record.checkpoint is not None,
            record.redrive_count,
            record.redrive_date,
            now,
        )
    )
    return answer


class StateMachine:
    """A state machine definition, validated on construction (raises DefinitionError).

    Immutable afterwards: `run` may be called from many threads at once.
    """

    def __init__(
        self,
        definition: dict[str, Any] | str,
        substitutions: Mapping[str, str] | None = None,
        *,
        name: str = "facepipe-local",
        map_run_store: MapRunStore | None = None,
    ) -> None:
        self.flow = load_definition(definition, substitutions)
        # The definition as this machine runs it: an execution keeps it, so that a redrive
        # runs the execution's own definition even after the file changed.
        self.definition = substituted(definition, substitutions)
        self.name = name
        self.arn = f"arn:aws:states:{tasks.REGION}:{tasks.ACCOUNT}:stateMachine:{name}"
        # Where the Map Runs of DISTRIBUTED Map states and their child executions go.
        self.map_runs: MapRunStore = map_run_store or InMemoryMapRunStore()
        api = MapRunApi(self.map_runs)
        self.list_map_runs = api.list_map_runs
        self.describe_map_run = api.describe_map_run
        self.list_executions = api.list_executions
        self.describe_execution = api.describe_execution
        self.get_execution_history = api.get_execution_history
        self.logged_history = api.logged_history  # an EXPRESS child's logged events

    def run(
        self,
        input: Any,
        *,
        resolver: tasks.Resolver | None = None,
        execution_name: str | None = None,
        clock: Clock | None = None,
        on_event: EventListener | None = None,
        object_store: ObjectStore | None = None,
        stop: threading.Event | None = None,
    ) -> ExecutionResult:
        """Run one execution. ``stop``, once set, stops it as StopExecution does: each flow
        (a Map Run's children too) ends before its next state, the Map Run is aborted, and
        the execution ends ABORTED with its checkpoint, so it can be redriven."""
        clock = clock or SystemClock()
        name = tasks.new_request_id() if execution_name is None else execution_name
        _check_execution_name(name)
        arn = f"arn:aws:states:{tasks.REGION}:{tasks.ACCOUNT}:execution:{self.name}:{name}"
        try:
            input_text = payload_text(input, "execution input")
        except StatesError:
            raise ValueError(
                f"the execution input is larger than {PAYLOAD_LIMIT_BYTES} bytes"
            ) from None
        except (TypeError, ValueError) as bad:
            raise ValueError(f"the execution input is not JSON: {bad}") from None
        # The engine never mutates its data, so the input and $$.Execution.Input may share
        # this private copy; the caller's object is never touched.
        data = json.loads(input_text)
        history = History(clock, on_event)
        started = clock.now()
        shared = self._context(arn, name, data, started, 0, clock, history, resolver,
                               object_store)  # fmt: skip
        history.record(
            "ExecutionStarted", 0, data_details("input", input_text, roleArn=LOCAL_ROLE_ARN)
        )
        result = ExecutionResult(
            status="RUNNING", execution_arn=arn, name=name, start_date=started,
            history=history.events, input=data, definition=self.definition,
            state_machine_arn=self.arn,
        )  # fmt: skip
        runner = Runner(shared, self.flow, {}, previous_id=1)
        runner.stop_signals = () if stop is None else (stop,)
        return self._finish(result, runner, lambda: runner.run(data))

    def describe_execution_record(self, execution: ExecutionRecord, now: datetime) -> dict:
        """DescribeExecution of an execution the host kept, with its redrive fields
        (redriveStatus as of `now`)."""
        return describe_record(self._with_checkpoint(execution), now)

    def _with_checkpoint(self, execution: ExecutionRecord) -> ExecutionRecord:
        """The record, with a checkpoint read from its history when none was kept."""
        if execution.checkpoint is not None or execution.status not in UNSUCCESSFUL:
            return execution
        found = checkpoint_from_history(
            execution.history, self.flow.start_at, dict(self.flow.states), execution.input
        )
        return execution if found is None else replace(execution, checkpoint=found)

    def redrive(
        self,
        execution: ExecutionRecord,
        *,
        resolver: tasks.Resolver | None = None,
        clock: Clock | None = None,
        on_event: EventListener | None = None,
        object_store: ObjectStore | None = None,
        stop: threading.Event | None = None,
    ) -> ExecutionResult:
        """RedriveExecution: continue an unsuccessful STANDARD execution from where it
        stopped, with its own definition, history and ARN (see `redrive.py`).

        Raises `ApiError` (ExecutionNotRedrivable, InvalidArn) as the API refuses; `on_event`
        sees only the events the redrive adds. The result's history is the whole history.
        """
        clock = clock or SystemClock()
        now = clock.now()
        if execution.definition is not None and execution.definition != self.definition:
            # The execution's own definition, never the one the file holds now.
            own = StateMachine(execution.definition, name=self.name, map_run_store=self.map_runs)
            return own.redrive(
                execution, resolver=resolver, clock=clock, on_event=on_event,
                object_store=object_store, stop=stop,
            )  # fmt: skip
        execution = self._with_checkpoint(execution)
        check_redrivable(execution, now)
        checkpoint = execution.checkpoint
        assert checkpoint is not None  # checked above
        count = execution.redrive_count + 1
        history = History(clock, on_event, list(execution.history))
        data = execution.input
        shared = self._context(execution.execution_arn, execution.name, data,
                               execution.start_date, count, clock, history, resolver,
                               object_store)  # fmt: skip
        history.record("ExecutionRedriven", history.last_id, {"redriveCount": count})
        result = ExecutionResult(
            status="RUNNING", execution_arn=execution.execution_arn, name=execution.name,
            start_date=execution.start_date, history=history.events, input=data,
            definition=self.definition, state_machine_arn=self.arn, redrive_count=count,
            redrive_date=now,
        )  # fmt: skip
        runner = Runner(shared, self.flow, {}, previous_id=history.last_id)
        runner.stop_signals = () if stop is None else (stop,)
        return self._finish(result, runner, lambda: runner.run(data, checkpoint))

    def _context(
        self, arn: str, name: str, data: Any, started: datetime, redrive_count: int,
        clock: Clock, history: History, resolver: tasks.Resolver | None,
        object_store: ObjectStore | None,
    ) -> ExecutionContext:  # fmt: skip
        # TimeoutSeconds counts from the start, and again from each redrive ("the state
        # machine level timeout, if defined, is reset to 0").
        timeout = self.flow.timeout_seconds
        return ExecutionContext(
            execution={
                "Id": arn,
                "Input": data,
                "Name": name,
                "RoleArn": LOCAL_ROLE_ARN,
                "StartTime": format_timestamp(started),
                "RedriveCount": redrive_count,
            },
            state_machine={"Id": self.arn, "Name": self.name},
            clock=clock,
            history=history,
            resolver=resolver,
            rng=_JITTER,
            deadline=clock.now() + timedelta(seconds=timeout) if timeout else None,
            timeout_seconds=timeout,
            object_store=object_store,
            map_runs=self.map_runs,
        )

    def _finish(
        self, result: ExecutionResult, runner: Runner, execute: Callable[[], Any]
    ) -> ExecutionResult:
        history = runner.shared.history
        clock = runner.shared.clock
        try:
            output = execute()
        except ExecutionTimedOut as timed_out:
            result.status, result.error, result.cause = "TIMED_OUT", TIMEOUT, timed_out.cause
            result.checkpoint = runner.checkpoint
            history.record(
                "ExecutionTimedOut", history.last_id, error_details(TIMEOUT, timed_out.cause)
            )
        except StatesError as failure:
            result.status, result.error, result.cause = "FAILED", failure.error, failure.cause
            result.checkpoint = runner.checkpoint
            history.record(
                "ExecutionFailed", history.last_id, error_details(failure.error, failure.cause)
            )
        except Aborted:
            # Stopped by the host (the ``stop`` event), as StopExecution stops one.
            result.status, result.checkpoint = "ABORTED", runner.checkpoint
            history.record("ExecutionAborted", history.last_id)
        else:
            result.status, result.output = "SUCCEEDED", output
            history.record(
                "ExecutionSucceeded",
                history.last_id,
                data_details("output", payload_text(output, "execution output")),
            )
        result.stop_date = clock.now()
        return result
