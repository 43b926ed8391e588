"""Running one flow (the top level, a Parallel branch or a Map iteration) state by state.

A `Runner` owns everything mutable about its flow: the variables it can assign and the id of
the last event it recorded. What the whole execution shares (`ExecutionContext`) is either
immutable or thread-safe, so many executions — and the branches within one — run in
parallel threads without sharing mutable state.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from facepipe.engine import branches, choice, retry, tasks
from facepipe.engine.clock import Clock
from facepipe.engine.definition import Flow
from facepipe.engine.errors import (
    NO_CHOICE_MATCHED,
    TIMEOUT,
    Aborted,
    QueryEvaluationFailure,
    RuntimeFailure,
    StatesError,
)
from facepipe.engine.history import History, data_details, error_details, to_json
from facepipe.engine.io import (
    apply_input_path,
    apply_output_path,
    apply_parameters,
    apply_result_path,
    apply_result_selector,
    evaluate_assign,
)
from facepipe.engine.path_numbers import describe_value
from facepipe.engine.payload import Scope, evaluate, is_intrinsic, select_or_fail
from facepipe.engine.sizes import check_size, payload_text
from facepipe.engine.timestamps import format_timestamp, parse_timestamp


class ExecutionTimedOut(StatesError):
    def __init__(self, seconds: int) -> None:
        super().__init__(TIMEOUT, f"The execution exceeded its TimeoutSeconds of {seconds}")


@dataclass(frozen=True)
class ExecutionContext:
    """What every runner of one execution shares (read-only, or thread-safe)."""

    execution: dict[str, Any]  # $$.Execution
    state_machine: dict[str, Any]  # $$.StateMachine
    clock: Clock
    history: History
    resolver: tasks.Resolver | None
    rng: random.Random
    deadline: datetime | None
    timeout_seconds: int | None
    object_store: Any = None  # the ObjectStore port (ItemReader, ResultWriter), or None
    map_runs: Any = None  # the MapRunStore of Distributed Map runs


class Runner:
    def __init__(
        self,
        shared: ExecutionContext,
        flow: Flow,
        variables: dict[str, Any],
        previous_id: int,
    ) -> None:
        self.shared = shared
        self.flow = flow
        self.variables = variables
        self.previous_id = previous_id
        # The JSON text of the last state output, reused as the next state's input text.
        self._last_output: tuple[Any, str] | None = None
        # Set when an enclosing Parallel or Map has failed and this flow must stop.
        self.stop_signals: tuple[threading.Event, ...] = ()
        # Set when this flow fails, so that its siblings stop (None: they carry on).
        self.failure_signal: threading.Event | None = None
        # The state being run and the id of its Entered event (causes name them).
        self.current: tuple[str, int] = ("", 0)
        # Where this flow stopped, set when it fails, times out or is aborted: what a redrive
        # starts from (see `redrive.py`).
        self.checkpoint: dict[str, Any] | None = None
        # The outcome of each branch/iteration of a Parallel or inline Map (or the Map Run of
        # a Distributed Map) in the state being run, set once it fans out.
        self.fan_out: dict[str, Any] = {}
        # On a redrive: that outcome from the stopped attempt, for the state that stopped.
        self.redriving: dict[str, Any] = {}

    # --- bookkeeping --------------------------------------------------------------------

    def record(self, event_type: str, details: dict[str, Any] | None = None) -> int:
        self.previous_id = self.shared.history.record(event_type, self.previous_id, details)
        return self.previous_id

    def scope(self, state_name: str, entered: datetime, retry_count: int = 0) -> Scope:
        context = {
            "Execution": self.shared.execution,
            "StateMachine": self.shared.state_machine,
            "State": {
                "EnteredTime": format_timestamp(entered),
                "Name": state_name,
                "RetryCount": retry_count,
            },
        }
        return Scope(context, self.variables)

    def child(
        self, flow: Flow, variables: dict[str, Any], stop: threading.Event, fail_fast: bool
    ) -> Runner:
        runner = Runner(self.shared, flow, variables, self.previous_id)
        runner.stop_signals = (*self.stop_signals, stop)
        runner.failure_signal = stop if fail_fast else None
        return runner

    # --- the state loop -----------------------------------------------------------------

    def run(self, data: Any, resume: dict[str, Any] | None = None) -> Any:
        """Run the flow from its start state (or, redriven, from the state `resume` names,
        with its input and variables); returns its output or raises StatesError."""
        name: str | None = self.flow.start_at
        if resume is not None:
            name, data = resume["state"], resume["input"]
            self.variables = dict(resume["variables"])
            if "children" in resume:
                self.redriving = {resume["state"]: resume["children"]}
        while name is not None:
            try:
                deadline = self.shared.deadline
                if deadline is not None and self.shared.clock.now() > deadline:
                    raise ExecutionTimedOut(self.shared.timeout_seconds or 0)
                if any(signal.is_set() for signal in self.stop_signals):
                    raise Aborted
                try:
                    name, data = self.run_state(name, self.flow.states[name], data)
                except StatesError:
                    if self.failure_signal is not None:
                        self.failure_signal.set()
                    raise
            except (StatesError, Aborted):
                assert name is not None
                self.checkpoint = self._checkpoint(name, data)
                raise
        return data

    def _checkpoint(self, name: str, data: Any) -> dict[str, Any]:
        """The state this flow stopped in, its input and the variables it saw on entering:
        all JSON, so a host can keep it beside the history."""
        checkpoint = {"state": name, "input": data, "variables": dict(self.variables)}
        children = self.fan_out.pop(name, None)
        if children is not None:
            checkpoint["children"] = children
        return checkpoint

    def run_state(self, name: str, state: dict[str, Any], raw: Any) -> tuple[str | None, Any]:
        kind = state["Type"]
        entered = self.shared.clock.now()
        last = self._last_output
        input_text = last[1] if last and last[0] is raw else payload_text(raw, "state input")
        entered_id = self.record(
            f"{kind}StateEntered", data_details("input", input_text, name=name)
        )
        self.current = (name, entered_id)
        self.fan_out.pop(name, None)
        compiled = self.flow.jsonata.get(name)
        try:
            if compiled is None:
                next_name, output, assigned = _STATE_KINDS[kind](self, name, state, raw, entered)
            else:
                next_name, output, assigned = _jsonata_states().run(
                    self, name, state, compiled, raw, entered
                )
        except RuntimeFailure as failure:
            raise _located(failure, name, entered_id) from None
        # (A Fail state raised above: it has no exit event.)
        self.variables.update(assigned)
        output_text = payload_text(output, "state output")
        self._last_output = (output, output_text)
        details = data_details("output", output_text, name=name)
        if assigned:
            details["assignedVariables"] = {k: to_json(v) for k, v in assigned.items()}
            details["assignedVariablesDetails"] = {"truncated": False}
        self.record(f"{kind}StateExited", details)
        return next_name, output

    # --- simple states ------------------------------------------------------------------

    def run_pass(self, name: str, state: dict, raw: Any, entered: datetime) -> Outcome:
        scope = self.scope(name, entered)
        data = apply_input_path(state, raw, scope)
        result = state["Result"] if "Result" in state else apply_parameters(state, data, scope)
        assigned = evaluate_assign(state.get("Assign"), result, scope)
        output = apply_result_path(state.get("ResultPath", "$"), raw, result)
        return state.get("Next"), apply_output_path(state, output, scope), assigned

    def run_choice(self, name: str, state: dict, raw: Any, entered: datetime) -> Outcome:
        scope = self.scope(name, entered)
        data = apply_input_path(state, raw, scope)
        for rule in state["Choices"]:
            if choice.matches(rule, data, scope):
                target, assign = rule["Next"], rule.get("Assign")
                break
        else:
            if "Default" not in state:
                raise StatesError(NO_CHOICE_MATCHED, f"No Matches! (state '{name}' has no Default)")
            target, assign = state["Default"], state.get("Assign")
        assigned = evaluate_assign(assign, data, scope)
        return target, apply_output_path(state, data, scope), assigned

    def run_wait(self, name: str, state: dict, raw: Any, entered: datetime) -> Outcome:
        scope = self.scope(name, entered)
        data = apply_input_path(state, raw, scope)
        clock = self.shared.clock
        if "Seconds" in state:
            clock.sleep(state["Seconds"])
        elif "SecondsPath" in state:
            clock.sleep(_wait_seconds(state["SecondsPath"], data, scope))
        else:
            until = _wait_until(state, data, scope)
            clock.sleep(max(0.0, (until - clock.now()).total_seconds()))
        assigned = evaluate_assign(state.get("Assign"), data, scope)
        return state.get("Next"), apply_output_path(state, data, scope), assigned

    def run_succeed(self, name: str, state: dict, raw: Any, entered: datetime) -> Outcome:
        scope = self.scope(name, entered)
        data = apply_input_path(state, raw, scope)
        return None, apply_output_path(state, data, scope), {}

    def run_fail(self, name: str, state: dict, raw: Any, entered: datetime) -> Outcome:
        scope = self.scope(name, entered)
        error = state.get("Error")
        cause = state.get("Cause")
        if "ErrorPath" in state:
            error = _fail_field(state["ErrorPath"], raw, scope, "ErrorPath")
        if "CausePath" in state:
            cause = _fail_field(state["CausePath"], raw, scope, "CausePath")
        raise StatesError(error, cause)

    # --- states that can Retry and Catch ------------------------------------------------

    def run_with_recovery(
        self,
        name: str,
        state: dict,
        entered: datetime,
        attempt: Callable[[Scope], Any],
        finish: Callable[[Any, Scope], Outcome],
        recover: Callable[[int, dict[str, Any], Scope], Outcome],
        failed_event: str | None = None,
    ) -> Outcome:
        """`attempt` (the state's work), then `finish` (its output), under Retry and Catch.

        A failure in the attempt that no retrier takes records `failed_event` once (AWS
        writes ParallelStateFailed/MapStateFailed after the last attempt only); a catcher
        then hands `recover` its index and the error output.
        """
        retriers = state.get("Retry", [])
        attempts = [0] * len(retriers)
        retry_count = 0
        while True:
            scope = self.scope(name, entered, retry_count)
            in_attempt = True
            try:
                result = attempt(scope)
                in_attempt = False
                return finish(result, scope)
            except RuntimeFailure:
                raise
            except StatesError as failure:
                position = retry.first_match(retriers, failure.error)
                if position is not None and attempts[position] < retry.max_attempts(
                    retriers[position]
                ):
                    retrier = retriers[position]
                    delay = retry.backoff_seconds(retrier, attempts[position], self.shared.rng)
                    attempts[position] += 1
                    retry_count += 1
                    self.shared.clock.sleep(delay)
                    continue
                if failed_event is not None and in_attempt:
                    self.previous_id = self.shared.history.last_id
                    self.record(failed_event)
                catch = retry.first_match(state.get("Catch", []), failure.error)
                if catch is None:
                    raise
                error_output: dict[str, Any] = {"Error": failure.error}
                if failure.cause is not None:
                    error_output["Cause"] = failure.cause
                return recover(catch, error_output, scope)

    def run_jsonpath_recovery(
        self,
        name: str,
        state: dict,
        raw: Any,
        entered: datetime,
        attempt: Callable[[Any, Scope], Any],
        failed_event: str | None = None,
    ) -> Outcome:
        """InputPath/Parameters, `attempt`, ResultSelector/ResultPath/OutputPath, Assign."""

        def start(scope: Scope) -> Any:
            data = apply_parameters(state, apply_input_path(state, raw, scope), scope)
            return attempt(data, scope)

        def finish(result: Any, scope: Scope) -> Outcome:
            result = apply_result_selector(state, result, scope)
            assigned = evaluate_assign(state.get("Assign"), result, scope)
            output = apply_result_path(state.get("ResultPath", "$"), raw, result)
            return state.get("Next"), apply_output_path(state, output, scope), assigned

        def recover(position: int, error_output: dict[str, Any], scope: Scope) -> Outcome:
            catcher = state["Catch"][position]
            assigned = evaluate_assign(catcher.get("Assign"), error_output, scope)
            output = apply_result_path(catcher.get("ResultPath", "$"), raw, error_output)
            return catcher["Next"], output, assigned

        return self.run_with_recovery(name, state, entered, start, finish, recover, failed_event)

    def run_task(self, name: str, state: dict, raw: Any, entered: datetime) -> Outcome:
        def attempt(data: Any, scope: Scope) -> Any:
            return self.invoke(state, data, _task_timeout(state, data, scope))

        return self.run_jsonpath_recovery(name, state, raw, entered, attempt)

    def invoke(
        self, state: dict, parameters: Any, timeout: int | None, heartbeat: int | None = None
    ) -> Any:
        target = tasks.target_of(state["Resource"], parameters)
        if heartbeat is None and isinstance(state.get("HeartbeatSeconds"), int):
            heartbeat = state["HeartbeatSeconds"]
        if target.kind == "lambda":
            return self._invoke_function(target, parameters, timeout)
        return self._invoke_integration(target, parameters, timeout, heartbeat)

    def _invoke_function(self, target: tasks.Target, event: Any, timeout: int | None) -> Any:
        scheduled = data_details("input", to_json(event), resource=target.function)
        if timeout is not None:
            scheduled["timeoutInSeconds"] = timeout
        self.record("LambdaFunctionScheduled", scheduled)
        try:
            # Started first: in AWS a missing function is found out by the call itself.
            self.record("LambdaFunctionStarted")
            handler = tasks.find_handler(self.shared.resolver, target.function)
            context = tasks.new_context(target.function, self.shared.clock, timeout)
            result, text = tasks.call_handler(handler, event, context, timeout)
            check_size(text, "Lambda function result")
        except StatesError as failure:
            timed_out = failure.error == TIMEOUT
            self.record(
                "LambdaFunctionTimedOut" if timed_out else "LambdaFunctionFailed",
                error_details(failure.error, failure.cause),
            )
            raise
        self.record("LambdaFunctionSucceeded", data_details("output", text))
        return result

    def _invoke_integration(
        self, target: tasks.Target, parameters: Any, timeout: int | None, heartbeat: int | None
    ) -> Any:
        names = {"resourceType": target.resource_type, "resource": target.resource}
        scheduled: dict[str, Any] = {
            **names,
            "region": tasks.REGION,
            "parameters": to_json(parameters),
        }
        if timeout is not None:
            scheduled["timeoutInSeconds"] = timeout
        if heartbeat is not None:
            scheduled["heartbeatInSeconds"] = heartbeat
        self.record("TaskScheduled", scheduled)
        try:
            self.record("TaskStarted", names)
            handler = tasks.find_handler(self.shared.resolver, target.function)
            context = tasks.new_context(target.function, self.shared.clock, timeout)
            if target.kind == "lambda:invoke":
                event = parameters.get("Payload", {})
                payload, payload_json = tasks.call_handler(handler, event, context, timeout)
                result = tasks.invoke_response(payload, payload_json, context)
                text = payload_text(result, "task result")
            else:
                result, text = tasks.call_handler(handler, parameters, context, timeout)
                check_size(text, "task result")
        except StatesError as failure:
            timed_out = failure.error == TIMEOUT
            self.record(
                "TaskTimedOut" if timed_out else "TaskFailed",
                error_details(failure.error, failure.cause, **names),
            )
            raise
        self.record("TaskSucceeded", data_details("output", text, **names))
        return result

    def run_parallel(self, name: str, state: dict, raw: Any, entered: datetime) -> Outcome:
        flows = self.flow.children[name]
        return self.run_jsonpath_recovery(
            name, state, raw, entered,
            lambda data, scope: branches.run_parallel(self, name, flows, data),
            failed_event="ParallelStateFailed",
        )  # fmt: skip

    def run_map(self, name: str, state: dict, raw: Any, entered: datetime) -> Outcome:
        (flow,) = self.flow.children[name]

        def attempt(data: Any, scope: Scope) -> Any:
            return branches.run_map(self, name, flow, branches.jsonpath_plan(state, data, scope))

        # ItemSelector/Parameters are per item, so the generic Parameters step is skipped.
        plain = {k: v for k, v in state.items() if k != "Parameters"}
        return self.run_jsonpath_recovery(
            name, plain, raw, entered, attempt, failed_event="MapStateFailed"
        )

    # --- JSONata failures ---------------------------------------------------------------

    def evaluation_failed(self, failure: QueryEvaluationFailure) -> QueryEvaluationFailure:
        """The failure located in the current state, recorded as AWS's EvaluationFailed."""
        name, entered_id = self.current
        located = QueryEvaluationFailure(
            f"An error occurred while executing the state '{name}' "
            f"(entered at the event id #{entered_id}). {failure.cause}",
            failure.location,
        )
        details = error_details(located.error, located.cause)
        if failure.location is not None:
            details["location"] = failure.location
        details["state"] = name
        self.record("EvaluationFailed", details)
        return located


Outcome = tuple[str | None, Any, dict[str, Any]]

_STATE_KINDS: dict[str, Callable[..., Outcome]] = {
    "Pass": Runner.run_pass,
    "Choice": Runner.run_choice,
    "Wait": Runner.run_wait,
    "Succeed": Runner.run_succeed,
    "Fail": Runner.run_fail,
    "Task": Runner.run_task,
    "Parallel": Runner.run_parallel,
    "Map": Runner.run_map,
}


def _jsonata_states() -> Any:
    from facepipe.engine import jsonata_states  # lazily: only JSONata states need it

    return jsonata_states


def _located(failure: RuntimeFailure, name: str, entered_id: int) -> RuntimeFailure:
    if getattr(failure, "located", False):
        return failure
    located = RuntimeFailure(
        f"An error occurred while executing the state '{name}' "
        f"(entered at the event id #{entered_id}). {failure.cause}"
    )
    located.located = True  # type: ignore[attr-defined]
    return located


def _fail_field(expression: str, data: Any, scope: Scope, field: str) -> str:
    if is_intrinsic(expression):
        value = evaluate(expression, data, scope, field)
    else:
        value = select_or_fail(expression, data, scope, field)
    if not isinstance(value, str):
        raise RuntimeFailure(
            f"The {field} field must reference a string, but {expression} == "
            f"{describe_value(value)}"
        )
    return value


def _wait_seconds(path: str, data: Any, scope: Scope) -> int:
    value = select_or_fail(path, data, scope, "SecondsPath")
    if not isinstance(value, int) or isinstance(value, bool):
        raise RuntimeFailure(
            f"The SecondsPath parameter cannot be parsed as a long value: "
            f"{path} == {describe_value(value)}"
        )
    if value < 0:
        raise RuntimeFailure(
            f"The SecondsPath parameter references a negative value: {path} == {value}"
        )
    return value


def _wait_until(state: dict, data: Any, scope: Scope) -> datetime:
    if "Timestamp" in state:
        moment = parse_timestamp(state["Timestamp"])
        assert moment is not None  # validated with the definition
        return moment
    path = state["TimestampPath"]
    value = select_or_fail(path, data, scope, "TimestampPath")
    moment = parse_timestamp(value)
    if moment is None:
        raise RuntimeFailure(
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            f"date-time format string: {path} == {describe_value(value)}"
        )
    return moment


def _task_timeout(state: dict, data: Any, scope: Scope) -> int | None:
    """TimeoutSeconds, or the value TimeoutSecondsPath selects (a positive integer)."""
    if "TimeoutSecondsPath" not in state:
        return state.get("TimeoutSeconds")
    value = select_or_fail(state["TimeoutSecondsPath"], data, scope, "TimeoutSecondsPath")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise RuntimeFailure(
            f'The TimeoutSecondsPath field refers to value "{describe_value(value)}" which is not '
            f"a valid positive integer: {state['TimeoutSecondsPath']}"
        )
    return value
