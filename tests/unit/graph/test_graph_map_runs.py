"""Which Map state started which Map Run, and the definition its children ran.

AWS's parent history: MapStateEntered, MapStateStarted, MapRunStarted (mapRunArn), and on a
redrive MapRunRedriven, each event's previousEventId pointing back
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html,
https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html). The children run
the Map's ItemProcessor, STANDARD unless ProcessorConfig.ExecutionType says EXPRESS
(https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html).
"""

from __future__ import annotations

from typing import Any

from facepipe.graph.maprun import child_execution_type, item_processor, map_run_states

RUN_A = "arn:aws:states:us-east-1:123456789012:mapRun:m/A:1"
RUN_B = "arn:aws:states:us-east-1:123456789012:mapRun:m/B:2"

DEFINITION: dict[str, Any] = {
    "QueryLanguage": "JSONata",
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {
                    "Type": "Map", "End": True,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                        "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}}}},
                {"StartAt": "B", "States": {"B": {
                    "Type": "Map", "End": True, "QueryLanguage": "JSONPath",
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                        "StartAt": "Other", "States": {"Other": {"Type": "Succeed"}}}}}},
            ],
            "End": True,
        }
    },
}  # fmt: skip


def _entered(event_id: int, previous: int, name: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "previousEventId": previous,
        "type": "MapStateEntered",
        "stateEnteredEventDetails": {"name": name},
    }


def test_each_run_is_traced_back_to_its_map_state_through_interleaved_branches() -> None:
    history = [
        {"id": 1, "type": "ExecutionStarted"},
        {"id": 2, "previousEventId": 1, "type": "ParallelStateEntered",
         "stateEnteredEventDetails": {"name": "Both"}},
        _entered(3, 2, "A"),
        _entered(4, 2, "B"),
        {"id": 5, "previousEventId": 3, "type": "MapStateStarted"},
        {"id": 6, "previousEventId": 4, "type": "MapStateStarted"},
        {"id": 7, "previousEventId": 6, "type": "MapRunStarted",
         "mapRunStartedEventDetails": {"mapRunArn": RUN_B}},
        {"id": 8, "previousEventId": 5, "type": "MapRunStarted",
         "mapRunStartedEventDetails": {"mapRunArn": RUN_A}},
        {"id": 9, "previousEventId": 8, "type": "MapRunFailed"},
        {"id": 10, "previousEventId": 9, "type": "ExecutionRedriven"},
        _entered(11, 10, "A"),
        {"id": 12, "previousEventId": 11, "type": "MapStateStarted"},
        {"id": 13, "previousEventId": 12, "type": "MapRunRedriven",
         "mapRunRedrivenEventDetails": {"mapRunArn": RUN_A, "redriveCount": 1}},
    ]  # fmt: skip
    assert map_run_states(history) == {RUN_A: "A", RUN_B: "B"}


def test_the_item_processor_is_the_childrens_definition_with_the_query_language() -> None:
    child = item_processor(DEFINITION, "A")
    assert child == {
        "StartAt": "Work",
        "States": {"Work": {"Type": "Pass", "End": True}},
        "QueryLanguage": "JSONata",
    }
    # The state's own language wins over the machine's.
    other = item_processor(DEFINITION, "B")
    assert other is not None and other["QueryLanguage"] == "JSONPath"
    assert item_processor(DEFINITION, "Both") is None
    assert item_processor(DEFINITION, "Nowhere") is None


def test_children_are_standard_unless_the_processor_config_says_express() -> None:
    assert child_execution_type(DEFINITION, "A") == "EXPRESS"
    assert child_execution_type(DEFINITION, "B") == "STANDARD"
