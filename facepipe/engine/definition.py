"""Parse and validate an ASL definition before anything runs.

Every problem is a `DefinitionError` naming the state and the reason. The result is a `Flow`:
a start state, the states as plain dicts, the nested flows of Parallel and Map states, and
the compiled fields of the states that use JSONata (`jsonata_definition`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from facepipe.engine import choice, jsonpath
from facepipe.engine.errors import ALL, DefinitionError
from facepipe.engine.payload import intrinsics, is_intrinsic
from facepipe.engine.tasks import LAMBDA_INVOKE
from facepipe.engine.timestamps import parse_timestamp

_IO = {"InputPath", "OutputPath"}
_COMMON = {"Type", "Comment", "QueryLanguage"}
_FLOW = {"Next", "End"}
_RESULT = {"ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "Assign"}
ALLOWED_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | _FLOW | {"ResultPath", "Parameters", "Result", "Assign"},
    "Task": _COMMON | _IO | _FLOW | _RESULT
    | {"Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
       "HeartbeatSecondsPath", "Credentials"},
    "Choice": _COMMON | _IO | {"Choices", "Default", "Assign"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath",
                                     "Assign"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _FLOW | _RESULT | {"Branches"},
    "Map": _COMMON | _IO | _FLOW | _RESULT
    | {"ItemsPath", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency",
       "MaxConcurrencyPath", "ItemReader", "ItemBatcher", "ResultWriter", "Label",
       "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
       "ToleratedFailureCount", "ToleratedFailureCountPath"},
}  # fmt: skip
_TOP_LEVEL = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
_NESTED = {"Comment", "StartAt", "States", "ProcessorConfig", "QueryLanguage"}
_RETRIER = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
            "JitterStrategy", "Comment"}  # fmt: skip
_CATCHER = {"ErrorEquals", "Next", "ResultPath", "Assign", "Comment"}
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Flow:
    """One level of a state machine: the top level, a Parallel branch or a Map processor."""

    start_at: str
    states: Mapping[str, dict[str, Any]]
    children: Mapping[str, tuple[Flow, ...]] = field(default_factory=dict)
    timeout_seconds: int | None = None
    # The states of this flow that use JSONata, by name (the others use JSONPath).
    jsonata: Mapping[str, Any] = field(default_factory=dict)


def substituted(definition: dict[str, Any] | str, substitutions: Mapping[str, str] | None) -> str:
    """The definition's text with its `${Name}` placeholders replaced."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    for name, value in (substitutions or {}).items():
        # Placeholders sit inside JSON strings: escape the value so it stays one.
        text = text.replace("${" + name + "}", json.dumps(str(value))[1:-1])
    return text


def load(definition: dict[str, Any] | str, substitutions: Mapping[str, str] | None) -> Flow:
    """Substitute `${Name}` placeholders, parse and validate; the result is private to us."""
    text = substituted(definition, substitutions)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as bad:
        raise DefinitionError(None, f"the definition is not valid JSON: {bad}") from None
    if not isinstance(document, dict):
        raise DefinitionError(None, "the definition must be a JSON object")
    language = document.get("QueryLanguage", JSONPATH)
    if language not in (JSONPATH, JSONATA):
        raise DefinitionError(None, f"QueryLanguage must be JSONPath or JSONata, not '{language}'")
    flow = _flow(document, _TOP_LEVEL, None, language)
    timeout = document.get("TimeoutSeconds")
    if timeout is not None and not _positive_int(timeout):
        raise DefinitionError(None, "TimeoutSeconds must be a positive integer")
    return Flow(flow.start_at, flow.states, flow.children, timeout, flow.jsonata)


JSONPATH, JSONATA = "JSONPath", "JSONata"


def _language(name: str, state: dict[str, Any], top: str) -> str:
    """A state's query language: its own field, else the state machine's (never JSONPath
    inside a JSONata machine)."""
    language = state.get("QueryLanguage", top)
    if language not in (JSONPATH, JSONATA):
        raise DefinitionError(name, f"QueryLanguage must be JSONPath or JSONata, not '{language}'")
    if top == JSONATA and language == JSONPATH:
        # AWS's own words (ValidateStateMachineDefinition, SCHEMA_VALIDATION_FAILED).
        raise DefinitionError(
            name,
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
        )
    return language


