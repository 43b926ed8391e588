"""Reading values out of the state data: paths, `.$` payload templates, intrinsic calls.

A `Scope` is what a path can see besides the state data: the context object (`$$`) and the
workflow variables (`$name`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from facepipe.engine import jsonpath
from facepipe.engine.errors import INTRINSIC_FAILURE, RuntimeFailure, StatesError


@dataclass(frozen=True, slots=True)
class Scope:
    context: Mapping[str, Any]
    variables: Mapping[str, Any]


def intrinsics() -> ModuleType:
    """The intrinsic-function module, imported on first use (most definitions never call one)."""
    from facepipe.engine import intrinsics as module

    return module


def is_intrinsic(text: str) -> bool:
    return text.startswith("States.") and intrinsics().is_intrinsic(text)


def select(path_text: str, data: Any, scope: Scope) -> Any:
    """The value at a path; raises jsonpath.PathNotFound when a definite path selects nothing."""
    path = jsonpath.parse(path_text)
    if path.root == "$":
        return path.select(data)
    if path.root == "$$":
        return path.select(scope.context)
    if path.root == "@":
        raise jsonpath.PathSyntaxError(f"'{path_text}' is only valid inside a filter")
    if path.root not in scope.variables:
        raise jsonpath.PathNotFound(path_text, f"${path.root}")
    return path.select(scope.variables[path.root])


def select_or_fail(path_text: str, data: Any, scope: Scope, what: str) -> Any:
    """`select`, with a missing value reported as States.Runtime naming the field."""
    try:
        return select(path_text, data, scope)
    except jsonpath.PathNotFound as missing:
        raise RuntimeFailure(
            f"Invalid path '{path_text}' : No results for path: {missing.normalized}"
            if what in ("InputPath", "OutputPath", "ItemsPath")
            else f"The {what} '{path_text}' could not be found in the input '{_compact(data)}'"
        ) from None


def evaluate(expression: str, data: Any, scope: Scope, field: str) -> Any:
    """The value of a `.$` field: an intrinsic call or a path."""
    if is_intrinsic(expression):
        functions = intrinsics()
        try:
            return functions.evaluate_intrinsic(
                expression, lambda path: _select_for_intrinsic(path, data, scope, field)
            )
        except functions.IntrinsicFailure as failure:
            raise StatesError(INTRINSIC_FAILURE, str(failure)) from None
    try:
        return select(expression, data, scope)
    except jsonpath.PathNotFound:
        raise RuntimeFailure(
            f"The JSONPath '{expression}' specified for the field '{field}' could not be found "
            f"in the input '{_compact(data)}'"
        ) from None


def _select_for_intrinsic(path: str, data: Any, scope: Scope, field: str) -> Any:
    try:
        return select(path, data, scope)
    except jsonpath.PathNotFound:
        raise RuntimeFailure(
            f"The JsonPath argument '{path}' of the intrinsic function in field '{field}' "
            f"could not be found in the input '{_compact(data)}'"
        ) from None


def render(template: Any, data: Any, scope: Scope) -> Any:
    """Apply a payload template (Parameters, ResultSelector, ItemSelector, Assign)."""
    if isinstance(template, dict):
        rendered: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                rendered[key[:-2]] = evaluate(value, data, scope, key)
            else:
                rendered[key] = render(value, data, scope)
        return rendered
    if isinstance(template, list):
        return [render(item, data, scope) for item in template]
    return template


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
