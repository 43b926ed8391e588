"""EventBridge event patterns (content filtering), so local uploads are filtered by the very
rule the CDK stack deploys.

Semantics follow EventBridge: every field of the pattern must match; a field's array lists
alternatives (any may match); when the event holds an array, any element may match; only
leaf values (not objects, not empty arrays) count as present; ``$or`` takes alternative
sub-patterns. Operators: exact values (string, number, boolean, null), ``prefix``,
``suffix`` (both also with ``equals-ignore-case``), ``equals-ignore-case``, ``wildcard``,
``anything-but`` (values, or prefix/suffix/equals-ignore-case/wildcard), ``exists``,
``numeric`` and ``cidr``.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

_MISSING = object()
_NUMERIC_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OPERATORS = (
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "exists",
    "numeric",
    "cidr",
)


class EventPatternError(ValueError):
    """The pattern is not one EventBridge would accept; the message says where and why."""


class EventPattern:
    """A validated pattern; ``matches(event)`` says whether a rule with it would fire."""

    def __init__(self, pattern: Mapping[str, Any] | str) -> None:
        if isinstance(pattern, str):
            try:
                pattern = json.loads(pattern)
            except json.JSONDecodeError as exc:
                raise EventPatternError(f"the event pattern is not valid JSON: {exc}") from None
        if not isinstance(pattern, Mapping):
            raise EventPatternError("an event pattern must be a JSON object")
        _validate_object(pattern, "")
        self.pattern: Mapping[str, Any] = pattern

    def matches(self, event: Mapping[str, Any]) -> bool:
        return _match_object(self.pattern, event)

    def __repr__(self) -> str:
        return f"EventPattern({json.dumps(self.pattern)})"


# --- matching ---------------------------------------------------------------------------------
def _match_object(pattern: Mapping[str, Any], node: Any) -> bool:
    fields = node if isinstance(node, Mapping) else {}
    for name, rule in pattern.items():
        if name == "$or":
            if not any(_match_object(alternative, node) for alternative in rule):
                return False
        elif isinstance(rule, Mapping):
            if not _match_nested(rule, fields.get(name, _MISSING)):
                return False
        elif not _match_leaf(rule, fields.get(name, _MISSING)):
            return False
    return True


def _match_nested(pattern: Mapping[str, Any], value: Any) -> bool:
    if isinstance(value, list):  # an array of objects: any one element may match
        objects = [item for item in value if isinstance(item, Mapping)]
        return any(_match_object(pattern, item) for item in objects or [{}])
    return _match_object(pattern, value)


def _leaf_values(value: Any) -> list[Any]:
    """The leaf values at a field: none when absent, an object, or an empty array."""
    if value is _MISSING or isinstance(value, Mapping):
        return []
    if isinstance(value, list):
        return [item for item in value if not isinstance(item, Mapping | list)]
    return [value]


def _match_leaf(matchers: list[Any], value: Any) -> bool:
    values = _leaf_values(value)
    for matcher in matchers:
        if isinstance(matcher, Mapping) and "exists" in matcher:
            if matcher["exists"] == bool(values):
                return True
        elif any(_match_value(matcher, item) for item in values):
            return True
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _match_literal(expected: Any, value: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return value is expected
    if _is_number(expected):
        return _is_number(value) and value == expected
    return isinstance(value, str) and value == expected


def _match_value(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, Mapping):
        return _match_literal(matcher, value)
    ((name, argument),) = matcher.items()
    if name == "anything-but":
        return _match_anything_but(argument, value)
    if name == "numeric":
        return _is_number(value) and all(
            _NUMERIC_OPERATORS[op](value, bound)
            for op, bound in zip(argument[::2], argument[1::2], strict=True)
        )
    if name == "cidr":
        return _match_cidr(argument, value)
    if not isinstance(value, str):
        return False
    return _match_string(name, argument, value)


def _match_string(name: str, argument: Any, value: str) -> bool:
    if name in ("prefix", "suffix"):
        test = str.startswith if name == "prefix" else str.endswith
        if isinstance(argument, Mapping):
            return test(value.lower(), argument["equals-ignore-case"].lower())
        return test(value, argument)
    if name == "equals-ignore-case":
        options = argument if isinstance(argument, list) else [argument]
        return any(value.lower() == option.lower() for option in options)
    if name == "wildcard":
        options = argument if isinstance(argument, list) else [argument]
        return any(_wildcard_regex(option).fullmatch(value) for option in options)
    raise AssertionError(f"unvalidated operator {name}")  # validation rejects others


def _match_anything_but(argument: Any, value: Any) -> bool:
    if isinstance(argument, Mapping):
        ((name, inner),) = argument.items()
        return isinstance(value, str) and not _match_string(name, inner, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_match_literal(item, value) for item in excluded)


def _match_cidr(network: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


@lru_cache(maxsize=256)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; ``\\*`` and ``\\\\`` are a literal ``*`` and ``\\``."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


# --- validation -------------------------------------------------------------------------------
def _where(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _validate_object(pattern: Mapping[str, Any], path: str) -> None:
    if not pattern and path:
        raise EventPatternError(f"{path}: an empty object matches nothing; remove it")
    for name, rule in pattern.items():
        where = _where(path, name)
        if name == "$or":
            _validate_or(rule, where)
        elif isinstance(rule, Mapping):
            _validate_object(rule, where)
        elif isinstance(rule, list):
            if not rule:
                raise EventPatternError(f"{where}: an empty array matches nothing")
            for matcher in rule:
                _validate_matcher(matcher, where)
        else:
            raise EventPatternError(
                f"{where}: must be an object or an array of values, "
                f"got {json.dumps(rule)} (write [{json.dumps(rule)}])"
            )


def _validate_or(alternatives: Any, where: str) -> None:
    if not isinstance(alternatives, list) or len(alternatives) < 2:
        raise EventPatternError(f"{where}: must be an array of at least two sub-patterns")
    for alternative in alternatives:
        if not isinstance(alternative, Mapping) or not alternative:
            raise EventPatternError(f"{where}: each alternative must be a non-empty object")
        _validate_object(alternative, where)


def _validate_matcher(matcher: Any, where: str) -> None:
    if matcher is None or isinstance(matcher, str | bool) or _is_number(matcher):
        return
    if not isinstance(matcher, Mapping):
        raise EventPatternError(f"{where}: {json.dumps(matcher)} is not a value or an operator")
    if len(matcher) != 1:
        raise EventPatternError(f"{where}: an operator object holds exactly one operator")
    ((name, argument),) = matcher.items()
    checks: dict[str, Callable[[Any, str], None]] = {
        "prefix": _validate_affix,
        "suffix": _validate_affix,
        "equals-ignore-case": _validate_strings,
        "wildcard": _validate_wildcards,
        "anything-but": _validate_anything_but,
        "exists": _validate_exists,
        "numeric": _validate_numeric,
        "cidr": _validate_cidr,
    }
    if name not in checks:
        raise EventPatternError(
            f"{where}: unknown operator {name!r}; known: {', '.join(_OPERATORS)}"
        )
    checks[name](argument, f"{where} {name}")


def _validate_affix(argument: Any, where: str) -> None:
    if isinstance(argument, Mapping):
        if list(argument) != ["equals-ignore-case"] or not isinstance(
            argument["equals-ignore-case"], str
        ):
            raise EventPatternError(f"{where}: only {{'equals-ignore-case': string}} nests here")
    elif not isinstance(argument, str):
        raise EventPatternError(f"{where}: needs a string")


def _validate_strings(argument: Any, where: str) -> None:
    options = argument if isinstance(argument, list) else [argument]
    if not options or not all(isinstance(option, str) for option in options):
        raise EventPatternError(f"{where}: needs a string or an array of strings")


def _validate_wildcards(argument: Any, where: str) -> None:
    _validate_strings(argument, where)
    for option in argument if isinstance(argument, list) else [argument]:
        if "**" in option:
            raise EventPatternError(f"{where}: consecutive wildcards ('**') are not allowed")


def _validate_anything_but(argument: Any, where: str) -> None:
    if isinstance(argument, Mapping):
        if len(argument) != 1:
            raise EventPatternError(f"{where}: nests exactly one operator")
        ((name, inner),) = argument.items()
        nested: dict[str, Callable[[Any, str], None]] = {
            "prefix": _validate_affix,
            "suffix": _validate_affix,
            "equals-ignore-case": _validate_strings,
            "wildcard": _validate_wildcards,
        }
        if name not in nested:
            raise EventPatternError(
                f"{where}: {name!r} cannot nest here; use one of {', '.join(nested)}"
            )
        if name in ("prefix", "suffix") and not isinstance(inner, str):
            raise EventPatternError(f"{where} {name}: needs a string")
        nested[name](inner, f"{where} {name}")
        return
    items = argument if isinstance(argument, list) else [argument]
    if not items or not all(isinstance(i, str) or _is_number(i) for i in items):
        raise EventPatternError(f"{where}: needs strings or numbers (or an array of them)")


def _validate_exists(argument: Any, where: str) -> None:
    if not isinstance(argument, bool):
        raise EventPatternError(f"{where}: needs true or false")


def _validate_numeric(argument: Any, where: str) -> None:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise EventPatternError(f"{where}: needs [op, number] or [op, number, op, number]")
    for op, bound in zip(argument[::2], argument[1::2], strict=True):
        if op not in _NUMERIC_OPERATORS or not _is_number(bound):
            raise EventPatternError(
                f"{where}: {json.dumps([op, bound])} is not an operator "
                f"({', '.join(_NUMERIC_OPERATORS)}) followed by a number"
            )


def _validate_cidr(argument: Any, where: str) -> None:
    try:
        ipaddress.ip_network(argument, strict=False)
    except (TypeError, ValueError):
        raise EventPatternError(f"{where}: {argument!r} is not an IP network") from None
