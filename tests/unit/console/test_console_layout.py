"""The graph layout and its SVG: rows, Choice branches, Catch and Retry, Parallel and Map."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from facepipe.console.layout import assign_rows, layout_graph
from facepipe.console.svg import render_svg
from facepipe.graph import build_graph, summarize_history
from facepipe.resources import state_machine_path

PASS_END = {"Type": "Pass", "End": True}


def _pipeline() -> dict[str, Any]:
    return json.loads(state_machine_path().read_text(encoding="utf-8"))


def _classes(svg: str, state: str) -> set[str]:
    found = re.search(rf'<g class="([^"]*)" data-state="{re.escape(state)}"', svg)
    assert found, state
    return set(found.group(1).split())


def test_each_state_sits_below_every_state_that_leads_to_it() -> None:
    graph = build_graph(_pipeline())
    rows = assign_rows(graph)
    assert rows["Detect"] == 0 and rows["Persist"] == 1 and rows["HasFaces"] == 2
    assert rows["Notify"] == rows["HasFaces"] + 1 == rows["NoFaces"] == rows["Superseded"]
    # Reached from Detect, Persist and Notify (their Catch): below all three.
    assert rows["RecordFailure"] == rows["Notify"] + 1
    layout = layout_graph(graph)
    for edge in graph.edges:
        source, target = layout.states[edge.source], layout.states[edge.target]
        assert target.y >= source.bottom, edge


def test_states_of_one_row_do_not_overlap_and_fit_the_drawing() -> None:
    layout = layout_graph(build_graph(_pipeline()))
    placed = sorted(layout.states.values(), key=lambda s: (s.y, s.x))
    for left, right in itertools.pairwise(placed):
        if left.y == right.y:
            assert left.x + left.width < right.x
    for state in placed:
        assert state.x >= 0 and state.x + state.width <= layout.width
        assert state.y >= 0 and state.bottom <= layout.height


def test_a_loop_back_does_not_break_the_rows_and_is_drawn_up_the_left() -> None:
    definition = {
        "StartAt": "Poll",
        "States": {
            "Poll": {"Type": "Pass", "Next": "Ready"},
            "Ready": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.ready", "BooleanEquals": True, "Next": "Go"}],
                "Default": "Poll",
            },
            "Go": PASS_END,
        },
    }
    graph = build_graph(definition)
    assert assign_rows(graph) == {"Poll": 0, "Ready": 1, "Go": 2}
    svg = render_svg(graph)
    loop = re.search(r'data-source="Ready" data-target="Poll"><path d="M([\d.]+),', svg)
    assert loop and float(loop.group(1)) == layout_graph(graph).states["Ready"].x


def test_choice_branches_and_default_are_labelled_edges() -> None:
    svg = render_svg(build_graph(_pipeline()))
    choice = re.search(r'<g class="edge edge-choice" data-source="HasFaces" data-target="Notify">'
                       r".*?</g>", svg)  # fmt: skip
    # A JSONata Condition is labelled with its expression, without the {% %} around it.
    assert choice and "$states.input.detection.faceCount &gt; 0" in choice.group(0)
    assert "{%" not in choice.group(0)
    stale = re.search(r'<g class="edge edge-choice" data-source="HasFaces" '
                      r'data-target="Superseded">.*?</g>', svg)  # fmt: skip
    assert stale and "$states.input.record.outcome = &#x27;STALE&#x27;" in stale.group(0)
    assert 'class="edge edge-default" data-source="HasFaces" data-target="NoFaces"' in svg


def test_catch_rules_to_one_state_share_one_dashed_edge_naming_every_error() -> None:
    svg = render_svg(build_graph(_pipeline()))
    catches = re.findall(r'<g class="edge edge-catch" data-source="Detect"[^>]*>.*?</g>', svg)
    assert len(catches) == 1
    assert "InvalidImageFormatException" in catches[0] and "States.ALL" in catches[0]


def test_retry_loops_show_how_often_a_state_was_retried() -> None:
    graph = build_graph(_pipeline())
    events = [
        {"type": "ExecutionStarted", "id": 1, "timestamp": "2026-11-25T12:00:00+00:00"},
        {"type": "TaskStateEntered", "id": 2, "timestamp": "2026-11-25T12:00:00.010+00:00",
         "stateEnteredEventDetails": {"name": "Detect", "input": "{}"}},
        {"type": "TaskScheduled", "id": 3, "timestamp": "2026-11-25T12:00:00.020+00:00"},
        {"type": "TaskFailed", "id": 4, "timestamp": "2026-11-25T12:00:00.030+00:00",
         "taskFailedEventDetails": {"error": "ThrottlingException", "cause": "slow down"}},
        {"type": "TaskScheduled", "id": 5, "timestamp": "2026-11-25T12:00:01+00:00"},
        {"type": "TaskScheduled", "id": 6, "timestamp": "2026-11-25T12:00:02+00:00"},
    ]  # fmt: skip
    svg = render_svg(graph, summarize_history(events, list(graph.nodes)))
    detect = re.search(r'data-state="Detect".*?</g></g>', svg)
    assert detect and '<g class="retry retried">' in detect.group(0) and "↻ 2x" in detect.group(0)
    assert {"state-task", "status-running"} <= _classes(svg, "Detect")
    assert "status-not_reached" in _classes(svg, "Persist")
    persist = re.search(r'data-state="Persist".*?</g></g>', svg)
    assert persist and '<g class="retry">' in persist.group(0)  # has Retry rules, never fired


def test_parallel_branches_and_map_processors_are_drawn_inside_their_state() -> None:
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A1", "States": {"A1": {"Type": "Pass", "Next": "A2"},
                                                 "A2": PASS_END}},
                    {"StartAt": "B1", "States": {"B1": PASS_END}},
                ],
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": PASS_END}},
                "End": True,
            },
        },
    }  # fmt: skip
    layout = layout_graph(build_graph(definition))
    fan = layout.states["Fan"]
    first, second = fan.branches
    assert first.x + first.width <= second.x  # side by side
    for branch in fan.branches:
        assert fan.x + branch.x + branch.width <= fan.x + fan.width
        assert fan.y + branch.y + branch.height <= fan.bottom
    assert first.states["A2"].y > first.states["A1"].y
    assert layout.states["Each"].y > fan.bottom
    svg = render_svg(build_graph(definition))
    assert {"state", "state-parallel"} <= _classes(svg, "Fan")
    assert "status-inner" in _classes(svg, "A1") and "status-inner" in _classes(svg, "Item")
    assert 'data-source="A1" data-target="A2"' in svg
    assert svg.count('<g class="branch"') == 3


def test_state_names_and_labels_are_escaped() -> None:
    definition = {
        "StartAt": "<script>alert(1)</script>",
        "States": {
            "<script>alert(1)</script>": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.a", "StringEquals": '"><img>', "Next": "B&B"}],
                "Default": "B&B",
            },
            "B&B": PASS_END,
        },
    }
    svg = render_svg(build_graph(definition))
    assert "<script>" not in svg and "<img>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "B&amp;B" in svg


def test_a_catch_that_passes_other_states_runs_down_a_lane_right_of_them() -> None:
    graph = build_graph(_pipeline())
    layout = layout_graph(graph)
    svg = render_svg(graph)
    for source in ("Detect", "Persist"):  # their Catch reaches RecordFailure below Notify
        edge = re.search(rf'<g class="edge edge-catch" data-source="{source}" '
                         r'data-target="RecordFailure"><path d="[^"]* L([\d.]+),', svg)  # fmt: skip
        assert edge, source
        lane = float(edge.group(1))
        passed = [layout.states[name] for name in ("Notify", "NoFaces", "HasFaces")]
        assert all(lane > state.x + state.width for state in passed), source
    # Notify's own Catch leads to the next row: a plain curve, no lane.
    assert re.search(r'data-source="Notify" data-target="RecordFailure"><path d="M[^L"]*"', svg)


def test_a_jsonata_condition_is_drawn_without_states_input_and_kept_whole_in_its_tooltip() -> None:
    svg = render_svg(build_graph(_pipeline()))
    choice = re.search(r'data-source="HasFaces" data-target="Notify">.*?</g>', svg)
    assert choice
    assert "<title>$states.input.detection.faceCount &gt; 0</title>" in choice.group(0)
    assert "</title>detection.faceCount &gt; 0</text>" in choice.group(0)
