"""The public face of the engine: a validated state machine and its executions."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from facepipe.engine import tasks
from facepipe.engine.clock import Clock, SystemClock
from facepipe.engine.definition import load as load_definition
from facepipe.engine.errors import TIMEOUT, StatesError
from facepipe.engine.executor import (
    PAYLOAD_LIMIT_BYTES,
    ExecutionContext,
    ExecutionTimedOut,
    Runner,
    payload_text,
)
from facepipe.engine.history import EventListener, History, data_details, error_details
from facepipe.engine.maprun import InMemoryMapRunStore, MapRunApi, MapRunStore
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


LOCAL_ROLE_ARN = f"arn:aws:iam::{tasks.ACCOUNT}:role/facepipe-local-engine"


@dataclass
class ExecutionResult:
    status: str  # SUCCEEDED | FAILED | TIMED_OUT
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    execution_arn: str = ""
    name: str = ""
    start_date: datetime | None = None
    stop_date: datetime | None = None

    def summary(self) -> dict[str, Any]:
        """The one-object form the command line prints."""
        if self.status == "SUCCEEDED":
            return {"status": self.status, "output": self.output}
        return {"status": self.status, "error": self.error, "cause": self.cause}


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

    def run(
        self,
        input: Any,
        *,
        resolver: tasks.Resolver | None = None,
        execution_name: str | None = None,
        clock: Clock | None = None,
        on_event: EventListener | None = None,
        object_store: ObjectStore | None = None,
    ) -> ExecutionResult:
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
        timeout = self.flow.timeout_seconds
        shared = ExecutionContext(
            execution={
                "Id": arn,
                "Input": data,
                "Name": name,
                "RoleArn": LOCAL_ROLE_ARN,
                "StartTime": format_timestamp(started),
                "RedriveCount": 0,
            },
            state_machine={"Id": self.arn, "Name": self.name},
            clock=clock,
            history=history,
            resolver=resolver,
            rng=_JITTER,
            deadline=started + timedelta(seconds=timeout) if timeout else None,
            timeout_seconds=timeout,
            object_store=object_store,
            map_runs=self.map_runs,
        )
        history.record(
            "ExecutionStarted", 0, data_details("input", input_text, roleArn=LOCAL_ROLE_ARN)
        )
        result = ExecutionResult(
            status="RUNNING", execution_arn=arn, name=name, start_date=started,
            history=history.events,
        )  # fmt: skip
        runner = Runner(shared, self.flow, {}, previous_id=1)
        try:
            output = runner.run(data)
        except ExecutionTimedOut as timed_out:
            result.status, result.error, result.cause = "TIMED_OUT", TIMEOUT, timed_out.cause
            history.record(
                "ExecutionTimedOut", history.last_id, error_details(TIMEOUT, timed_out.cause)
            )
        except StatesError as failure:
            result.status, result.error, result.cause = "FAILED", failure.error, failure.cause
            history.record(
                "ExecutionFailed", history.last_id, error_details(failure.error, failure.cause)
            )
        else:
            result.status, result.output = "SUCCEEDED", output
            history.record(
                "ExecutionSucceeded",
                history.last_id,
                data_details("output", payload_text(output, "execution output")),
            )
        result.stop_date = clock.now()
        return result
