"""Validating and compiling the states that use the JSONata query language.

A JSONata state has `Arguments`, `Output` and `Assign` instead of the five JSONPath fields,
`Condition` in Choice rules, `Items` in Map, and takes `{% %}` expressions in the fields that
Step Functions lists (TimeoutSeconds, Seconds, MaxConcurrency...). Everything is compiled
here, once per definition, into a `JsonataState`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from facepipe.engine.errors import DefinitionError
from facepipe.engine.jsonata_fields import (
    JsonataSyntaxError,
    Template,
    compile_template,
    is_expression,
)
from facepipe.engine.tasks import LAMBDA_INVOKE
from facepipe.engine.timestamps import parse_timestamp

_COMMON = {"Type", "Comment", "QueryLanguage"}
_FLOW = {"Next", "End"}
_RESULT = {"Output", "Assign"}
_RECOVERY = {"Retry", "Catch"}
JSONATA_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _FLOW | _RESULT,
    "Task": _COMMON | _FLOW | _RESULT | _RECOVERY
    | {"Resource", "Arguments", "TimeoutSeconds", "HeartbeatSeconds", "Credentials"},
    "Choice": _COMMON | _RESULT | {"Choices", "Default"},
    "Wait": _COMMON | _FLOW | _RESULT | {"Seconds", "Timestamp"},
    "Succeed": _COMMON | {"Output"},
    "Fail": _COMMON | {"Error", "Cause"},
    "Parallel": _COMMON | _FLOW | _RESULT | _RECOVERY | {"Branches", "Arguments"},
    "Map": _COMMON | _FLOW | _RESULT | _RECOVERY
    | {"Items", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "ItemReader",
       "ItemBatcher", "ResultWriter", "Label", "ToleratedFailurePercentage",
       "ToleratedFailureCount"},
}  # fmt: skip
JSONATA_CATCHER = {"ErrorEquals", "Next", "Output", "Assign", "Comment"}
_RULE = {"Condition", "Next", "Output", "Assign", "Comment"}

# What a JSONata state uses instead of each JSONPath-only field (for the refusal).
_INSTEAD = {
    "InputPath": "Arguments or $states.input",
    "Parameters": "Arguments (Output in a Pass state)",
    "ResultSelector": "Output",
    "ResultPath": "Output or Assign",
    "OutputPath": "Output",
    "Result": "Output",
    "ItemsPath": "Items",
    "SecondsPath": "Seconds with a {% %} expression",
    "TimestampPath": "Timestamp with a {% %} expression",
    "TimeoutSecondsPath": "TimeoutSeconds with a {% %} expression",
    "HeartbeatSecondsPath": "HeartbeatSeconds with a {% %} expression",
    "MaxConcurrencyPath": "MaxConcurrency with a {% %} expression",
    "ToleratedFailurePercentagePath": "ToleratedFailurePercentage with a {% %} expression",
    "ToleratedFailureCountPath": "ToleratedFailureCount with a {% %} expression",
    "ErrorPath": "Error with a {% %} expression",
    "CausePath": "Cause with a {% %} expression",
}

# Fields that take a constant or an expression, and what the constant must be.
_NUMBER_FIELDS = {
    "TimeoutSeconds": ("a positive integer", lambda v: _int(v) and v > 0),
    "HeartbeatSeconds": ("a positive integer", lambda v: _int(v) and v > 0),
    "Seconds": ("a non-negative integer", lambda v: _int(v) and v >= 0),
    "MaxConcurrency": ("a non-negative integer", lambda v: _int(v) and v >= 0),
    "ToleratedFailureCount": ("a non-negative integer", lambda v: _int(v) and v >= 0),
    "ToleratedFailurePercentage": (
        "a number between 0 and 100",
        lambda v: _number(v) and 0 <= v <= 100,
    ),
}
_TEMPLATE_FIELDS = ("Arguments", "Output", "Items", "ItemSelector", "Error", "Cause",
                    "Timestamp", "ItemReader", "ItemBatcher", "ResultWriter",
                    *_NUMBER_FIELDS)  # fmt: skip


@dataclass(frozen=True)
class JsonataState:
    """A JSONata state's fields, compiled. A field absent from the state is absent here."""

    fields: Mapping[str, Template]
    assign: Template | None = None
    rules: tuple[Mapping[str, Template], ...] = ()  # Choice: Condition, Output, Assign
    catchers: tuple[Mapping[str, Template], ...] = field(default_factory=tuple)


def refuse_other_language(name: str, state: dict[str, Any], jsonata: bool) -> None:
    """A field of the other query language gets a refusal that says what to use instead."""
    kind = state["Type"]
    for key in state:
        if jsonata and key in _INSTEAD:
            raise DefinitionError(
                name,
                f"the field '{key}' is JSONPath-only: a JSONata state uses {_INSTEAD[key]}",
            )
        if (
            not jsonata
            and key in JSONATA_FIELDS.get(kind, ())
            and key in ("Arguments", "Output", "Items")
        ):
            raise DefinitionError(name, f'the field \'{key}\' needs "QueryLanguage": "JSONata"')


