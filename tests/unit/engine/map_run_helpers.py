"""Builders for Distributed Map tests: a DISTRIBUTED Map state and a run over a bucket."""

from __future__ import annotations

from typing import Any

from facepipe.engine import FakeClock, StateMachine
from facepipe.engine.objectstore import MemoryObjectStore

PASS_PROCESSOR_STATES = {"P": {"Type": "Pass", "End": True}}


def processor(states: dict[str, Any] | None = None, execution_type: str = "STANDARD") -> dict:
    states = states or PASS_PROCESSOR_STATES
    return {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
        "StartAt": next(iter(states)),
        "States": states,
    }


def distributed_map(
    processor_states: dict[str, Any] | None = None,
    execution_type: str = "STANDARD",
    **fields: Any,
) -> dict[str, Any]:
    """A one-state machine: a DISTRIBUTED Map named M with the given fields."""
    state = {"Type": "Map", "ItemProcessor": processor(processor_states, execution_type),
             "End": True, **fields}  # fmt: skip
    return {"StartAt": "M", "States": {"M": state}}


def machine_and_run(
    definition: dict[str, Any],
    execution_input: Any = None,
    store: MemoryObjectStore | None = None,
    **options: Any,
) -> tuple[StateMachine, Any]:
    machine = StateMachine(definition)
    options.setdefault("clock", FakeClock())
    result = machine.run(
        {} if execution_input is None else execution_input, object_store=store, **options
    )
    return machine, result


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]