def _flow(document: Any, allowed: set[str], owner: str | None, top: str) -> Flow:
    if not isinstance(document, dict):
        raise DefinitionError(owner, "a branch or item processor must be a JSON object")
    for key in document:
        if key not in allowed:
            raise DefinitionError(owner, f"unknown field '{key}' in the state machine")
    states = document.get("States")
    if not isinstance(states, dict) or not states:
        raise DefinitionError(owner, "'States' must be a non-empty object")
    if owner is not None:
        # A branch or processor may name its states' default language (never JSONPath
        # inside a JSONata machine).
        top = _language(owner, document, top)
    start = document.get("StartAt")
    if not isinstance(start, str) or start not in states:
        raise DefinitionError(owner, f"StartAt '{start}' does not name a state in 'States'")
    children: dict[str, tuple[Flow, ...]] = {}
    compiled: dict[str, Any] = {}
    for name, state in states.items():
        jsonata = _check_state(name, state, states, top)
        if jsonata is not None:
            compiled[name] = jsonata
        if state["Type"] == "Parallel":
            children[name] = tuple(_flow(b, _NESTED, name, top) for b in state["Branches"])
        elif state["Type"] == "Map":
            children[name] = (_flow(_processor(name, state), _NESTED, name, top),)
    _check_reachable(start, states)
    return Flow(start, states, children, jsonata=compiled)


def _processor(name: str, state: dict[str, Any]) -> Any:
    if ("ItemProcessor" in state) == ("Iterator" in state):
        raise DefinitionError(name, "a Map state needs exactly one of ItemProcessor or Iterator")
    processor = state.get("ItemProcessor", state.get("Iterator"))
    if not isinstance(processor, dict) or not isinstance(
        processor.get("ProcessorConfig", {}), dict
    ):
        raise DefinitionError(name, "ItemProcessor and its ProcessorConfig must be JSON objects")
    mode = processor.get("ProcessorConfig", {}).get("Mode", "INLINE")
    if mode not in ("INLINE", "DISTRIBUTED"):
        raise DefinitionError(name, f"ProcessorConfig.Mode '{mode}' must be INLINE or DISTRIBUTED")
    return processor


def _check_state(name: str, state: Any, states: Mapping[str, Any], top: str) -> Any:
    """Validate one state; a JSONata state's compiled fields are returned (else None)."""
    if len(name) > 80:
        raise DefinitionError(name, "state names are at most 80 characters")
    if not isinstance(state, dict):
        raise DefinitionError(name, "a state must be a JSON object")
    kind = state.get("Type")
    if kind not in ALLOWED_FIELDS:
        raise DefinitionError(name, f"unknown state Type '{kind}'")
    jsonata = _language(name, state, top) == JSONATA
    if jsonata:
        return _check_jsonata_state(name, kind, state, states)
    jsonata_definition().refuse_other_language(name, state, jsonata=False)
    for key in state:
        if key not in ALLOWED_FIELDS[kind]:
            raise DefinitionError(name, f"unknown field '{key}' for a {kind} state")
    _check_transition(name, kind, state, states)
    _check_paths(name, state)
    for key in ("Parameters", "ResultSelector", "ItemSelector"):
        if key in state:
            _check_template(name, key, state[key])
    if "Assign" in state:
        _check_assign(name, state["Assign"])
    _check_errors(name, state, states, _CATCHER)
    _KIND_CHECKS.get(kind, lambda *_: None)(name, state, states)
    return None


def jsonata_definition() -> Any:
    """The JSONata half of validation, imported when a definition needs it."""
    from facepipe.engine import jsonata_definition as module

    return module


