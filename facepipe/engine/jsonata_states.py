"""Running the states that use JSONata: `$states`, Arguments, Output, Assign, Condition, Items.

Every expression of a state sees the same bindings: `$states.input` (the state's input),
`$states.context` (the context object), `$states.result` in Output/Assign after a task,
branch or map succeeded, `$states.errorOutput` in a Catch, and the workflow variables as they
were when the state was entered (Assign lands after the state, all values at once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from facepipe.engine import branches
from facepipe.engine.errors import NO_CHOICE_MATCHED, QueryEvaluationFailure, StatesError
from facepipe.engine.jsonata_definition import JsonataState
from facepipe.engine.jsonata_fields import (
    Expression,
    Template,
    compact,
    render,
    unexpected_type,
)
from facepipe.engine.payload import Scope
from facepipe.engine.timestamps import parse_timestamp

if TYPE_CHECKING:
    from facepipe.engine.executor import Outcome, Runner

_ABSENT: Any = object()


class _State:
    """One JSONata state being run: its compiled fields and how to evaluate them."""

    def __init__(
        self, runner: Runner, name: str, state: dict, compiled: JsonataState, raw: Any
    ) -> None:
        self.runner = runner
        self.name = name
        self.state = state
        self.compiled = compiled
        self.raw = raw

    def bindings(self, scope: Scope, **states: Any) -> dict[str, Any]:
        return {
            **scope.variables,
            "states": {"input": self.raw, "context": dict(scope.context), **states},
        }

    def value(self, template: Template, bindings: Mapping[str, Any], field: str) -> Any:
        try:
            return render(template, bindings, field)
        except QueryEvaluationFailure as failure:
            raise self.runner.evaluation_failed(failure) from None

    def fail(self, failure: QueryEvaluationFailure) -> QueryEvaluationFailure:
        return self.runner.evaluation_failed(failure)

    def field(self, key: str, bindings: Mapping[str, Any], default: Any = _ABSENT) -> Any:
        if key not in self.compiled.fields:
            return default
        return self.value(self.compiled.fields[key], bindings, key)

    def results(
        self,
        bindings: Mapping[str, Any],
        output_template: Any,
        assign: Template | None,
        default_output: Any,
        where: str = "",
    ) -> tuple[Any, dict[str, Any]]:
        """Output and Assign, both from the same bindings (the variables at state entry)."""
        assigned = {} if assign is None else self.value(assign, bindings, f"{where}Assign")
        if output_template is _ABSENT:
            return default_output, assigned
        return self.value(output_template, bindings, f"{where}Output"), assigned

    def number(self, key: str, bindings: Mapping[str, Any], kind: str) -> Any:
        """A number field: a constant, or an expression that must give one."""
        template = self.compiled.fields.get(key, _ABSENT)
        if template is _ABSENT:
            return None
        value = self.value(template, bindings, key)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or (kind == "integer" and not float(value).is_integer()):
            raise self.fail(unexpected_type(template, key, kind, value))
        return int(value) if kind == "integer" else value

    def recovery(
        self,
        entered: datetime,
        arguments: Callable[[dict[str, Any]], Any],
        attempt: Callable[[Any, Scope], Any],
        failed_event: str | None = None,
    ) -> Outcome:
        """Arguments, the attempt, then Output/Assign; a Catch gets $states.errorOutput."""
        state, compiled = self.state, self.compiled

        def start(scope: Scope) -> Any:
            return attempt(arguments(self.bindings(scope)), scope)

        def finish(result: Any, scope: Scope) -> Outcome:
            output, assigned = self.results(
                self.bindings(scope, result=result),
                compiled.fields.get("Output", _ABSENT), compiled.assign, result,
            )  # fmt: skip
            return state.get("Next"), output, assigned

        def recover(position: int, error_output: dict[str, Any], scope: Scope) -> Outcome:
            catcher = compiled.catchers[position]
            output, assigned = self.results(
                self.bindings(scope, errorOutput=error_output),
                catcher.get("Output", _ABSENT), catcher.get("Assign"), error_output,
                where=f"Catch[{position}]/",
            )  # fmt: skip
            return state["Catch"][position]["Next"], output, assigned

        return self.runner.run_with_recovery(
            self.name, state, entered, start, finish, recover, failed_event
        )


def run(
    runner: Runner, name: str, state: dict, compiled: JsonataState, raw: Any, entered: datetime
) -> Outcome:
    return _KINDS[state["Type"]](_State(runner, name, state, compiled, raw), entered)


def _pass(s: _State, entered: datetime) -> Outcome:
    bindings = s.bindings(s.runner.scope(s.name, entered))
    output, assigned = s.results(
        bindings, s.compiled.fields.get("Output", _ABSENT), s.compiled.assign, s.raw
    )
    return s.state.get("Next"), output, assigned


def _succeed(s: _State, entered: datetime) -> Outcome:
    bindings = s.bindings(s.runner.scope(s.name, entered))
    return None, s.field("Output", bindings, s.raw), {}


def _fail(s: _State, entered: datetime) -> Outcome:
    bindings = s.bindings(s.runner.scope(s.name, entered))
    error, cause = (_text(s, key, bindings) for key in ("Error", "Cause"))
    raise StatesError(error, cause)


def _text(s: _State, key: str, bindings: Mapping[str, Any]) -> str | None:
    value = s.field(key, bindings, None)
    if value is not None and not isinstance(value, str):
        raise s.fail(unexpected_type(s.compiled.fields[key], key, "string", value))
    return value


def _wait(s: _State, entered: datetime) -> Outcome:
    bindings = s.bindings(s.runner.scope(s.name, entered))
    clock = s.runner.shared.clock
    if "Seconds" in s.compiled.fields:
        seconds = s.number("Seconds", bindings, "integer")
        if seconds < 0:
            raise s.fail(unexpected_type(s.compiled.fields["Seconds"], "Seconds", "integer >= 0",
                                         seconds))  # fmt: skip
        clock.sleep(seconds)
    else:
        value = s.field("Timestamp", bindings)
        moment = parse_timestamp(value)
        if moment is None:
            shown = value if isinstance(value, str) else compact(value)
            raise s.fail(
                QueryEvaluationFailure(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset "
                    f"date-time format string: {shown}",
                    location="Timestamp",
                )
            )
        clock.sleep(max(0.0, (moment - clock.now()).total_seconds()))
    output, assigned = s.results(
        bindings, s.compiled.fields.get("Output", _ABSENT), s.compiled.assign, s.raw
    )
    return s.state.get("Next"), output, assigned


def _choice(s: _State, entered: datetime) -> Outcome:
    bindings = s.bindings(s.runner.scope(s.name, entered))
    for position, rule in enumerate(s.compiled.rules):
        field = f"Choices[{position}].Condition"
        condition = rule["Condition"]
        matched = (
            s.value(condition, bindings, "Condition")
            if isinstance(condition, Expression)
            else condition
        )
        if not isinstance(matched, bool):
            raise s.fail(unexpected_type(condition, field, "boolean", matched))
        if matched:
            target = s.state["Choices"][position]["Next"]
            output, assigned = s.results(
                bindings, rule.get("Output", _ABSENT), rule.get("Assign"), s.raw
            )
            return target, output, assigned
    if "Default" not in s.state:
        raise StatesError(NO_CHOICE_MATCHED, f"No Matches! (state '{s.name}' has no Default)")
    output, assigned = s.results(
        bindings, s.compiled.fields.get("Output", _ABSENT), s.compiled.assign, s.raw
    )
    return s.state["Default"], output, assigned


def _task(s: _State, entered: datetime) -> Outcome:
    def arguments(bindings: dict[str, Any]) -> Any:
        parameters = s.field("Arguments", bindings, s.raw)
        timeout = s.number("TimeoutSeconds", bindings, "integer")
        heartbeat = s.number("HeartbeatSeconds", bindings, "integer")
        for key, seconds in (("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)):
            if seconds is not None and seconds <= 0:
                raise s.fail(unexpected_type(s.compiled.fields[key], key, "integer > 0", seconds))
        return parameters, timeout, heartbeat

    def attempt(prepared: Any, scope: Scope) -> Any:
        parameters, timeout, heartbeat = prepared
        return s.runner.invoke(s.state, parameters, timeout, heartbeat)

    return s.recovery(entered, arguments, attempt)


def _parallel(s: _State, entered: datetime) -> Outcome:
    flows = s.runner.flow.children[s.name]
    return s.recovery(
        entered,
        lambda bindings: s.field("Arguments", bindings, s.raw),
        lambda data, scope: branches.run_parallel(s.runner, s.name, flows, data),
        failed_event="ParallelStateFailed",
    )


def _map(s: _State, entered: datetime) -> Outcome:
    (flow,) = s.runner.flow.children[s.name]
    return s.recovery(
        entered,
        lambda bindings: bindings,
        lambda bindings, scope: branches.run_map(s.runner, s.name, flow, _plan(s, bindings, scope)),
        failed_event="MapStateFailed",
    )


def _plan(s: _State, bindings: dict[str, Any], scope: Scope) -> branches.MapPlan:
    fields = s.compiled.fields
    distributed = branches.mode(s.state) == "DISTRIBUTED"
    items: list[Any] | None
    if distributed and "ItemReader" in s.state:
        items = None  # the ItemReader gives them, after the Map Run starts
    elif "Items" in fields:
        items = s.field("Items", bindings)
        if not isinstance(items, list):
            raise s.fail(unexpected_type(fields["Items"], "Items", "array", items))
    elif isinstance(s.raw, list):
        items = s.raw
    else:
        raise s.fail(QueryEvaluationFailure(
            f"Map state input must be an array but was: {compact(s.raw)}"
        ))  # fmt: skip
    limit = s.number("MaxConcurrency", bindings, "integer") or 0
    if limit < 0:
        raise s.fail(unexpected_type(fields["MaxConcurrency"], "MaxConcurrency", "integer >= 0",
                                     limit))  # fmt: skip
    selector = fields.get("ItemSelector", _ABSENT)

    def item_input(index: int, item: Any) -> Any:
        if selector is _ABSENT:
            return item
        context = {**scope.context, "Map": {"Item": {"Index": index, "Value": item}}}
        return s.value(selector, s.bindings(Scope(context, scope.variables)), "ItemSelector")

    if not distributed:
        return branches.MapPlan(items, item_input, limit)

    def tolerance() -> tuple[float | None, int | None]:
        percentage = s.number("ToleratedFailurePercentage", bindings, "number")
        count = s.number("ToleratedFailureCount", bindings, "integer")
        if percentage is not None and not 0 <= percentage <= 100:
            raise s.fail(QueryEvaluationFailure(
                "ToleratedFailurePercentage must be between 0 and 100.",
                location="ToleratedFailurePercentage",
            ))  # fmt: skip
        if count is not None and count < 0:
            raise s.fail(QueryEvaluationFailure(
                "ToleratedFailureCount must be a non-negative integer.",
                location="ToleratedFailureCount",
            ))  # fmt: skip
        return percentage, count

    def declaration(key: str) -> Callable[[], Any]:
        return lambda: s.field(key, bindings)

    def integer(key: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise s.fail(QueryEvaluationFailure(
                f"The {key} field must be an integer, but was: {compact(value)}", location=key
            ))  # fmt: skip
        return value

    from facepipe.engine import distributed_plans

    values = {k: declaration(k) for k in ("ItemReader", "ItemBatcher", "ResultWriter")
              if k in fields}  # fmt: skip
    plan = distributed_plans.evaluated(s.state, values, tolerance, integer)
    return branches.MapPlan(items, item_input, limit, plan)


_KINDS: dict[str, Callable[[_State, datetime], Outcome]] = {
    "Pass": _pass,
    "Succeed": _succeed,
    "Fail": _fail,
    "Wait": _wait,
    "Choice": _choice,
    "Task": _task,
    "Parallel": _parallel,
    "Map": _map,
}