def compile_state(name: str, state: dict[str, Any], check_assign: Any) -> JsonataState:
    """Check the field values of a JSONata state and compile its expressions."""
    kind = state["Type"]
    for key in state:
        if key not in JSONATA_FIELDS[kind]:
            raise DefinitionError(name, f"unknown field '{key}' for a JSONata {kind} state")
    _check_constants(name, kind, state)
    fields = {key: _compile(name, key, state[key]) for key in _TEMPLATE_FIELDS if key in state}
    assign = _compile_assign(name, "Assign", state.get("Assign"), check_assign)
    rules: list[Mapping[str, Template]] = []
    for position, rule in enumerate(state.get("Choices", [])):
        rules.append(_compile_rule(name, f"Choices[{position}]", rule, check_assign))
    catchers = []
    for position, catcher in enumerate(state.get("Catch", [])):
        where = f"Catch[{position}]"
        for key in catcher:
            if key not in JSONATA_CATCHER:
                raise DefinitionError(name, f"unknown field '{key}' in {where} of a JSONata state")
        compiled = (
            {"Output": _compile(name, f"{where}.Output", catcher["Output"])}
            if ("Output" in catcher)
            else {}
        )
        compiled["Assign"] = _compile_assign(
            name, f"{where}.Assign", catcher.get("Assign"), check_assign
        )
        catchers.append(compiled)
    return JsonataState(fields, assign, tuple(rules), tuple(catchers))


def _check_constants(name: str, kind: str, state: dict[str, Any]) -> None:
    for key, (expected, valid) in _NUMBER_FIELDS.items():
        if key in state and not is_expression(state[key]) and not valid(state[key]):
            raise DefinitionError(name, f"{key} must be {expected} or a {{% %}} expression")
    for key in ("Error", "Cause"):
        if key in state and not isinstance(state[key], str):
            raise DefinitionError(name, f"{key} must be a string or a {{% %}} expression")
    timestamp = state.get("Timestamp")
    if "Timestamp" in state and not is_expression(timestamp) and parse_timestamp(timestamp) is None:
        raise DefinitionError(name, f"Timestamp '{timestamp}' is not an ISO-8601 time")
    if kind == "Wait":
        given = [k for k in ("Seconds", "Timestamp") if k in state]
        if len(given) != 1:
            raise DefinitionError(
                name, "a JSONata Wait state needs exactly one of Seconds, Timestamp"
            )
    if "Items" in state and not (is_expression(state["Items"]) or isinstance(state["Items"], list)):
        raise DefinitionError(name, "Items must be a JSON array or a {% %} expression")
    arguments = state.get("Arguments")
    invoke = kind == "Task" and state.get("Resource") == LAMBDA_INVOKE
    if (
        invoke
        and not is_expression(arguments)
        and not (isinstance(arguments, dict) and "FunctionName" in arguments)
    ):
        raise DefinitionError(name, "lambda:invoke needs Arguments with a FunctionName")
    if (
        kind == "Task"
        and "Arguments" in state
        and not (isinstance(arguments, dict) or is_expression(arguments))
    ):
        raise DefinitionError(name, "Arguments must be a JSON object or a {% %} expression")


def _compile_rule(name: str, where: str, rule: Any, check_assign: Any) -> Mapping[str, Template]:
    if not isinstance(rule, dict):
        raise DefinitionError(name, f"{where} must be a JSON object")
    for key in rule:
        if key not in _RULE:
            raise DefinitionError(
                name, f"unknown field '{key}' in {where}: a JSONata Choice rule has a Condition"
            )
    condition = rule.get("Condition")
    if not (isinstance(condition, bool) or is_expression(condition)):
        raise DefinitionError(
            name, f"{where}.Condition must be true, false or a {{% %}} expression"
        )
    compiled = {"Condition": _compile(name, f"{where}.Condition", condition)}
    if "Output" in rule:
        compiled["Output"] = _compile(name, f"{where}.Output", rule["Output"])
    compiled["Assign"] = _compile_assign(name, f"{where}.Assign", rule.get("Assign"), check_assign)
    return compiled


def _compile_assign(name: str, where: str, assign: Any, check_assign: Any) -> Template | None:
    if assign is None:
        return None
    check_assign(name, assign, dollar_keys=False)
    return _compile(name, where, assign)


def _compile(name: str, where: str, value: Any) -> Template:
    try:
        return compile_template(value)
    except JsonataSyntaxError as bad:
        raise DefinitionError(name, f"{where}: {bad}") from None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