def _check_jsonata_state(name: str, kind: str, state: dict[str, Any], states: Mapping) -> Any:
    module = jsonata_definition()
    module.refuse_other_language(name, state, jsonata=True)
    _check_transition(name, kind, state, states)
    _check_errors(name, state, states, module.JSONATA_CATCHER)
    if kind == "Choice":
        rules = state.get("Choices")
        if not isinstance(rules, list) or not rules:
            raise DefinitionError(name, "a Choice state needs a non-empty 'Choices' list")
        for position, rule in enumerate(rules):
            if not isinstance(rule, dict) or rule.get("Next") not in states:
                raise DefinitionError(name, f"Choices[{position}] needs a 'Next' naming a state")
        if "Default" in state and state["Default"] not in states:
            raise DefinitionError(name, f"Default '{state['Default']}' is not a state")
    compiled = module.compile_state(name, state, _check_assign)
    if kind == "Task" and (not isinstance(state.get("Resource"), str) or not state["Resource"]):
        raise DefinitionError(name, "a Task state needs a 'Resource' string")
    if kind == "Parallel":
        _check_parallel(name, state, states)
    if kind == "Map":
        _check_map_sources(name, state, jsonata=True)
    return compiled


def _check_transition(name: str, kind: str, state: dict[str, Any], states: Mapping) -> None:
    if kind in ("Choice", "Succeed", "Fail"):
        return
    has_next, end = "Next" in state, state.get("End")
    if has_next and end:
        raise DefinitionError(name, "a state cannot have both 'Next' and 'End'")
    if not has_next and end is not True:
        raise DefinitionError(name, "the state has neither 'Next' nor 'End': true")
    if has_next and state["Next"] not in states:
        raise DefinitionError(name, f"'Next' names '{state['Next']}', which is not a state here")


_PATH_FIELDS = ("InputPath", "OutputPath", "ItemsPath", "SecondsPath", "TimestampPath",
                "TimeoutSecondsPath", "HeartbeatSecondsPath", "MaxConcurrencyPath",
                "ToleratedFailurePercentagePath", "ToleratedFailureCountPath")  # fmt: skip


def _check_paths(name: str, state: dict[str, Any]) -> None:
    for key in _PATH_FIELDS:
        if key in state and not (state[key] is None and key in _IO):
            _check_path(name, key, state[key])
    for key in ("ErrorPath", "CausePath"):
        if key in state:
            _check_expression(name, key, state[key])
    if state.get("ResultPath") is not None:
        _check_result_path(name, "ResultPath", state["ResultPath"])


def _check_path(name: str, key: str, path: Any) -> jsonpath.JsonPath:
    try:
        return jsonpath.parse(path)
    except jsonpath.PathSyntaxError as bad:
        raise DefinitionError(name, f"{key}: {bad}") from None


def _check_result_path(name: str, key: str, path: Any) -> None:
    parsed = _check_path(name, key, path)
    if parsed.root != "$" or any(s[0] != "key" for s in parsed.segments):
        raise DefinitionError(name, f"{key} '{path}' must be a reference path like '$.a.b'")


def _check_expression(name: str, key: str, text: Any) -> None:
    if not isinstance(text, str):
        raise DefinitionError(name, f"{key} must be a string (a path or an intrinsic function)")
    if is_intrinsic(text):
        functions = intrinsics()
        try:
            functions.validate_intrinsic(text)
        except functions.IntrinsicFailure as bad:
            raise DefinitionError(name, f"{key}: {bad}") from None
    else:
        _check_path(name, key, text)


def _check_template(name: str, where: str, template: Any) -> None:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                _check_expression(name, f"{where} field '{key}'", value)
            else:
                _check_template(name, where, value)
    elif isinstance(template, list):
        for item in template:
            _check_template(name, where, item)


def _check_assign(name: str, assign: Any, dollar_keys: bool = True) -> None:
    if not isinstance(assign, dict):
        raise DefinitionError(name, "Assign must be a JSON object")
    for key in assign:
        variable = key[:-2] if dollar_keys and key.endswith(".$") else key
        if not _VARIABLE_NAME.fullmatch(variable) or len(variable) > 80:
            raise DefinitionError(name, f"Assign: '{variable}' is not a valid variable name")
        if variable == "states":
            raise DefinitionError(name, "Assign: '$states' is a reserved variable")
    if dollar_keys:
        _check_template(name, "Assign", assign)


