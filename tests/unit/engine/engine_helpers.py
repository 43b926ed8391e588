"""Small builders for engine tests: definitions from a few states, runs on a FakeClock."""

from __future__ import annotations

from typing import Any

from facepipe.engine import ExecutionResult, FakeClock, StateMachine


def definition(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def run(
    states_or_definition: dict[str, Any],
    execution_input: Any = None,
    **run_options: Any,
) -> ExecutionResult:
    """Run a definition (or a bare States mapping) on a FakeClock unless told otherwise."""
    document = (
        states_or_definition
        if "States" in states_or_definition
        else definition(states_or_definition)
    )
    run_options.setdefault("clock", FakeClock())
    return StateMachine(document).run(
        {} if execution_input is None else execution_input, **run_options
    )


def output_of(states: dict[str, Any], execution_input: Any = None, **options: Any) -> Any:
    result = run(states, execution_input, **options)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return result.output


def failure_of(states: dict[str, Any], execution_input: Any = None, **options: Any) -> tuple:
    result = run(states, execution_input, **options)
    assert result.status == "FAILED", result.output
    return result.error, result.cause


def event_types(result: ExecutionResult) -> list[str]:
    return [event["type"] for event in result.history]
