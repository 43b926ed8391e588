"""Amazon States Language intrinsic functions (``States.*``) for JSONPath states.

The engine calls :func:`is_intrinsic` on every ``.$`` value and :func:`evaluate_intrinsic`
on those that are calls; any bad call raises :class:`IntrinsicFailure`, which the engine
reports as ``States.IntrinsicFailure`` with the message as cause. At definition time
:func:`validate_intrinsic` checks syntax, names and argument counts, and
:func:`intrinsic_paths` lists the path arguments so they can be checked too.

Supported: States.Format, StringToJson, JsonToString, Array, ArrayPartition, ArrayContains,
ArrayRange, ArrayGetItem, ArrayLength, ArrayUnique, Base64Encode, Base64Decode, Hash,
JsonMerge, MathRandom, MathAdd, StringSplit, UUID, nested calls (up to 10 deep).

Arguments: ``'string'`` literals (escapes ``\\'`` ``\\{`` ``\\}`` ``\\\\``; any other backslash
is an error), integer and decimal numbers (optionally negative, exponent allowed), ``true``,
``false``, ``null``, paths (``$``, ``$.a['b c'][0]``, ``$$.Execution.Id``, ``$var.x``) handed
as written to the caller's ``resolve_path``, and nested ``States.*`` calls.

AWS semantics followed (from the developer guide and executions recorded against AWS):
- numbers that must be integers (MathAdd, MathRandom, ArrayRange, ArrayPartition, ArrayGetItem)
  are rounded like Java's ``Math.round`` (half up: 1.5 -> 2, -1.5 -> -1, -0.5 -> 0);
- MathAdd takes int32 operands; StringSplit splits on *any* character of the delimiter and
  drops empty pieces; StringToJson of a blank string is null; JsonToString is compact;
  Format renders null/true/1.1 as JSON text and objects/arrays Java-style (``{a=1, b=[]}``);
  ``\\{}`` in a Format literal is a literal ``{}``, not a placeholder; ArrayContains and
  ArrayUnique compare JSON values (key order ignored, ``1`` differs from ``true``);
  ArrayRange is inclusive of its end and capped at 1000 items; Base64 and Hash inputs are
  capped at 10,000 characters; JsonMerge is shallow only.

Known divergences: MathRandom with a seed is deterministic but not the same number AWS would
draw; floats in Format use Python's spelling for exponents (``1e+20``, AWS ``1.0E20``);
Base64Encode never wraps lines; causes are worded here, not copied from AWS; the nesting
limit counts depth, where AWS may count calls.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "IntrinsicFailure",
    "evaluate_intrinsic",
    "intrinsic_paths",
    "is_intrinsic",
    "validate_intrinsic",
]

PathResolver = Callable[[str], Any]

MAX_NESTING = 10
MAX_RANGE_ITEMS = 1000
MAX_TEXT_CHARS = 10_000
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class IntrinsicFailure(Exception):
    """A States.* call that cannot be parsed or evaluated (reported as States.IntrinsicFailure)."""


# --- syntax tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _TextLiteral:
    """A quoted string; ``pieces`` are the text between unescaped ``{}`` placeholders."""

    pieces: tuple[str, ...]

    @property
    def value(self) -> str:
        return "{}".join(self.pieces)


@dataclass(frozen=True)
class _Path:
    path: str


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[_Node, ...]


_Node = _Literal | _TextLiteral | _Path | _Call

# --- parser -------------------------------------------------------------------------------

_CALL_START = re.compile(r"States\.([A-Za-z0-9]+)\s*\(")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_KEYWORD = re.compile(r"(true|false|null)\b")
_KEYWORD_VALUES = {"true": True, "false": False, "null": None}
_ESCAPABLE = "'{}\\"


def is_intrinsic(text: str) -> bool:
    """Whether a ``.$`` value is an intrinsic call rather than a path.

    Only the opening ``States.Name(`` is checked, so a malformed call is still treated as a
    call and fails with a syntax message rather than as a path that matches nothing.
    """
    return isinstance(text, str) and _CALL_START.match(text) is not None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str) -> IntrinsicFailure:
        return IntrinsicFailure(
            f"Invalid intrinsic function {self.text!r}: {reason} (at character {self.pos + 1})"
        )

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def parse(self) -> _Call:
        self.skip_spaces()
        call = self.call(depth=1)
        self.skip_spaces()
        if self.pos != len(self.text):
            raise self.fail(f"unexpected {self.text[self.pos :]!r} after the closing ')'")
        return call

    def call(self, depth: int) -> _Call:
        match = _CALL_START.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a call such as States.Format(...)")
        if depth > MAX_NESTING:
            raise self.fail(f"intrinsic functions nest at most {MAX_NESTING} deep")
        name = f"States.{match.group(1)}"
        self.pos = match.end()
        args: list[_Node] = []
        self.skip_spaces()
        if self.peek() == ")":
            self.pos += 1
            return _Call(name, ())
        while True:
            args.append(self.argument(depth))
            self.skip_spaces()
            separator = self.peek()
            if separator == ",":
                self.pos += 1
            elif separator == ")":
                self.pos += 1
                return _Call(name, tuple(args))
            elif separator == "":
                raise self.fail(f"missing ')' to close {name}(")
            else:
                raise self.fail(f"expected ',' or ')' but found {separator!r}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def argument(self, depth: int) -> _Node:
        self.skip_spaces()
        char = self.peek()
        if char == "'":
            return self.text_literal()
        if char == "$":
            return self.path()
        if self.text.startswith("States.", self.pos):
            return self.call(depth + 1)
        number = _NUMBER.match(self.text, self.pos)
        if number is not None:
            self.pos = number.end()
            is_integer = number.group(1) is None and number.group(2) is None
            return _Literal(int(number.group()) if is_integer else float(number.group()))
        keyword = _KEYWORD.match(self.text, self.pos)
        if keyword is not None:
            self.pos = keyword.end()
            return _Literal(_KEYWORD_VALUES[keyword.group()])
        if char in ("", ",", ")"):
            raise self.fail("missing argument")
        raise self.fail(
            "an argument must be a 'quoted string', a number, true, false, null, "
            "a path starting with $, or a States.* call"
        )

    def text_literal(self) -> _TextLiteral:
        self.pos += 1  # opening quote
        pieces: list[str] = []
        current: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise self.fail("string literal is missing its closing quote")
            if char == "'":
                self.pos += 1
                pieces.append("".join(current))
                return _TextLiteral(tuple(pieces))
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped == "" or escaped not in _ESCAPABLE:
                    raise self.fail("a backslash in a string literal must escape one of ' { } \\")
                current.append(escaped)
                self.pos += 2
            elif self.text.startswith("{}", self.pos):
                pieces.append("".join(current))
                current = []
                self.pos += 2
            else:
                current.append(char)
                self.pos += 1

    def path(self) -> _Path:
        start = self.pos
        bracket_depth = 0
        quote = ""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if quote:
                if char == "\\":
                    self.pos += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"" and bracket_depth > 0:
                quote = char
            elif char == "[":
                bracket_depth += 1
            elif char == "]":
                bracket_depth -= 1
            elif bracket_depth == 0 and (char in ",)" or char.isspace()):
                break
            self.pos += 1
        if quote or bracket_depth > 0:
            raise self.fail(f"unterminated bracket in path {self.text[start : self.pos]!r}")
        return _Path(self.text[start : self.pos])


@lru_cache(maxsize=2048)
def _parse(expression: str) -> _Call:
    call = _Parser(expression).parse()
    _check_arity(call)
    return call


def validate_intrinsic(expression: str) -> None:
    """Check syntax, function names and argument counts without evaluating anything."""
    _parse(expression)


def intrinsic_paths(expression: str) -> tuple[str, ...]:
    """The path arguments of a call and its nested calls, as written, in order.

    Lets a definition check validate each path before any execution runs.
    """
    return tuple(_paths_of(_parse(expression)))


def _paths_of(call: _Call) -> list[str]:
    paths: list[str] = []
    for arg in call.args:
        if isinstance(arg, _Path):
            paths.append(arg.path)
        elif isinstance(arg, _Call):
            paths.extend(_paths_of(arg))
    return paths


# --- evaluation ---------------------------------------------------------------------------


def evaluate_intrinsic(expression: str, resolve_path: PathResolver) -> Any:
    """Evaluate a ``States.*`` call, resolving paths with ``resolve_path``.

    Errors from ``resolve_path`` propagate untouched. The result never shares lists or
    objects with the resolved input, so the caller may mutate it.
    """
    result = _evaluate(_parse(expression), resolve_path)
    return copy.deepcopy(result) if isinstance(result, list | dict) else result


def _evaluate(call: _Call, resolve_path: PathResolver) -> Any:
    if call.name == "States.Format":
        return _format(call, resolve_path)
    args = [_argument_value(arg, resolve_path) for arg in call.args]
    return _FUNCTIONS[call.name].body(call.name, args)


def _argument_value(node: _Node, resolve_path: PathResolver) -> Any:
    if isinstance(node, _Call):
        return _evaluate(node, resolve_path)
    if isinstance(node, _Path):
        return resolve_path(node.path)
    return node.value


def _format(call: _Call, resolve_path: PathResolver) -> str:
    template, *arg_nodes = call.args
    if isinstance(template, _TextLiteral):
        pieces: Sequence[str] = template.pieces
    else:
        text = _argument_value(template, resolve_path)
        if not isinstance(text, str):
            raise _bad_argument(call.name, 1, "the template must be a string", text)
        pieces = text.split("{}")
    values = [_argument_value(node, resolve_path) for node in arg_nodes]
    if len(pieces) - 1 != len(values):
        raise IntrinsicFailure(
            f"{call.name}: the template has {len(pieces) - 1} '{{}}' placeholder(s) "
            f"but {len(values)} value(s) were given"
        )
    rendered = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        rendered.extend((_format_value(value), piece))
    return "".join(rendered)


def _format_value(value: Any) -> str:
    """Render like AWS (Java): strings bare, objects as {k=v, ...}, arrays as [a, b]."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_format_value(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)


# --- argument checks ----------------------------------------------------------------------


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _bad_argument(name: str, position: int, reason: str, value: Any) -> IntrinsicFailure:
    return IntrinsicFailure(
        f"{name}: argument {position} {reason}; got {json_type(value)} {_describe(value)}"
    )


def _array(name: str, position: int, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _bad_argument(name, position, "must be an array", value)
    return value


def _text(name: str, position: int, value: Any, max_chars: int | None = None) -> str:
    if not isinstance(value, str):
        raise _bad_argument(name, position, "must be a string", value)
    if max_chars is not None and len(value) > max_chars:
        raise IntrinsicFailure(
            f"{name}: argument {position} has {len(value)} characters; the limit is {max_chars}"
        )
    return value


def _java_round(value: float) -> int:
    """Math.round: half up, so -1.5 -> -1 (Python's round() would give -2)."""
    return math.floor(value + 0.5)


def _integer(name: str, position: int, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad_argument(name, position, "must be a number", value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _bad_argument(name, position, "must be a finite number", value)
        return _java_round(value)
    return value


def _int32(name: str, position: int, value: Any) -> int:
    number = _integer(name, position, value)
    if not INT32_MIN <= number <= INT32_MAX:
        raise _bad_argument(
            name, position, f"must be an integer between {INT32_MIN} and {INT32_MAX}", value
        )
    return number


def _json_key(value: Any) -> str:
    """Equality key for JSON values: object key order ignored, 1 and true kept apart."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# --- the functions ------------------------------------------------------------------------


def _states_array(name: str, args: list[Any]) -> Any:
    return list(args)


def _array_partition(name: str, args: list[Any]) -> Any:
    array = _array(name, 1, args[0])
    size = _integer(name, 2, args[1])
    if size <= 0:
        raise _bad_argument(name, 2, "(the chunk size) must be a positive integer", args[1])
    return [array[start : start + size] for start in range(0, len(array), size)]


def _array_contains(name: str, args: list[Any]) -> Any:
    wanted = _json_key(args[1])
    return any(_json_key(item) == wanted for item in _array(name, 1, args[0]))


def _array_range(name: str, args: list[Any]) -> Any:
    first, last, step = (_integer(name, i + 1, value) for i, value in enumerate(args))
    if step == 0:
        raise _bad_argument(name, 3, "(the step) must not be zero", args[2])
    count = max(0, (last - first) // step + 1)
    if count > MAX_RANGE_ITEMS:
        raise IntrinsicFailure(
            f"{name}: the range would hold {count} items; the limit is {MAX_RANGE_ITEMS}"
        )
    return [first + i * step for i in range(count)]


def _array_get_item(name: str, args: list[Any]) -> Any:
    array = _array(name, 1, args[0])
    index = _integer(name, 2, args[1])
    if not 0 <= index < len(array):
        raise IntrinsicFailure(
            f"{name}: index {index} is out of range for an array of {len(array)} item(s)"
        )
    return array[index]


def _array_length(name: str, args: list[Any]) -> Any:
    return len(_array(name, 1, args[0]))


def _array_unique(name: str, args: list[Any]) -> Any:
    seen: set[str] = set()
    unique = []
    for item in _array(name, 1, args[0]):
        key = _json_key(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _base64_encode(name: str, args: list[Any]) -> Any:
    data = _text(name, 1, args[0], MAX_TEXT_CHARS)
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def _base64_decode(name: str, args: list[Any]) -> Any:
    encoded = _text(name, 1, args[0], MAX_TEXT_CHARS)
    try:
        # MIME decoding skips characters outside the alphabet, such as line breaks.
        raw = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError) as error:
        raise _bad_argument(name, 1, f"is not valid Base64 ({error})", encoded) from None
    return raw.decode("utf-8", errors="replace")


_HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(name: str, args: list[Any]) -> Any:
    data = _text(name, 1, args[0], MAX_TEXT_CHARS)
    algorithm = args[1]
    if algorithm not in _HASH_ALGORITHMS:
        raise _bad_argument(name, 2, f"must be one of {', '.join(_HASH_ALGORITHMS)}", algorithm)
    return hashlib.new(_HASH_ALGORITHMS[algorithm], data.encode("utf-8")).hexdigest()


def _json_merge(name: str, args: list[Any]) -> Any:
    first, second, deep = args
    for position, value in ((1, first), (2, second)):
        if not isinstance(value, dict):
            raise _bad_argument(name, position, "must be a JSON object", value)
    if deep is not False:
        raise _bad_argument(name, 3, "must be false (only shallow merging exists)", deep)
    return {**first, **second}


def _string_to_json(name: str, args: list[Any]) -> Any:
    text = _text(name, 1, args[0])
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _bad_argument(name, 1, f"is not valid JSON ({error})", text) from None


def _json_to_string(name: str, args: list[Any]) -> Any:
    return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False)


def _math_random(name: str, args: list[Any]) -> Any:
    start = _int32(name, 1, args[0])
    end = _int32(name, 2, args[1])
    if start >= end:
        raise IntrinsicFailure(
            f"{name}: the start ({start}) must be less than the end ({end}), which is exclusive"
        )
    if len(args) == 3:
        return random.Random(_integer(name, 3, args[2])).randrange(start, end)
    return random.randrange(start, end)


def _math_add(name: str, args: list[Any]) -> Any:
    return _int32(name, 1, args[0]) + _int32(name, 2, args[1])


def _string_split(name: str, args: list[Any]) -> Any:
    text = _text(name, 1, args[0])
    delimiters = _text(name, 2, args[1])
    if not delimiters:
        return [text] if text else []
    pattern = "[" + re.escape(delimiters) + "]"
    return [piece for piece in re.split(pattern, text) if piece]


def _uuid(name: str, args: list[Any]) -> Any:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class _Function:
    body: Callable[[str, list[Any]], Any]
    min_args: int
    max_args: int | None


_FUNCTIONS: dict[str, _Function] = {
    # Format reads its template's placeholders from the syntax tree: see _format.
    "States.Format": _Function(lambda name, args: None, 1, None),
    "States.StringToJson": _Function(_string_to_json, 1, 1),
    "States.JsonToString": _Function(_json_to_string, 1, 1),
    "States.Array": _Function(_states_array, 0, None),
    "States.ArrayPartition": _Function(_array_partition, 2, 2),
    "States.ArrayContains": _Function(_array_contains, 2, 2),
    "States.ArrayRange": _Function(_array_range, 3, 3),
    "States.ArrayGetItem": _Function(_array_get_item, 2, 2),
    "States.ArrayLength": _Function(_array_length, 1, 1),
    "States.ArrayUnique": _Function(_array_unique, 1, 1),
    "States.Base64Encode": _Function(_base64_encode, 1, 1),
    "States.Base64Decode": _Function(_base64_decode, 1, 1),
    "States.Hash": _Function(_hash, 2, 2),
    "States.JsonMerge": _Function(_json_merge, 3, 3),
    "States.MathRandom": _Function(_math_random, 2, 3),
    "States.MathAdd": _Function(_math_add, 2, 2),
    "States.StringSplit": _Function(_string_split, 2, 2),
    "States.UUID": _Function(_uuid, 0, 0),
}


def _check_arity(call: _Call) -> None:
    function = _FUNCTIONS.get(call.name)
    if function is None:
        raise IntrinsicFailure(
            f"{call.name} is not an intrinsic function; the known ones are "
            + ", ".join(sorted(_FUNCTIONS))
        )
    count = len(call.args)
    if count < function.min_args or (function.max_args is not None and count > function.max_args):
        raise IntrinsicFailure(
            f"{call.name} takes {_expected_count(function)} but was given {count}"
        )
    for arg in call.args:
        if isinstance(arg, _Call):
            _check_arity(arg)


def _expected_count(function: _Function) -> str:
    low, high = function.min_args, function.max_args
    if high is None:
        return f"at least {low} argument{'s' if low != 1 else ''}"
    if low == high:
        return f"{low} argument{'s' if low != 1 else ''}"
    return f"{low} to {high} arguments"
