"""Input and output processing in AWS's order: InputPath, Parameters, ResultSelector,
ResultPath, OutputPath (and Assign, which sees the result but lands after OutputPath)."""

from __future__ import annotations

from typing import Any

from facepipe.engine import jsonpath
from facepipe.engine.errors import RESULT_PATH_MATCH_FAILURE, StatesError
from facepipe.engine.payload import Scope, render, select_or_fail

_UNSET: Any = object()


def apply_input_path(state: dict[str, Any], raw: Any, scope: Scope) -> Any:
    path = state.get("InputPath", "$")
    if path is None:
        return {}
    return raw if path == "$" else select_or_fail(path, raw, scope, "InputPath")


def apply_parameters(state: dict[str, Any], data: Any, scope: Scope) -> Any:
    return render(state["Parameters"], data, scope) if "Parameters" in state else data


def apply_result_selector(state: dict[str, Any], result: Any, scope: Scope) -> Any:
    selector = state.get("ResultSelector", _UNSET)
    return result if selector is _UNSET else render(selector, result, scope)


def apply_result_path(path: str | None, raw: Any, result: Any) -> Any:
    if path is None:
        return raw
    if path == "$":
        return result
    try:
        return jsonpath.assign(raw, jsonpath.parse(path), result)
    except TypeError as bad:
        raise StatesError(
            RESULT_PATH_MATCH_FAILURE, f"Unable to apply ResultPath '{path}' to the input: {bad}"
        ) from None


def apply_output_path(state: dict[str, Any], data: Any, scope: Scope) -> Any:
    path = state.get("OutputPath", "$")
    if path is None:
        return {}
    return data if path == "$" else select_or_fail(path, data, scope, "OutputPath")


def evaluate_assign(assign: dict[str, Any] | None, data: Any, scope: Scope) -> dict[str, Any]:
    """New variable values; all are computed before any is set, so they see the old ones."""
    if not assign:
        return {}
    values = render(assign, data, scope)
    assert isinstance(values, dict)
    return values
