"""A DISTRIBUTED Map state as a Map Run: child workflow executions of their own.

The parent history gets `MapStateStarted`, `MapRunStarted` (`mapRunArn`), then
`MapRunSucceeded`, `MapRunFailed` (`error`, `cause`) or `MapRunAborted`, then
`MapStateSucceeded`/`MapStateFailed`, as AWS records them; the children's events go to
their own histories (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html).

Items come from the state input or an ItemReader (lazily), are grouped by an ItemBatcher into
`{"Items": [...], "BatchInput": ...}`, run as children at most MaxConcurrency at a time on
the worker pool, counted against the tolerated-failure thresholds as they finish (the run
fails as soon as they are exceeded: running children are aborted before their next state,
the rest stay pending), and written by a ResultWriter when there is one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from facepipe.engine import tasks
from facepipe.engine.errors import (
    EXCEED_TOLERATED_FAILURE,
    Aborted,
    RuntimeFailure,
    StatesError,
)
from facepipe.engine.history import History, data_details, error_details, to_json
from facepipe.engine.item_reader import ReaderPlan, read_items
from facepipe.engine.maprun import (
    ABORTED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    ChildExecution,
    MapRun,
)
from facepipe.engine.redrive import MAP_RUN_REDRIVE_LIMIT
from facepipe.engine.result_writer import ResultFiles, WriterPlan
from facepipe.engine.sizes import payload_text
from facepipe.engine.tasks import LOCAL_ROLE_ARN
from facepipe.engine.timestamps import format_timestamp

if TYPE_CHECKING:
    from facepipe.engine.definition import Flow
    from facepipe.engine.executor import Runner

# Child executions running at once when MaxConcurrency is 0 (AWS allows 10,000; threads here).
DISTRIBUTED_CONCURRENCY_CAP = 40
EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"
BATCH_BYTES_LIMIT = 262_144


@dataclass(frozen=True)
class BatchPlan:
    """An ItemBatcher worked out for one attempt (None: that limit is not set)."""

    max_items: int | None
    max_bytes: int | None
    batch_input: Any  # None when the state gives no BatchInput


@dataclass(frozen=True)
class DistributedPlan:
    """What only a DISTRIBUTED Map has; the callables run after MapStateStarted."""

    execution_type: str
    label: str | None
    tolerance: Callable[[], tuple[float | None, int | None]]
    reader: Callable[[], ReaderPlan] | None = None
    batcher: Callable[[], BatchPlan] | None = None
    writer: Callable[[], WriterPlan] | None = None


def run_map_run(
    runner: Runner,
    name: str,
    flow: Flow,
    items: list[Any] | None,
    item_input: Callable[[int, Any], Any],
    limit: int,
    plan: DistributedPlan,
) -> Any:
    """Run the Map Run of one attempt; the Map state's result (or a StatesError)."""
    shared = runner.shared
    runner.record("MapStateStarted", {"length": 0 if items is None else len(items)})
    percentage, count = plan.tolerance()
    reader = plan.reader() if plan.reader is not None else None
    batcher = plan.batcher() if plan.batcher is not None else None
    writer = plan.writer() if plan.writer is not None else None

    machine = str(shared.state_machine["Name"]).split("/")[0]
    prefix = f"arn:aws:states:{tasks.REGION}:{tasks.ACCOUNT}"
    store = shared.map_runs
    run = _redriven_run(runner, name)
    if run is not None:
        # A redrive of the parent redrives its Map Run: the same run, its unsuccessful
        # children run again, the succeeded ones' results kept (redrive-map-run.html).
        if run.redrive_count >= MAP_RUN_REDRIVE_LIMIT:
            raise RuntimeFailure(
                f"The Map Run {run.map_run_arn} has been redriven {run.redrive_count} times, "
                f"the most a Map Run can be."
            )
        label = run.state_machine_arn.rsplit("/", 1)[1]
        previous = {c.index: c for c in store.children_of(run.map_run_arn) if c.index is not None}
        run.redriven(shared.clock.now())
        store.save_map_run(run)
        redriven = {"mapRunArn": run.map_run_arn, "redriveCount": run.redrive_count}
        runner.record("MapRunRedriven", redriven)
    else:
        label = plan.label or str(uuid.uuid4())
        run = MapRun(
            map_run_arn=f"{prefix}:mapRun:{machine}/{label}:{uuid.uuid4()}",
            execution_arn=str(shared.execution["Id"]),
            state_machine_arn=f"{prefix}:stateMachine:{machine}/{label}",
            max_concurrency=limit,
            tolerated_failure_percentage=percentage or 0.0,
            tolerated_failure_count=count or 0,
            start_date=shared.clock.now(),
        )
        previous = {}
        store.save_map_run(run)
        runner.record("MapRunStarted", {"mapRunArn": run.map_run_arn})
    # What a redrive of the parent needs: which Map Run to redrive.
    runner.fan_out[name] = {"mapRunArn": run.map_run_arn}
    lanes = _Lanes(runner, flow, run, plan.execution_type, label, prefix, machine, previous)
    results = ResultFiles(writer) if writer is not None and writer.bucket is not None else None
    try:
        source = iter(items) if items is not None else read_items(shared.object_store, reader)  # type: ignore[arg-type]
        inputs = (item_input(index, item) for index, item in enumerate(source))
        outcome = lanes.run(_batches(inputs, batcher), limit, items, percentage, count, results)
    except StatesError as failure:
        if results is not None and failure.error == EXCEED_TOLERATED_FAILURE:
            # The children's results are written even when the run fails (FAILED, PENDING).
            # (A failure to write them is not reported: the run's own error is the one.)
            with contextlib.suppress(StatesError):
                results.write(shared.object_store, run.map_run_arn)
                run.results_written(run.execution_counts["total"], run.item_counts["total"])
        if results is not None:
            results.close()
        _finish(runner, run, "MapRunFailed", FAILED, error_details(failure.error, failure.cause))
        raise
    except Aborted:
        _finish(runner, run, "MapRunAborted", ABORTED, None)
        raise
    if results is not None:
        try:
            output: Any = results.write(shared.object_store, run.map_run_arn)
        except StatesError as failure:
            details = error_details(failure.error, failure.cause)
            _finish(runner, run, "MapRunFailed", FAILED, details)
            raise
        run.results_written(run.execution_counts["total"], run.item_counts["total"])
    else:
        output = outcome
        if writer is not None:  # WriterConfig only: it shapes the state's output
            output = _shaped(outcome, writer.transformation)
    _finish(runner, run, "MapRunSucceeded", SUCCEEDED, None)
    runner.record("MapStateSucceeded")
    return output


