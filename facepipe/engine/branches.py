"""Parallel branches and Map iterations: child runners, their events, and fan-out in threads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from facepipe.engine.errors import (
    EXCEED_TOLERATED_FAILURE,
    Aborted,
    RuntimeFailure,
    StatesError,
)
from facepipe.engine.payload import Scope, render, select_or_fail

if TYPE_CHECKING:
    from facepipe.engine.definition import Flow
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
    from concurrent.futures import ThreadPoolExecutor  # lazily: most machines never fan out

    with ThreadPoolExecutor(max_workers=min(limit, count), thread_name_prefix="asl") as pool:
        return list(pool.map(guarded, range(count)))


def _first_failure(outcomes: list[Any]) -> StatesError | None:
    failures = [o for o in outcomes if isinstance(o, StatesError)]
    # A States.Runtime anywhere fails the whole execution, whatever else happened.
    runtime = [f for f in failures if isinstance(f, RuntimeFailure)]
    return (runtime or failures or [None])[0]


def run_parallel(runner: Runner, flows: tuple[Flow, ...], data: Any) -> list[Any]:
    runner.record("ParallelStateStarted")
    stop = threading.Event()

    def branch(index: int) -> Any:
        child = runner.child(flows[index], dict(runner.variables), stop, fail_fast=True)
        return child.run(json.loads(json.dumps(data)))

    outcomes = _fan_out(len(flows), len(flows), branch, stop)
    failure = _first_failure(outcomes)
    if failure is None and ABORTED in outcomes:
        raise Aborted  # an enclosing branch or iteration failed
    if failure is not None:
        runner.previous_id = runner.shared.history.last_id
        runner.record("ParallelStateFailed")
        raise failure
    runner.previous_id = runner.shared.history.last_id
    runner.record("ParallelStateSucceeded")
    return outcomes


def run_map(
    runner: Runner, name: str, state: dict[str, Any], flow: Flow, data: Any, scope: Scope
) -> list[Any]:
    path = state.get("ItemsPath", "$")
    items = data if path == "$" else select_or_fail(path, data, scope, "ItemsPath")
    if not isinstance(items, list):
        raise RuntimeFailure(
            f"Item path '{path}' in the Map state must point to a JSON array, "
            f"but it points to: {json.dumps(items)}"
        )
    limit = _max_concurrency(state, data, scope)
    distributed = _mode(state) == "DISTRIBUTED"
    tolerated = _tolerance(state, data, scope) if distributed else None
    selector = state.get("ItemSelector", state.get("Parameters"))
    item_inputs = [_item_input(selector, data, scope, i, item) for i, item in enumerate(items)]
    runner.record("MapStateStarted", {"length": len(items)})
    started_from = runner.previous_id

    stop = threading.Event()

    def iteration(index: int) -> Any:
        variables = {} if distributed else dict(runner.variables)
        child = runner.child(flow, variables, stop, fail_fast=tolerated is None)
        child.previous_id = started_from
        details = {"name": name, "index": index}
        child.record("MapIterationStarted", details)
        try:
            output = child.run(item_inputs[index])
        except StatesError:
            child.record("MapIterationFailed", details)
            raise
        except Aborted:
            child.record("MapIterationAborted", details)
            raise
        child.record("MapIterationSucceeded", details)
        return output

    cap = limit or INLINE_CONCURRENCY_CAP
    outcomes = _fan_out(len(items), cap, iteration, None if tolerated else stop)
    runner.previous_id = runner.shared.history.last_id
    failure = _first_failure(outcomes)
    if failure is None and ABORTED in outcomes:
        raise Aborted  # an enclosing branch or iteration failed
    if failure is not None and (tolerated is None or isinstance(failure, RuntimeFailure)):
        runner.record("MapStateFailed")
        raise failure
    if failure is not None and tolerated is not None:
        failed = sum(isinstance(o, StatesError) for o in outcomes)
        if not tolerated(failed, len(items)):
            runner.record("MapStateFailed")
            raise StatesError(
                EXCEED_TOLERATED_FAILURE, "The specified tolerated failure threshold was exceeded"
            )
        outcomes = [_error_output(o) if isinstance(o, StatesError) else o for o in outcomes]
    runner.record("MapStateSucceeded")
    return outcomes


def _error_output(failure: StatesError) -> dict[str, Any]:
    output: dict[str, Any] = {"Error": failure.error}
    if failure.cause is not None:
        output["Cause"] = failure.cause
    return output


def _mode(state: dict[str, Any]) -> str:
    processor = state.get("ItemProcessor", state.get("Iterator")) or {}
    return str((processor.get("ProcessorConfig") or {}).get("Mode", "INLINE"))


def _item_input(selector: Any, data: Any, scope: Scope, index: int, item: Any) -> Any:
    if selector is None:
        return item
    context = {**scope.context, "Map": {"Item": {"Index": index, "Value": item}}}
    return render(selector, data, Scope(context, scope.variables))


def _describe(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _path_number(state: dict, key: str, data: Any, scope: Scope, kind: str) -> Any:
    path = state[f"{key}Path"]
    value = select_or_fail(path, data, scope, f"{key}Path")
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or (kind == "integer" and not float(value).is_integer()):
        raise RuntimeFailure(
            f'The {key}Path field refers to value "{_describe(value)}" which is not a valid '
            f"{kind}: {path}"
        )
    return value


def _max_concurrency(state: dict[str, Any], data: Any, scope: Scope) -> int:
    if "MaxConcurrencyPath" not in state:
        return int(state.get("MaxConcurrency", 0))
    value = int(_path_number(state, "MaxConcurrency", data, scope, "integer"))
    if value < 0:
        raise RuntimeFailure("MaxConcurrency must be a non-negative integer.")
    return value


def _tolerance(state: dict[str, Any], data: Any, scope: Scope) -> Callable[[int, int], bool]:
    """A test `(failed, total) -> tolerated?` from the thresholds the state sets."""
    percentage: float | None = state.get("ToleratedFailurePercentage")
    count: int | None = state.get("ToleratedFailureCount")
    if "ToleratedFailurePercentagePath" in state:
        percentage = float(_path_number(state, "ToleratedFailurePercentage", data, scope, "float"))
    if percentage is not None and not 0 <= percentage <= 100:
        raise RuntimeFailure("ToleratedFailurePercentage must be between 0 and 100.")
    if "ToleratedFailureCountPath" in state:
        count = int(_path_number(state, "ToleratedFailureCount", data, scope, "integer"))
    if count is not None and count < 0:
        raise RuntimeFailure("ToleratedFailureCount must be a non-negative integer.")

    def tolerated(failed: int, total: int) -> bool:
        if percentage is None and count is None:
            return failed == 0
        if count is not None and failed > count:
            return False
        return percentage is None or 100.0 * failed / max(total, 1) <= percentage

    return tolerated
