"""EventBridge event patterns (content filtering), so local uploads are filtered by the very
rule the CDK stack deploys, and a pattern EventBridge would refuse is refused here first.

EventBridge matches with aws/event-ruler, and this module follows it:

- Validation follows event-ruler's ``JsonRuleCompiler``: the same checks in the same order,
  with its messages as the reason, in EventBridge's ``InvalidEventPatternException`` text
  ("Event pattern is not valid. Reason: ..."). Where EventBridge adds Jackson's position
  ("at [Source: ...; line: 1, column: 56]") this module names the field instead.
- Wildcard patterns are scored as event-ruler's ``MachineComplexityEvaluator`` scores them
  (``wildcard_complexity``); a rule above ``MAX_WILDCARD_COMPLEXITY`` is refused with the
  message EventBridge returns for it.
- Matching: every field of the pattern must match; a field's array lists alternatives; when
  the event holds an array, any element may match (and the fields of a pattern object must
  all match within one element of an array of objects); only leaf values count as present;
  ``$or`` takes alternative sub-patterns. Event-ruler compares a string with its quotes, so
  the string operators (``prefix``, ``suffix``, ``equals-ignore-case``, ``wildcard``) never
  match a number, boolean or null, and every ``anything-but`` form matches them.
"""

from __future__ import annotations

import ipaddress
import json
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeGuard

from facepipe.local.events.wildcard_complexity import STAR, parse_wildcard
from facepipe.local.events.wildcard_complexity import complexity as wildcard_complexity

