"""Map Runs in a parent's history and definition: which Map state started which run, and the
definition a run's child executions ran (the Map's ItemProcessor).

A DISTRIBUTED Map writes `MapRunStarted` (or `MapRunRedriven`) with the run's ARN into the
parent history; its `previousEventId` chain leads back to the state's `MapStateEntered`
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html). The
children's own definition is the Map's `ItemProcessor` (`Iterator` in older definitions), with
the parent's `QueryLanguage` where the processor sets none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_RUN_EVENTS = {
    "MapRunStarted": "mapRunStartedEventDetails",
    "MapRunRedriven": "mapRunRedrivenEventDetails",
}


def map_run_states(history: list[dict[str, Any]]) -> dict[str, str]:
    """Map Run ARN -> the name of the Map state that started it (or redrove it)."""
    by_id = {event.get("id"): event for event in history}
    found: dict[str, str] = {}
    for event in history:
        key = _RUN_EVENTS.get(str(event.get("type")))
        arn = (event.get(key) or {}).get("mapRunArn") if key else None
        if not arn:
            continue
        name = _entered_state(event, by_id)
        if name is not None:
            found[str(arn)] = name
    return found


def _entered_state(event: dict[str, Any], by_id: dict[Any, dict[str, Any]]) -> str | None:
    seen = 0
    current: dict[str, Any] | None = event
    while current is not None and seen < len(by_id) + 1:
        if current.get("type") == "MapStateEntered":
            return (current.get("stateEnteredEventDetails") or {}).get("name")
        current = by_id.get(current.get("previousEventId"))
        seen += 1
    return None


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        yield name, state
        for branch in state.get("Branches") or []:
            if isinstance(branch, dict):
                yield from _states(branch.get("States") or {})
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            yield from _states(processor.get("States") or {})


def item_processor(definition: dict[str, Any], map_state: str) -> dict[str, Any] | None:
    """The definition the children of ``map_state``'s Map Runs run, or None when the state is
    not a Map in ``definition``."""
    for name, state in _states(definition.get("States") or {}):
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if name == map_state and state.get("Type") == "Map" and isinstance(processor, dict):
            child = {k: v for k, v in processor.items() if k != "ProcessorConfig"}
            language = state.get("QueryLanguage") or definition.get("QueryLanguage")
            if language and "QueryLanguage" not in child:
                child["QueryLanguage"] = language
            return child
    return None


def child_execution_type(definition: dict[str, Any], map_state: str) -> str:
    """STANDARD or EXPRESS: what the Map's ProcessorConfig makes its children (STANDARD when
    it says nothing, as in AWS)."""
    for name, state in _states(definition.get("States") or {}):
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if name == map_state and isinstance(processor, dict):
            config = processor.get("ProcessorConfig") or {}
            return "EXPRESS" if config.get("ExecutionType") == "EXPRESS" else "STANDARD"
    return "STANDARD"
