"""JSONata in ASL fields: `{% expression %}` strings, compiled once per definition.

A field value (Output, Arguments, Assign, Items, ItemSelector...) is a template: any JSON
value whose strings may be JSONata expressions, at any depth. `compile_template` parses every
expression when the definition loads; `render` evaluates them for one state, with `$states`
and the workflow variables bound, and reports AWS's States.QueryEvaluationError causes.

The JSONata library (jlens, see the engine README for why) is imported on first use, so a
JSONPath-only definition never loads it. The functions Step Functions adds ($partition,
$range, $hash, $random with a seed, $uuid, $parse) are registered on every expression, and
$eval is hidden, as Step Functions documents it ("use $parse instead").
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from facepipe.engine.errors import QueryEvaluationFailure
from facepipe.engine.intrinsics import json_type

OPEN, CLOSE = "{%", "%}"
# A bound of ours (AWS documents none): an expression that loops forever fails with JSONata's
# D1012 instead of hanging the execution.
EVALUATION_TIMEOUT_SECONDS = 10.0

_library_lock = threading.Lock()
_library: ModuleType | None = None


def _jlens() -> ModuleType:
    global _library
    if _library is None:
        with _library_lock:
            import jlens  # lazily: only a definition with a JSONata state needs it

            _library = jlens
    return _library


class JsonataSyntaxError(ValueError):
    """An expression that does not parse; the definition is refused."""


def is_expression(value: Any) -> bool:
    """A string that is one JSONata expression: `{%` first and `%}` last, nothing around."""
    return (
        isinstance(value, str)
        and len(value) >= 4
        and value.startswith(OPEN)
        and value.endswith(CLOSE)
    )


@dataclass(frozen=True, slots=True)
class Expression:
    text: str  # between the delimiters, trimmed: AWS quotes it so in causes
    compiled: Any


@dataclass(frozen=True, slots=True)
class _Object:
    fields: tuple[tuple[str, Any], ...]
    # Its expression-valued fields as one JSONata object constructor, so that an
    # ItemSelector or Assign of several expressions costs one evaluation; any shortfall
    # (an undefined or function value, an error) falls back to field by field, whose
    # failure is the one AWS reports.
    combined: Any = None


@dataclass(frozen=True, slots=True)
class _Array:
    items: tuple[Any, ...]


# A compiled template: a plain JSON value (no expression inside), an Expression, or an
# _Object/_Array node holding compiled children.
Template = Any


def compile_expression(text: str) -> Expression:
    inner = text[len(OPEN) : -len(CLOSE)].strip()
    library = _jlens()
    try:
        compiled = library.Expression(inner)
    except library.JlensError as bad:
        raise JsonataSyntaxError(
            f"the JSONata expression '{inner}' is invalid: {bad.code}: {bad}"
        ) from None
    for name, function in _STEP_FUNCTIONS_EXTRAS.items():
        compiled.register_function(name, function)
    return Expression(inner, compiled)


def compile_template(value: Any) -> Template:
    """Parse every expression in a field value; values without any stay as they are."""
    if is_expression(value):
        return compile_expression(value)
    if isinstance(value, dict):
        fields = tuple((key, compile_template(item)) for key, item in value.items())
        if all(not _is_compiled(item) for _, item in fields):
            return value
        expressions = [(key, item) for key, item in fields if isinstance(item, Expression)]
        combined = None
        if len(expressions) > 1:
            body = ", ".join(f"{json.dumps(key)}: ({item.text})" for key, item in expressions)
            combined = compile_expression(OPEN + "{" + body + "}" + CLOSE)
        return _Object(fields, combined)
    if isinstance(value, list):
        items = tuple(compile_template(item) for item in value)
        if all(not _is_compiled(item) for item in items):
            return value
        return _Array(items)
    return value


def _is_compiled(node: Any) -> bool:
    return isinstance(node, Expression | _Object | _Array)


def has_expression(template: Template) -> bool:
    return _is_compiled(template)


def render(template: Template, bindings: Mapping[str, Any], field: str) -> Any:
    """The field's value for this state; `field` names it in causes ('Output/result')."""
    if isinstance(template, Expression):
        return evaluate(template, bindings, field)
    if isinstance(template, _Object):
        values = _combined(template, bindings)
        if values is not None:
            return {
                key: values[key]
                if isinstance(item, Expression)
                else render(item, bindings, f"{field}/{key}")
                for key, item in template.fields
            }
        return {key: render(item, bindings, f"{field}/{key}") for key, item in template.fields}
    if isinstance(template, _Array):
        return [render(item, bindings, f"{field}[{i}]") for i, item in enumerate(template.items)]
    return template


def _combined(template: _Object, bindings: Mapping[str, Any]) -> dict[str, Any] | None:
    if template.combined is None:
        return None
    try:
        values = template.combined.compiled.evaluate(
            None, _hide_eval(bindings), timeout=EVALUATION_TIMEOUT_SECONDS
        )
    except Exception:  # any failure is reported by evaluating field by field
        return None
    expected = sum(isinstance(item, Expression) for _, item in template.fields)
    return values if isinstance(values, dict) and len(values) == expected else None