# The highest wildcard complexity EventBridge is known to accept. It publishes no number;
# real PutRule calls bracket it: 8 and 9 were accepted, 12 and 16 refused ("Rule is too
# complex"), scored here as event-ruler scores them (tests/unit/local/
# test_local_wildcard_complexity.py has the patterns). 10 and 11 are unknown, so refused.
MAX_WILDCARD_COMPLEXITY = 9
TOO_COMPLEX = (
    "Rule is too complex - try using fewer wildcard characters or fewer repeating character "
    "sequences after a wildcard character"
)
OR = "$or"
# Field names event-ruler reserves inside "$or" (Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP).
_RESERVED_IN_OR = frozenset(
    {
        "equals",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MISSING = object()


class EventPatternError(ValueError):
    """EventBridge's InvalidEventPatternException: the pattern would be refused at PutRule."""

    code = "InvalidEventPatternException"

    def __init__(self, reason: str, where: str = "") -> None:
        self.reason = reason
        self.where = where
        located = f" (at {where})" if where else ""
        super().__init__(f"Event pattern is not valid. Reason: {reason}{located}")


class EventPattern:
    """A validated pattern; ``matches(event)`` says whether a rule with it would fire."""

    def __init__(self, pattern: Mapping[str, Any] | str) -> None:
        if isinstance(pattern, str):
            try:
                pattern = json.loads(pattern)
            except json.JSONDecodeError as exc:
                # EventBridge's words for text that is not JSON (as moto records them).
                raise EventPatternError(f"Invalid JSON ({exc})") from None
        if not isinstance(pattern, Mapping):
            raise EventPatternError("Filter is not an object")
        _validate_object(pattern, "", inside_or=False)
        self.wildcard_complexity = pattern_complexity(pattern)
        if self.wildcard_complexity > MAX_WILDCARD_COMPLEXITY:
            raise EventPatternError(TOO_COMPLEX)
        self.pattern: Mapping[str, Any] = pattern

    def matches(self, event: Mapping[str, Any]) -> bool:
        return _match_object(self.pattern, event)

    def __repr__(self) -> str:
        return f"EventPattern({json.dumps(self.pattern)})"


# --- complexity -------------------------------------------------------------------------------
def pattern_complexity(pattern: Mapping[str, Any], cap: int = MAX_WILDCARD_COMPLEXITY + 1) -> int:
    """The rule's wildcard complexity: the highest score of any one field's patterns.

    A field's patterns are pooled across ``$or`` branches, which can only score as high as
    event-ruler's machine for the rule or higher. Scoring stops at ``cap``.
    """
    by_field: dict[str, list[str]] = {}
    for field, value in _wildcard_values(pattern, ""):
        by_field.setdefault(field, []).append(value)
    return max(
        (wildcard_complexity(values, cap=cap) for values in by_field.values()),
        default=0,
    )


def _wildcard_values(pattern: Mapping[str, Any], path: str) -> Iterator[tuple[str, str]]:
    for name, rule in pattern.items():
        if name == OR:
            for alternative in rule:
                yield from _wildcard_values(alternative, path)
        elif isinstance(rule, Mapping):
            yield from _wildcard_values(rule, _where(path, name))
        else:
            for matcher in rule:
                if isinstance(matcher, Mapping):
                    for value in _wildcards_of(matcher):
                        yield _where(path, name), value


def _wildcards_of(matcher: Mapping[str, Any]) -> list[str]:
    if "wildcard" in matcher:
        return [matcher["wildcard"]]
    inner = matcher.get("anything-but")
    if isinstance(inner, Mapping) and "wildcard" in inner:
        values = inner["wildcard"]
        return list(values) if isinstance(values, list) else [values]
    return []


# --- matching ---------------------------------------------------------------------------------
def _match_object(pattern: Mapping[str, Any], node: Any) -> bool:
    fields = node if isinstance(node, Mapping) else {}
    for name, rule in pattern.items():
        if name == OR:
            if not any(_match_object(alternative, node) for alternative in rule):
                return False
        elif isinstance(rule, Mapping):
            if not _match_nested(rule, fields.get(name, _MISSING)):
                return False
        elif not _match_leaf(rule, fields.get(name, _MISSING)):
            return False
    return True


def _match_nested(pattern: Mapping[str, Any], value: Any) -> bool:
    if isinstance(value, list):  # an array of objects: the fields must match in one element
        objects = [item for item in _flatten(value) if isinstance(item, Mapping)]
        return any(_match_object(pattern, item) for item in objects or [{}])
    return _match_object(pattern, value)


def _flatten(values: list[Any]) -> Iterator[Any]:
    for item in values:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _leaf_values(value: Any) -> list[Any]:
    """The leaf values at a field: none when absent, an object, or an empty array."""
    if value is _MISSING or isinstance(value, Mapping):
        return []
    if isinstance(value, list):
        return [item for item in _flatten(value) if not isinstance(item, Mapping)]
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


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _match_literal(expected: Any, value: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return value is expected
    if _is_number(expected):
        return _is_number(value) and value == expected
    if not isinstance(value, str):
        return False
    # event-ruler turns a pattern string that is an IP address into a range of one address.
    return value == expected or _same_ip(expected, value)


def _same_ip(expected: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(expected) == ipaddress.ip_address(value)
    except ValueError:
        return False


def _match_value(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, Mapping):
        return _match_literal(matcher, value)
    ((name, argument),) = matcher.items()
    if name == "anything-but":
        return _match_anything_but(argument, value)
    if name == "numeric":
        return _is_number(value) and all(
            _COMPARISONS[op](value, bound)
            for op, bound in zip(argument[::2], argument[1::2], strict=True)
        )
    if name == "cidr":
        return _match_cidr(argument, value)
    return isinstance(value, str) and _match_string(name, argument, value)


def _options(argument: Any) -> list[Any]:
    return argument if isinstance(argument, list) else [argument]


def _match_string(name: str, argument: Any, value: str) -> bool:
    if name in ("prefix", "suffix"):
        test = str.startswith if name == "prefix" else str.endswith
        if isinstance(argument, Mapping):
            option = argument["equals-ignore-case"]
            start = 0 if name == "prefix" else len(value) - len(option)
            part = value[start : start + len(option)]
            return len(value) >= len(option) and _equal_ignoring_case(part, option)
        return any(test(value, option) for option in _options(argument))
    if name == "equals-ignore-case":
        return any(_equal_ignoring_case(value, option) for option in _options(argument))
    if name == "wildcard":
        return any(_wildcard_matches(option, value) for option in _options(argument))
    raise AssertionError(f"unvalidated operator {name}")  # validation rejects others


def _equal_ignoring_case(value: str, option: str) -> bool:
    return value.lower() == option.lower() or value.upper() == option.upper()


def _match_anything_but(argument: Any, value: Any) -> bool:
    if isinstance(argument, Mapping):
        ((name, inner),) = argument.items()
        return not (isinstance(value, str) and _match_string(name, inner, value))
    return not any(_match_literal(item, value) for item in _options(argument))


def _match_cidr(network: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


@lru_cache(maxsize=512)
def _wildcard_elements(pattern: str) -> tuple[int, ...]:
    return parse_wildcard(pattern)


def _wildcard_matches(pattern: str, value: str) -> bool:
    """Byte-wise, as event-ruler matches: ``*`` takes any run of bytes, including none."""
    elements, data = _wildcard_elements(pattern), value.encode("utf-8")
    reachable = {0}  # how many pattern elements are matched, for each way through the value
    reachable |= {i + 1 for i in reachable if i < len(elements) and elements[i] == STAR}
    for byte in data:
        following: set[int] = set()
        for i in reachable:
            if i and elements[i - 1] == STAR:
                following.add(i)
            if i < len(elements) and elements[i] == byte:
                following.add(i + 1)
        following |= {i + 1 for i in following if i < len(elements) and elements[i] == STAR}
        reachable = following
        if not reachable:
            return False
    return len(elements) in reachable


# --- validation (event-ruler's JsonRuleCompiler, its messages) --------------------------------
def _where(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _validate_object(pattern: Mapping[str, Any], path: str, *, inside_or: bool) -> None:
    if not pattern:
        raise EventPatternError("Empty objects are not allowed", path)
    for name, rule in pattern.items():
        if name == OR:
            _validate_or(rule, path)
            continue
        where = _where(path, name)
        if inside_or and name in _RESERVED_IN_OR:
            raise EventPatternError(
                f"{name} is Ruler reserved fieldName which cannot be used inside {OR}.", where
            )
        if isinstance(rule, Mapping):
            _validate_object(rule, where, inside_or=inside_or)
        elif isinstance(rule, list):
            _validate_values(rule, where)
        else:
            raise EventPatternError(f'"{name}" must be an object or an array', where)


def _validate_or(alternatives: Any, path: str) -> None:
    where = _where(path, OR)
    if not isinstance(alternatives, list):
        raise EventPatternError(f"It must be an Array followed with {OR}.", where)
    for alternative in alternatives:
        if not isinstance(alternative, Mapping):
            raise EventPatternError(
                f"Only JSON object is allowed in array of {OR} relationship.", where
            )
        _validate_object(alternative, path, inside_or=True)
    if len(alternatives) < 2:
        raise EventPatternError(f"There must have at least 2 Objects in {OR} relationship.", where)


def _validate_values(values: list[Any], where: str) -> None:
    for value in values:
        if isinstance(value, Mapping):
            _validate_matcher(value, where)
        elif not (value is None or isinstance(value, str | bool) or _is_number(value)):
            raise EventPatternError(
                "Match value must be String, number, true, false, or null", where
            )
    if not values:
        raise EventPatternError("Empty arrays are not allowed", where)


def _validate_matcher(matcher: Mapping[str, Any], where: str) -> None:
    if not matcher:
        raise EventPatternError("Match expression name not found", where)
    name, argument = next(iter(matcher.items()))
    check = _MATCHER_CHECKS.get(name)
    if check is None:
        raise EventPatternError(f"Unrecognized match type {name}", where)
    check(argument, where)
    if len(matcher) > 1:
        many = "Too many elements in numeric expression"
        raise EventPatternError(
            many
            if name in ("numeric", "anything-but")
            else "Only one key allowed in match expression",
            where,
        )


def _needs_string(argument: Any, message: str, where: str) -> None:
    if not isinstance(argument, str):
        raise EventPatternError(message, where)


def _validate_affix(name: str) -> Callable[[Any, str], None]:
    def check(argument: Any, where: str) -> None:
        if isinstance(argument, Mapping):
            _validate_ignore_case_affix(name, argument, where)
        else:
            _needs_string(argument, f"{name} match pattern must be a string", where)

    return check


def _validate_ignore_case_affix(name: str, argument: Mapping[str, Any], where: str) -> None:
    title = name.capitalize()
    if not argument:
        raise EventPatternError(f"{title} expression name not found", where)
    inner_name, inner = next(iter(argument.items()))
    if inner_name != "equals-ignore-case":
        raise EventPatternError(f"Unsupported {name} pattern: {inner_name}", where)
    _needs_string(inner, "equals-ignore-case match pattern must be a string", where)
    if len(argument) > 1:
        raise EventPatternError("Only one key allowed in match expression", where)


def _validate_wildcard(argument: Any, where: str) -> None:
    _needs_string(argument, "wildcard match pattern must be a string", where)
    try:
        parse_wildcard(argument)
    except ValueError as error:
        raise EventPatternError(str(error), where) from None


def _validate_numeric(argument: Any, where: str) -> None:
    if not isinstance(argument, list):
        raise EventPatternError("Value of numeric must be an array.", where)
    terms = [*argument, "]"]  # "]": the end of the array, as the parser meets it
    first, bound = terms[0], terms[1] if len(terms) > 1 else "]"
    if not isinstance(first, str) or first == "]":
        raise EventPatternError(f"Invalid member in numeric match: {_text(first)}", where)
    if first not in _COMPARISONS:
        raise EventPatternError(f"Unrecognized numeric range operator: {first}", where)
    if not _is_number(bound):
        name = "equals" if first == "=" else first
        raise EventPatternError(f"Value of {name} must be numeric", where)
    _comparable(bound, where)
    if len(argument) == 2:
        return
    if first not in (">", ">="):
        raise EventPatternError("Too many elements in numeric expression", where)
    upper, top = terms[2], terms[3]
    if not isinstance(upper, str):
        raise EventPatternError(f"Bad value in numeric range: {_text(upper)}", where)
    if upper not in ("<", "<="):
        raise EventPatternError(f"Bad numeric range operator: {upper}", where)
    if not _is_number(top):
        raise EventPatternError(f"Value of {upper} must be numeric", where)
    _comparable(top, where)
    if len(argument) > 4:
        raise EventPatternError("Too many terms in numeric range expression", where)
    if not bound < top:  # event-ruler's Range
        raise EventPatternError("Bottom must be less than top", where)


def _comparable(number: int | float, where: str) -> None:
    """event-ruler compares numbers as doubles and refuses one a double cannot hold exactly."""
    exact = Decimal(number) if isinstance(number, int) else Decimal(repr(number))
    try:
        as_double = float(number)
        same = not math.isinf(as_double) and Decimal(repr(as_double)) == exact
    except (OverflowError, InvalidOperation):
        same = False
    if not same:
        raise EventPatternError(f"Cannot compare number : {number}", where)


def _text(value: Any) -> str:
    """What Jackson's getText() gives for the token event-ruler stopped at."""
    if isinstance(value, Mapping):
        return "{"
    if isinstance(value, list):
        return "["
    return "null" if value is None else json.dumps(value).strip('"')


def _validate_anything_but(argument: Any, where: str) -> None:
    if isinstance(argument, Mapping):
        _validate_anything_but_operator(argument, where)
        return
    if isinstance(argument, list):
        kinds = set()
        for item in argument:
            if isinstance(item, str):
                kinds.add("string")
            elif _is_number(item):
                _comparable(item, where)
                kinds.add("number")
            else:
                raise EventPatternError(
                    "Inside anything but list, start|null|boolean is not supported.", where
                )
        if len(kinds) != 1:
            raise EventPatternError(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported",
                where,
            )
        return
    if isinstance(argument, str):
        return
    if _is_number(argument):
        _comparable(argument, where)
        return
    raise EventPatternError(
        "Value of anything-but must be an array or single string/number value.", where
    )


def _validate_anything_but_operator(argument: Mapping[str, Any], where: str) -> None:
    if not argument:
        raise EventPatternError("Anything-But expression name not found", where)
    name, inner = next(iter(argument.items()))
    if name not in ("equals-ignore-case", "prefix", "suffix", "wildcard"):
        raise EventPatternError(f"Unsupported anything-but pattern: {name}", where)
    if not isinstance(inner, list | str) and not _is_number(inner):
        raise EventPatternError(
            "Value of anything-but must be an array or single string/number value.", where
        )
    for item in _options(inner):
        if not isinstance(item, str):
            raise EventPatternError(_anything_but_type_message(name), where)
        if name in ("prefix", "suffix") and not item:
            raise EventPatternError("Null prefix/suffix not allowed", where)
        if name == "wildcard":
            _validate_wildcard(item, where)
    if len(argument) > 1:
        raise EventPatternError("Too many elements in numeric expression", where)


def _anything_but_type_message(name: str) -> str:
    if name == "equals-ignore-case":
        return (
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
            "supported."
        )
    if name == "wildcard":
        return "wildcard match pattern must be a string"
    return "prefix/suffix match pattern must be a string"


def _validate_exists(argument: Any, where: str) -> None:
    if not isinstance(argument, bool):
        raise EventPatternError("exists match pattern must be either true or false.", where)


def _validate_cidr(argument: Any, where: str) -> None:
    # event-ruler's CIDR.cidr; its own message for a non-string says "prefix".
    _needs_string(argument, "prefix match pattern must be a string", where)
    address, slash, bits = argument.partition("/")
    if not slash or "/" in bits:
        raise EventPatternError("Malformed CIDR, one '/' required", where)
    try:
        mask = int(bits)
    except ValueError:
        raise EventPatternError("Malformed CIDR, mask bits must be an integer", where) from None
    if mask < 0:
        raise EventPatternError("Malformed CIDR, mask bits must not be negative", where)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise EventPatternError(f"Nonstandard IP address: {address}", where) from None
    if ip.version == 4 and mask > 31:
        raise EventPatternError("IPv4 mask bits must be < 32", where)
    if ip.version == 6 and mask > 127:
        raise EventPatternError("IPv6 mask bits must be < 128", where)


def _validate_equals_ignore_case(argument: Any, where: str) -> None:
    _needs_string(argument, "equals-ignore-case match pattern must be a string", where)


_MATCHER_CHECKS: dict[str, Callable[[Any, str], None]] = {
    "prefix": _validate_affix("prefix"),
    "suffix": _validate_affix("suffix"),
    "equals-ignore-case": _validate_equals_ignore_case,
    "wildcard": _validate_wildcard,
    "anything-but": _validate_anything_but,
    "exists": _validate_exists,
    "numeric": _validate_numeric,
    "cidr": _validate_cidr,
}