def _check_errors(name: str, state: dict[str, Any], states: Mapping, catcher: set[str]) -> None:
    for key, allowed in (("Retry", _RETRIER), ("Catch", catcher)):
        rules = state.get(key, [])
        if not isinstance(rules, list):
            raise DefinitionError(name, f"{key} must be a list")
        for position, rule in enumerate(rules):
            where = f"{key}[{position}]"
            if not isinstance(rule, dict):
                raise DefinitionError(name, f"{where} must be a JSON object")
            for field_name in rule:
                if field_name not in allowed:
                    raise DefinitionError(name, f"unknown field '{field_name}' in {where}")
            _check_error_equals(name, where, rule.get("ErrorEquals"), position == len(rules) - 1)
            if key == "Retry":
                _check_retrier(name, where, rule)
            else:
                if rule.get("Next") not in states:
                    raise DefinitionError(name, f"{where}.Next '{rule.get('Next')}' is not a state")
                if rule.get("ResultPath") is not None:
                    _check_result_path(name, f"{where}.ResultPath", rule["ResultPath"])
                if "Assign" in rule and catcher is _CATCHER:
                    _check_assign(name, rule["Assign"])


def _check_error_equals(name: str, where: str, errors: Any, last: bool) -> None:
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
        raise DefinitionError(name, f"{where}.ErrorEquals must be a non-empty list of strings")
    if ALL in errors and (len(errors) > 1 or not last):
        raise DefinitionError(name, f"{where}: States.ALL must appear alone and in the last rule")


def _check_retrier(name: str, where: str, rule: dict[str, Any]) -> None:
    checks = (
        ("IntervalSeconds", _positive_int, "a positive integer"),
        ("MaxAttempts", lambda v: _int(v) and v >= 0, "a non-negative integer"),
        ("BackoffRate", lambda v: _number(v) and v >= 1.0, "a number of at least 1.0"),
        ("MaxDelaySeconds", _positive_int, "a positive integer"),
        ("JitterStrategy", lambda v: v in ("FULL", "NONE"), "FULL or NONE"),
    )
    for key, valid, expected in checks:
        if key in rule and not valid(rule[key]):
            raise DefinitionError(name, f"{where}.{key} must be {expected}")


def _check_task(name: str, state: dict[str, Any], states: Mapping) -> None:
    if not isinstance(state.get("Resource"), str) or not state["Resource"]:
        raise DefinitionError(name, "a Task state needs a 'Resource' string")
    if state["Resource"] == LAMBDA_INVOKE:
        parameters = state.get("Parameters")
        if not isinstance(parameters, dict) or not (
            "FunctionName" in parameters or "FunctionName.$" in parameters
        ):
            raise DefinitionError(name, "lambda:invoke needs Parameters with a FunctionName")
    for key in ("TimeoutSeconds", "HeartbeatSeconds"):
        if key in state and not _positive_int(state[key]):
            raise DefinitionError(name, f"{key} must be a positive integer")
        if key in state and f"{key}Path" in state:
            raise DefinitionError(name, f"use only one of {key} and {key}Path")


def _check_wait(name: str, state: dict[str, Any], states: Mapping) -> None:
    given = [k for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if k in state]
    if len(given) != 1:
        raise DefinitionError(
            name, "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath"
        )
    if "Seconds" in state and not (_int(state["Seconds"]) and state["Seconds"] >= 0):
        raise DefinitionError(name, "Seconds must be a non-negative integer")
    if "Timestamp" in state and parse_timestamp(state["Timestamp"]) is None:
        raise DefinitionError(name, f"Timestamp '{state['Timestamp']}' is not an ISO-8601 time")


def _check_fail(name: str, state: dict[str, Any], states: Mapping) -> None:
    for key in ("Error", "Cause"):
        if key in state and f"{key}Path" in state:
            raise DefinitionError(name, f"use only one of {key} and {key}Path")
        if key in state and not isinstance(state[key], str):
            raise DefinitionError(name, f"{key} must be a string")


def _check_choice(name: str, state: dict[str, Any], states: Mapping) -> None:
    rules = state.get("Choices")
    if not isinstance(rules, list) or not rules:
        raise DefinitionError(name, "a Choice state needs a non-empty 'Choices' list")
    for position, rule in enumerate(rules):
        where = f"Choices[{position}]"
        _check_rule(name, where, rule)
        if rule.get("Next") not in states:
            raise DefinitionError(name, f"{where}.Next '{rule.get('Next')}' is not a state")
        if "Assign" in rule:
            _check_assign(name, rule["Assign"])
    if "Default" in state and state["Default"] not in states:
        raise DefinitionError(name, f"Default '{state['Default']}' is not a state")