def _redriven_run(runner: Runner, name: str) -> MapRun | None:
    """On a redrive, the unsuccessful Map Run of the attempt that stopped (once only)."""
    previous = runner.redriving.pop(name, None)
    if not isinstance(previous, dict) or "mapRunArn" not in previous:
        return None
    run = runner.shared.map_runs.map_run(previous["mapRunArn"])
    return run if run is not None and run.status != SUCCEEDED else None


def _finish(runner: Runner, run: MapRun, event: str, status: str, details: Any) -> None:
    runner.previous_id = runner.shared.history.last_id
    run.status, run.stop_date = status, runner.shared.clock.now()
    runner.shared.map_runs.save_map_run(run)
    runner.record(event, details)


def _shaped(outputs: list[Any], transformation: str) -> list[Any]:
    if transformation != "FLATTEN":
        return outputs
    flat: list[Any] = []
    for output in outputs:
        flat.extend(output if isinstance(output, list) else [output])
    return flat


def _batches(inputs: Iterator[Any], batcher: BatchPlan | None) -> Iterator[tuple[Any, int]]:
    """(child input, item count): one per item, or `{"Items", "BatchInput"}` per batch."""
    if batcher is None:
        for value in inputs:
            yield value, 1
        return
    size_limit = min(batcher.max_bytes or BATCH_BYTES_LIMIT, BATCH_BYTES_LIMIT)
    base = {} if batcher.batch_input is None else {"BatchInput": batcher.batch_input}
    overhead = len(to_json({**base, "Items": []}).encode())
    batch: list[Any] = []
    size = overhead
    for value in inputs:
        item_bytes = len(to_json(value).encode()) + (1 if batch else 0)
        full = batcher.max_items is not None and len(batch) >= batcher.max_items
        if batch and (full or size + item_bytes > size_limit):
            yield {**base, "Items": batch}, len(batch)
            batch, size = [], overhead
            item_bytes -= 1
        batch.append(value)
        size += item_bytes
    if batch:
        yield {**base, "Items": batch}, len(batch)