def evaluate(expression: Expression, bindings: Mapping[str, Any], field: str) -> Any:
    """One expression's JSON value; undefined, a function or an error is a failure."""
    library = _jlens()
    visible = _hide_eval(bindings)
    try:
        # evaluate() keeps the GIL (it reads the bindings as it goes): with many branches
        # in threads that is faster than evaluate_json, which hands the GIL over and back.
        value = expression.compiled.evaluate(None, visible, timeout=EVALUATION_TIMEOUT_SECONDS)
        if value is not None:
            return value
        # None is null or undefined (or a function): only the JSON form tells them apart.
        text = expression.compiled.evaluate_json(None, visible, timeout=EVALUATION_TIMEOUT_SECONDS)
    except (library.JlensError, _ExtraFunctionError) as bad:
        what = f"threw an error during evaluation. {bad.code}: {bad}"
        raise _failure(expression, field, what) from None
    if text is None:
        if _is_function(expression, bindings):
            raise _failure(expression, field, "returned an unsupported result type.")
        raise _failure(expression, field, "returned nothing (undefined).")
    return None


def _hide_eval(bindings: Mapping[str, Any]) -> dict[str, Any]:
    return {**bindings, "eval": None}


def _is_function(expression: Expression, bindings: Mapping[str, Any]) -> bool:
    # An undefined result and a function both come back as no JSON; only the rare failure
    # pays for asking which it was.
    probe = _jlens().Expression(f"$type(({expression.text}))")
    for name, function in _STEP_FUNCTIONS_EXTRAS.items():
        probe.register_function(name, function)
    try:
        visible = _hide_eval(bindings)
        return bool(probe.evaluate(None, visible, timeout=EVALUATION_TIMEOUT_SECONDS) == "function")
    except Exception:
        return False


def _failure(expression: Expression, field: str, what: str) -> QueryEvaluationFailure:
    return QueryEvaluationFailure(
        f"The JSONata expression '{expression.text}' specified for the field '{field}' {what}",
        location=field,
    )


def unexpected_type(
    expression_or_value: Any, field: str, expected: str, value: Any
) -> QueryEvaluationFailure:
    """AWS's cause for a value of the wrong JSON type, as for Items that are not an array."""
    text = expression_or_value.text if isinstance(expression_or_value, Expression) else None
    detail = (
        f"returned an unexpected result type. Expected '{expected}', but was "
        f"'{json_type(value)}' for value: {compact(value)}"
    )
    if text is None:
        return QueryEvaluationFailure(
            f"The field '{field}' has an unexpected value type. Expected '{expected}', "
            f"but was '{json_type(value)}' for value: {compact(value)}",
            location=field,
        )
    return QueryEvaluationFailure(
        f"The JSONata expression '{text}' specified for the field '{field}' {detail}",
        location=field,
    )


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- the functions Step Functions adds to JSONata ------------------------------------------


class _ExtraFunctionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def _whole(value: Any, function: str, position: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not float(value).is_integer()
    ):
        raise _ExtraFunctionError(
            "T0410", f'Argument {position} of function "{function}" must be an integer'
        )
    return int(value)


def _partition(array: Any, size: Any) -> list[Any]:
    items = array if isinstance(array, list) else [array]
    chunk = _whole(size, "partition", 2)
    if chunk <= 0:
        raise _ExtraFunctionError(
            "D3137", 'Argument 2 of function "partition" must be a positive integer'
        )
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _range(start: Any, end: Any, step: Any = 1) -> list[Any]:
    first, last, by = (_whole(v, "range", i + 1) for i, v in enumerate((start, end, step)))
    if by == 0:
        raise _ExtraFunctionError("D3137", 'Argument 3 of function "range" must not be 0')
    return list(range(first, last + (1 if by > 0 else -1), by))


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
           "SHA-512": "sha512"}  # fmt: skip


def _hash(value: Any, algorithm: Any) -> str:
    if not isinstance(value, str):
        raise _ExtraFunctionError("T0410", 'Argument 1 of function "hash" must be a string')
    if algorithm not in _HASHES:
        raise _ExtraFunctionError(
            "D3137",
            f'Argument 2 of function "hash" must be one of {", ".join(_HASHES)}',
        )
    return hashlib.new(_HASHES[algorithm], value.encode()).hexdigest()


_RANDOM = random.Random()


def _random(seed: Any = None) -> float:
    if seed is None:
        return _RANDOM.random()
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | float | str)
        or (isinstance(seed, float) and not math.isfinite(seed))
    ):
        raise _ExtraFunctionError(
            "T0410", 'Argument 1 of function "random" must be a number or a string'
        )
    return random.Random(seed).random()


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise _ExtraFunctionError("T0410", 'Argument 1 of function "parse" must be a string')
    try:
        return json.loads(text)
    except json.JSONDecodeError as bad:
        raise _ExtraFunctionError("D3120", f"The argument of $parse is not JSON: {bad}") from None


_STEP_FUNCTIONS_EXTRAS = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": _uuid,
    "parse": _parse,
}
