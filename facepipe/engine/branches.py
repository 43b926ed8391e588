"""Parallel branches and Map iterations: child runners, their events, and fan-out in threads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from facepipe.engine.errors import (
    Aborted,
    RuntimeFailure,
    StatesError,
)
from facepipe.engine.path_numbers import path_number
from facepipe.engine.payload import Scope, render, select_or_fail

if TYPE_CHECKING:
    from facepipe.engine.definition import Flow
    from facepipe.engine.distributed import DistributedPlan
    from facepipe.engine.executor import Runner

# Inline Map runs at most this many iterations at once even when MaxConcurrency is 0
# (unlimited), as Step Functions does.
INLINE_CONCURRENCY_CAP = 40


ABORTED: Any = object()


def _fan_out(
    count: int, limit: int, work: Callable[[int], Any], stop: threading.Event | None
) -> list[Any]:
    """Run `work(i)` for every index, at most `limit` at a time; outcomes in index order.

    A failure comes back as its StatesError. With a `stop` event, the first failure sets it:
    units not yet started are skipped and running ones end before their next state, both
    reported as ABORTED. Without one (a Map that tolerates failures) every unit runs.
    """

    def guarded(index: int) -> Any:
        if stop is not None and stop.is_set():
            return ABORTED
        try:
            return work(index)
        except StatesError as failure:
            if stop is not None:
                stop.set()
            return failure
        except Aborted:
            return ABORTED

    if limit <= 1 or count <= 1:
        return [guarded(index) for index in range(count)]
    outcomes: list[Any] = [None] * count
    indexes = iter(range(count))
    taking = threading.Lock()

    def lane() -> None:
        # Each lane takes the next unit until none is left: at most `limit` run at once.
        while True:
            with taking:
                index = next(indexes, None)
            if index is None:
                return
            outcomes[index] = guarded(index)

    from facepipe.engine import workers  # lazily: most machines never fan out

    workers.run_lanes(min(limit, count), lane)
    return outcomes


def _first_failure(outcomes: list[Any]) -> StatesError | None:
    failures = [o for o in outcomes if isinstance(o, StatesError)]
    # A States.Runtime anywhere fails the whole execution, whatever else happened.
    runtime = [f for f in failures if isinstance(f, RuntimeFailure)]
    return (runtime or failures or [None])[0]


def _redriven(runner: Runner, name: str, count: int) -> list[dict[str, Any]] | None:
    """On a redrive, the branches/iterations of the attempt that stopped (once only)."""
    previous = runner.redriving.pop(name, None)
    return previous if isinstance(previous, list) and len(previous) == count else None


def _outcomes_kept(
    runner: Runner, name: str, outcomes: list[Any], children: list[Runner | None]
) -> None:
    """What a redrive needs of this fan-out: each succeeded unit's output, and where each
    other one stopped (None: it never started)."""
    kept: list[dict[str, Any]] = []
    for outcome, child in zip(outcomes, children, strict=True):
        if isinstance(outcome, StatesError) or outcome is ABORTED:
            kept.append({"checkpoint": child.checkpoint if child is not None else None})
        else:
            kept.append({"output": outcome})
    runner.fan_out[name] = kept


def run_parallel(runner: Runner, name: str, flows: tuple[Flow, ...], data: Any) -> list[Any]:
    runner.record("ParallelStateStarted")
    stop = threading.Event()
    previous = _redriven(runner, name, len(flows))
    children: list[Runner | None] = [None] * len(flows)

    def branch(index: int) -> Any:
        if previous is not None and "output" in previous[index]:
            return previous[index]["output"]  # succeeded before the redrive: not run again
        child = runner.child(flows[index], dict(runner.variables), stop, fail_fast=True)
        children[index] = child
        resume = previous[index]["checkpoint"] if previous is not None else None
        return child.run(json.loads(json.dumps(data)), resume)

    outcomes = _fan_out(len(flows), len(flows), branch, stop)
    _outcomes_kept(runner, name, outcomes, children)
    failure = _first_failure(outcomes)
    if failure is None and ABORTED in outcomes:
        raise Aborted  # an enclosing branch or iteration failed
    runner.previous_id = runner.shared.history.last_id
    if isinstance(failure, RuntimeFailure):
        # Terminal, so no retrier will record it: the state fails here and now.
        runner.record("ParallelStateFailed")
    if failure is not None:
        raise failure  # (any other failure: recorded once the Retry rules are done with it)
    runner.record("ParallelStateSucceeded")
    return outcomes


@dataclass(frozen=True)
class MapPlan:
    """What one Map attempt iterates over, worked out by the state's query language."""

    items: list[Any] | None  # None: a DISTRIBUTED Map's ItemReader gives them
    item_input: Callable[[int, Any], Any]  # (index, item) -> the iteration's input
    limit: int  # MaxConcurrency (0: no limit but the inline cap)
    # A DISTRIBUTED Map's Map Run settings (None for an inline Map).
    distributed: DistributedPlan | None = None