class _Lanes:
    """The children of one Map Run, run on pooled threads."""

    def __init__(
        self, runner: Runner, flow: Flow, run: MapRun, execution_type: str, label: str,
        prefix: str, machine: str, previous: dict[int, ChildExecution],
    ) -> None:  # fmt: skip
        self.runner = runner
        self.flow = flow
        self.run_record = run
        self.execution_type = execution_type
        self.prefix = prefix
        self.machine = machine
        self.label = label
        self.stop = threading.Event()
        # On a redrive: the children of the run so far, by index.
        self.previous = previous

    def run(
        self,
        batches: Iterator[tuple[Any, int]],
        limit: int,
        items: list[Any] | None,
        percentage: float | None,
        count: int | None,
        results: ResultFiles | None,
    ) -> list[Any]:
        outputs: dict[int, Any] = {}
        taking = threading.Lock()
        counter = itertools.count()
        failed_items = [0]
        exceeded = threading.Event()
        escaped: list[StatesError] = []
        total = None if items is None else len(items)

        def take() -> tuple[int, Any, int] | None:
            with taking:
                if self.stop.is_set() or any(s.is_set() for s in self.runner.stop_signals):
                    return None
                try:
                    batch = next(batches, None)
                except StatesError as failure:  # the reader failed
                    escaped.append(failure)
                    self.stop.set()
                    return None
                if batch is None:
                    return None
                return next(counter), batch[0], batch[1]

        def over(failed: int, known_total: int | None) -> bool:
            if count is not None and failed > count:
                return True
            if percentage is None:
                return count is None and failed > 0
            return known_total is not None and 100.0 * failed / max(known_total, 1) > percentage

        def lane() -> None:
            while True:
                taken = take()
                if taken is None:
                    return
                index, child_input, item_count = taken
                child = self.previous.get(index)
                if child is None or child.status != SUCCEEDED:
                    child = self.child(index, child_input, item_count, child)
                if child.status == SUCCEEDED:
                    if results is None:
                        outputs[index] = _loaded(child.output)
                else:
                    if results is None:
                        outputs[index] = {"Error": child.error, "Cause": child.cause}
                        if child.cause is None:
                            del outputs[index]["Cause"]
                    with taking:
                        failed_items[0] += item_count
                        if child.status != ABORTED and over(failed_items[0], total):
                            exceeded.set()
                            self.stop.set()
                if results is not None:
                    with taking:
                        results.add(child)

        cap = limit or DISTRIBUTED_CONCURRENCY_CAP
        if total is not None:
            cap = max(1, min(cap, total))
        from facepipe.engine import workers

        workers.run_lanes(cap, lane)
        if escaped:
            raise escaped[0]
        if any(signal.is_set() for signal in self.runner.stop_signals):
            raise Aborted
        pending = list(batches) if self.stop.is_set() else []
        for child_input, item_count in pending:
            self.run_record.count(item_count, None, PENDING)
            if results is not None:
                results.add(self.never_started(child_input, item_count))
        final_total = self.run_record.item_counts["total"]
        if exceeded.is_set() or over(failed_items[0], final_total):
            raise StatesError(EXCEED_TOLERATED_FAILURE, EXCEEDED_CAUSE)
        return [outputs[i] for i in sorted(outputs)]

    def never_started(self, child_input: Any, item_count: int) -> ChildExecution:
        return ChildExecution(
            execution_arn="", name="", state_machine_arn=self.run_record.state_machine_arn,
            map_run_arn=self.run_record.map_run_arn, execution_type=self.execution_type,
            item_count=item_count, input=to_json(child_input),
            start_date=self.runner.shared.clock.now(), status=PENDING,
        )  # fmt: skip

    def child(
        self, index: int, child_input: Any, item_count: int, before: ChildExecution | None
    ) -> ChildExecution:
        """Run one child workflow execution to its end, with its own history; `before` is
        the same child unsuccessful before a redrive: a STANDARD one is redriven (same ARN,
        its history continued from ExecutionRedriven), an EXPRESS one starts again."""
        parent = self.runner.shared
        clock = parent.clock
        store = parent.map_runs
        input_text = to_json(child_input)
        if before is None:
            name = str(uuid.uuid4())
            record = ChildExecution(
                execution_arn=f"{self.prefix}:execution:{self.machine}/{self.label}:{name}",
                name=name, state_machine_arn=self.run_record.state_machine_arn,
                map_run_arn=self.run_record.map_run_arn, execution_type=self.execution_type,
                item_count=item_count, input=input_text, start_date=clock.now(), index=index,
            )  # fmt: skip
            self.run_record.count(item_count, None, RUNNING)
            earlier: list[dict[str, Any]] = []
        else:
            record = before
            self.run_record.count(item_count, record.status, RUNNING)
            record.status, record.stop_date = RUNNING, None
            record.output = record.error = record.cause = None
            earlier = list(store.child_history(record.execution_arn) or [])
        redriving = before is not None and self.execution_type == "STANDARD"
        resume = record.checkpoint if redriving else None
        if redriving:
            record.redrive_count += 1
            record.redrive_date = clock.now()
        store.save_child(record, None)
        history = History(clock, None, earlier if redriving else None)
        # The child's context is the parent's with its own execution, history and no
        # deadline (replace, and the runner's own type below, keep this module free of
        # the executor's, which imports the fan-outs: no import cycle).
        shared = dataclasses.replace(
            parent,
            execution={"Id": record.execution_arn, "Input": child_input, "Name": record.name,
                       "RoleArn": LOCAL_ROLE_ARN,
                       "StartTime": format_timestamp(record.start_date),
                       "RedriveCount": record.redrive_count},
            state_machine={"Id": self.run_record.state_machine_arn,
                           "Name": f"{self.machine}/{self.label}"},
            history=history, deadline=None, timeout_seconds=None, map_runs=store,
        )  # fmt: skip
        if redriving:
            history.record(
                "ExecutionRedriven", history.last_id, {"redriveCount": record.redrive_count}
            )
        else:
            history.record(
                "ExecutionStarted", 0, data_details("input", input_text, roleArn=LOCAL_ROLE_ARN)
            )
        child = type(self.runner)(shared, self.flow, {}, previous_id=history.last_id)
        child.stop_signals = (*self.runner.stop_signals, self.stop)
        record.checkpoint = None
        try:
            payload_text(child_input, "execution input")
            output = child.run(child_input, resume)
            text = payload_text(output, "execution output")
        except StatesError as failure:
            record.status, record.error, record.cause = FAILED, failure.error, failure.cause
            record.checkpoint = child.checkpoint
            history.record(
                "ExecutionFailed", history.last_id, error_details(failure.error, failure.cause)
            )
        except Aborted:
            record.status = ABORTED
            record.checkpoint = child.checkpoint
            history.record("ExecutionAborted", history.last_id)
        else:
            record.status, record.output = SUCCEEDED, text
            history.record("ExecutionSucceeded", history.last_id, data_details("output", text))
        record.stop_date = clock.now()
        self.run_record.count(item_count, RUNNING, record.status)
        # An EXPRESS child's events are kept too, as the state machine's log group would
        # hold them (the API still refuses its history: MapRunApi.logged_history reads them).
        store.save_child(record, history.events)
        return record


def _loaded(text: str | None) -> Any:
    import json

    return None if text is None else json.loads(text)
