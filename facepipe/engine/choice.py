"""Choice rules: the comparison operators, And/Or/Not, and the type tests."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from facepipe.engine import jsonpath
from facepipe.engine.errors import RuntimeFailure
from facepipe.engine.payload import Scope, select
from facepipe.engine.timestamps import parse_timestamp


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(a: Any, b: Any, test: Callable[[Any, Any], bool]) -> bool:
    return _is_number(a) and _is_number(b) and test(a, b)


def _strings(a: Any, b: Any, test: Callable[[Any, Any], bool]) -> bool:
    return isinstance(a, str) and isinstance(b, str) and test(a, b)


def _timestamps(a: Any, b: Any, test: Callable[[Any, Any], bool]) -> bool:
    left, right = parse_timestamp(a), parse_timestamp(b)
    return left is not None and right is not None and test(left, right)


def _booleans(a: Any, b: Any) -> bool:
    return isinstance(a, bool) and isinstance(b, bool) and a == b


@functools.lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    # `*` matches any run of characters; `\*` and `\\` are literal.
    parts, pos = [], 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\" and pos + 1 < len(pattern):
            parts.append(re.escape(pattern[pos + 1]))
            pos += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        pos += 1
    return re.compile("".join(parts), re.DOTALL)


def _string_matches(value: Any, pattern: Any) -> bool:
    return isinstance(value, str) and bool(_wildcard(pattern).fullmatch(value))


_EQ, _LT, _GT = (lambda a, b: a == b), (lambda a, b: a < b), (lambda a, b: a > b)
_LE, _GE = (lambda a, b: a <= b), (lambda a, b: a >= b)

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda a, b: _strings(a, b, _EQ),
    "StringLessThan": lambda a, b: _strings(a, b, _LT),
    "StringGreaterThan": lambda a, b: _strings(a, b, _GT),
    "StringLessThanEquals": lambda a, b: _strings(a, b, _LE),
    "StringGreaterThanEquals": lambda a, b: _strings(a, b, _GE),
    "StringMatches": _string_matches,
    "NumericEquals": lambda a, b: _numbers(a, b, _EQ),
    "NumericLessThan": lambda a, b: _numbers(a, b, _LT),
    "NumericGreaterThan": lambda a, b: _numbers(a, b, _GT),
    "NumericLessThanEquals": lambda a, b: _numbers(a, b, _LE),
    "NumericGreaterThanEquals": lambda a, b: _numbers(a, b, _GE),
    "BooleanEquals": _booleans,
    "TimestampEquals": lambda a, b: _timestamps(a, b, _EQ),
    "TimestampLessThan": lambda a, b: _timestamps(a, b, _LT),
    "TimestampGreaterThan": lambda a, b: _timestamps(a, b, _GT),
    "TimestampLessThanEquals": lambda a, b: _timestamps(a, b, _LE),
    "TimestampGreaterThanEquals": lambda a, b: _timestamps(a, b, _GE),
}

TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}

# Every operator a comparison rule may use (the *Path forms take a path as the operand).
OPERATORS = frozenset(
    {*COMPARISONS, *(f"{name}Path" for name in COMPARISONS if name != "StringMatches")}
    | {*TYPE_TESTS, "IsPresent"}
)
BOOLEAN_OPERATORS = ("And", "Or", "Not")


def rule_operator(rule: dict[str, Any]) -> str | None:
    """The single data-test operator in a comparison rule, if it has exactly one."""
    found = [key for key in rule if key in OPERATORS]
    return found[0] if len(found) == 1 else None


def matches(rule: dict[str, Any], data: Any, scope: Scope) -> bool:
    """Whether a (possibly nested) choice rule holds for the state's effective input."""
    if "And" in rule:
        return all(matches(sub, data, scope) for sub in rule["And"])
    if "Or" in rule:
        return any(matches(sub, data, scope) for sub in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data, scope)
    operator = rule_operator(rule)
    if operator is None:
        raise RuntimeFailure(f"choice rule has no single comparison operator: {rule}")
    expected = rule[operator]
    variable = rule["Variable"]
    if operator == "IsPresent":
        return _is_present(variable, data, scope) == expected
    value = _variable_value(variable, data, scope)
    if operator in TYPE_TESTS:
        return TYPE_TESTS[operator](value) == expected
    if operator.endswith("Path"):
        operator = operator[:-4]
        expected = _variable_value(expected, data, scope)
    return COMPARISONS[operator](value, expected)


def _is_present(variable: str, data: Any, scope: Scope) -> bool:
    try:
        found = select(variable, data, scope)
    except jsonpath.PathNotFound:
        return False
    return not (isinstance(found, list) and not jsonpath.parse(variable).definite and not found)


def _variable_value(variable: str, data: Any, scope: Scope) -> Any:
    try:
        return select(variable, data, scope)
    except jsonpath.PathNotFound:
        raise RuntimeFailure(
            f"Invalid path '{variable}': The choice state's condition path references an "
            "invalid value."
        ) from None