def jsonpath_plan(state: dict[str, Any], data: Any, scope: Scope) -> MapPlan:
    distributed = mode(state) == "DISTRIBUTED"
    path = state.get("ItemsPath", "$")
    if distributed and "ItemReader" in state:
        items = None  # ItemsPath is not read when an ItemReader gives the items (as AWS)
    else:
        items = data if path == "$" else select_or_fail(path, data, scope, "ItemsPath")
        if not isinstance(items, list):
            raise RuntimeFailure(
                f"Item path '{path}' in the Map state must point to a JSON array, "
                f"but it points to: {json.dumps(items)}"
            )
    limit = _max_concurrency(state, data, scope)
    selector = state.get("ItemSelector", state.get("Parameters"))

    def item_input(index: int, item: Any) -> Any:
        return _item_input(selector, data, scope, index, item)

    plan = None
    if distributed:
        from facepipe.engine import distributed_plans

        plan = distributed_plans.jsonpath(
            state, data, scope, lambda: _tolerance(state, data, scope)
        )
    return MapPlan(items, item_input, limit, plan)


def run_map(runner: Runner, name: str, flow: Flow, plan: MapPlan) -> Any:
    if plan.distributed is not None:
        from facepipe.engine.distributed import run_map_run

        return run_map_run(runner, name, flow, plan.items, plan.item_input, plan.limit,
                           plan.distributed)  # fmt: skip
    items = plan.items or []
    item_inputs = [plan.item_input(i, item) for i, item in enumerate(items)]
    runner.record("MapStateStarted", {"length": len(items)})
    started_from = runner.previous_id
    previous = _redriven(runner, name, len(items))
    children: list[Runner | None] = [None] * len(items)

    stop = threading.Event()

    def iteration(index: int) -> Any:
        if previous is not None and "output" in previous[index]:
            return previous[index]["output"]  # succeeded before the redrive: not run again
        child = runner.child(flow, dict(runner.variables), stop, fail_fast=True)
        children[index] = child
        child.previous_id = started_from
        details = {"name": name, "index": index}
        child.record("MapIterationStarted", details)
        resume = previous[index]["checkpoint"] if previous is not None else None
        try:
            output = child.run(item_inputs[index], resume)
        except StatesError:
            child.record("MapIterationFailed", details)
            raise
        except Aborted:
            child.record("MapIterationAborted", details)
            raise
        child.record("MapIterationSucceeded", details)
        return output

    cap = plan.limit or INLINE_CONCURRENCY_CAP
    outcomes = _fan_out(len(items), cap, iteration, stop)
    _outcomes_kept(runner, name, outcomes, children)
    runner.previous_id = runner.shared.history.last_id
    failure = _first_failure(outcomes)
    if failure is None and ABORTED in outcomes:
        raise Aborted  # an enclosing branch or iteration failed
    if isinstance(failure, RuntimeFailure):
        runner.record("MapStateFailed")  # terminal: no retrier will record it
        raise failure
    if failure is not None:
        raise failure  # recorded as MapStateFailed once the Retry rules are done with it
    runner.record("MapStateSucceeded")
    return outcomes


def mode(state: dict[str, Any]) -> str:
    processor = state.get("ItemProcessor", state.get("Iterator")) or {}
    return str((processor.get("ProcessorConfig") or {}).get("Mode", "INLINE"))


def _item_input(selector: Any, data: Any, scope: Scope, index: int, item: Any) -> Any:
    if selector is None:
        return item
    context = {**scope.context, "Map": {"Item": {"Index": index, "Value": item}}}
    return render(selector, data, Scope(context, scope.variables))


def _max_concurrency(state: dict[str, Any], data: Any, scope: Scope) -> int:
    if "MaxConcurrencyPath" not in state:
        return int(state.get("MaxConcurrency", 0))
    value = int(path_number(state, "MaxConcurrency", data, scope, "integer"))
    if value < 0:
        raise RuntimeFailure("MaxConcurrency must be a non-negative integer.")
    return value


def _tolerance(state: dict[str, Any], data: Any, scope: Scope) -> tuple[float | None, int | None]:
    """The tolerated-failure thresholds the state sets (None: not set)."""
    percentage: float | None = state.get("ToleratedFailurePercentage")
    count: int | None = state.get("ToleratedFailureCount")
    if "ToleratedFailurePercentagePath" in state:
        percentage = float(path_number(state, "ToleratedFailurePercentage", data, scope, "float"))
    if percentage is not None and not 0 <= percentage <= 100:
        raise RuntimeFailure("ToleratedFailurePercentage must be between 0 and 100.")
    if "ToleratedFailureCountPath" in state:
        count = int(path_number(state, "ToleratedFailureCount", data, scope, "integer"))
    if count is not None and count < 0:
        raise RuntimeFailure("ToleratedFailureCount must be a non-negative integer.")
    return percentage, count