def _check_rule(name: str, where: str, rule: Any) -> None:
    if not isinstance(rule, dict):
        raise DefinitionError(name, f"{where} must be a JSON object")
    combinators = [k for k in choice.BOOLEAN_OPERATORS if k in rule]
    if combinators:
        key = combinators[0]
        subs = rule[key] if key != "Not" else [rule[key]]
        if len(combinators) > 1 or not isinstance(subs, list) or not subs:
            raise DefinitionError(name, f"{where}: '{key}' needs a non-empty list of rules")
        for position, sub in enumerate(subs):
            _check_rule(name, f"{where}.{key}[{position}]", sub)
        return
    operator = choice.rule_operator(rule)
    if operator is None:
        raise DefinitionError(name, f"{where} needs exactly one comparison operator")
    _check_path(name, f"{where}.Variable", rule.get("Variable"))
    _check_operand(name, f"{where}.{operator}", operator, rule[operator])


def _check_operand(name: str, where: str, operator: str, operand: Any) -> None:
    if operator.endswith("Path"):
        _check_path(name, where, operand)
        return
    valid = {
        "String": lambda v: isinstance(v, str),
        "Numeric": _number,
        "Boolean": lambda v: isinstance(v, bool),
        "Timestamp": lambda v: parse_timestamp(v) is not None,
        "Is": lambda v: isinstance(v, bool),
    }
    for prefix, check in valid.items():
        if operator.startswith(prefix) and not check(operand):
            raise DefinitionError(name, f"{where}: {operand!r} is not a valid operand")


def _check_parallel(name: str, state: dict[str, Any], states: Mapping) -> None:
    if not isinstance(state.get("Branches"), list) or not state["Branches"]:
        raise DefinitionError(name, "a Parallel state needs a non-empty 'Branches' list")


def _check_map_sources(name: str, state: dict[str, Any], jsonata: bool = False) -> None:
    """A Distributed Map's ItemReader, ItemBatcher, ResultWriter and Label, as AWS checks them."""
    from facepipe.engine import distributed_definition

    distributed_definition.check(name, state, jsonata, _check_template, _check_path)


def _check_map(name: str, state: dict[str, Any], states: Mapping) -> None:
    _check_map_sources(name, state)
    if "ItemSelector" in state and "Parameters" in state:
        raise DefinitionError(name, "use only one of ItemSelector and Parameters")
    if "MaxConcurrency" in state:
        if not (_int(state["MaxConcurrency"]) and state["MaxConcurrency"] >= 0):
            raise DefinitionError(name, "MaxConcurrency must be a non-negative integer")
        if "MaxConcurrencyPath" in state:
            raise DefinitionError(name, "use only one of MaxConcurrency and MaxConcurrencyPath")
    percentage = state.get("ToleratedFailurePercentage", 0)
    if not (_number(percentage) and 0 <= percentage <= 100):
        raise DefinitionError(name, "ToleratedFailurePercentage must be between 0 and 100")
    if not (
        _int(state.get("ToleratedFailureCount", 0)) and state.get("ToleratedFailureCount", 0) >= 0
    ):
        raise DefinitionError(name, "ToleratedFailureCount must be a non-negative integer")


_KIND_CHECKS = {
    "Task": _check_task,
    "Wait": _check_wait,
    "Fail": _check_fail,
    "Choice": _check_choice,
    "Parallel": _check_parallel,
    "Map": _check_map,
}


def _check_reachable(start: str, states: Mapping[str, dict[str, Any]]) -> None:
    seen, todo = {start}, [start]
    while todo:
        state = states[todo.pop()]
        targets = [state.get("Next"), state.get("Default")]
        targets += [rule.get("Next") for rule in state.get("Choices", [])]
        targets += [rule.get("Next") for rule in state.get("Catch", [])]
        for target in targets:
            if target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    for name in states:
        if name not in seen:
            raise DefinitionError(name, f"the state is unreachable from StartAt '{start}'")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return _int(value) and value > 0
