"""Everything the execution page shows, as one JSON-ready dict: graph, states, history, faces."""

from __future__ import annotations

import json
from typing import Any

from facepipe.console.source import ConsoleSource, ExecutionDetail
from facepipe.console.svg import render_svg
from facepipe.graph import build_graph, summarize_history
from facepipe.graph.history import StateRun
from facepipe.graph.maprun import child_execution_type, map_run_states


def _state(run: StateRun) -> dict[str, Any]:
    return {
        "name": run.name,
        "status": run.status.value,
        "enteredAt": run.entered_at,
        "exitedAt": run.exited_at,
        "durationMs": run.duration_ms,
        "retries": run.retries,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "cause": run.cause,
        "failures": [{"error": e, "cause": c} for e, c in run.failures],
    }


def _history_row(event: dict[str, Any]) -> dict[str, Any]:
    details = {k: v for k, v in event.items() if k.endswith("EventDetails")}
    return {
        "id": event.get("id"),
        "type": event.get("type"),
        "timestamp": event.get("timestamp"),
        "state": next((d.get("name") for d in details.values() if "name" in d), None),
        "details": details,
    }


def faces_of(detail: ExecutionDetail, record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """FaceDetails from the stored record, else from the Detect state's output."""
    if record and isinstance(record.get("faces"), list):
        return list(record["faces"])
    for event in detail.history:
        exited = event.get("stateExitedEventDetails") or {}
        if exited.get("name") == "Detect" and exited.get("output"):
            try:
                faces = json.loads(exited["output"]).get("detection", {}).get("faces")
            except (ValueError, AttributeError):
                return []
            return list(faces) if isinstance(faces, list) else []
    return []


def counts_note(run: dict[str, Any]) -> str:
    """A Map Run's child execution counts in one line: "3 ✓ · 1 ✗ · 0 running of 4"."""
    counts = run.get("executionCounts") or {}
    failed = sum(counts.get(k, 0) for k in ("failed", "timedOut", "aborted"))
    return (
        f"{counts.get('succeeded', 0)} ✓ · {failed} ✗ · {counts.get('running', 0)} running"
        f" of {counts.get('total', 0)}"
    )


def map_runs_payload(
    source: ConsoleSource, detail: ExecutionDetail, definition: dict[str, Any]
) -> list[dict[str, Any]]:
    """The execution's Map Runs (DescribeMapRun), each with the Map state that started it
    and its children's type (STANDARD children can be opened; EXPRESS ones have no history,
    and open only where the source reads their logged events: offline)."""
    states = map_run_states(detail.history)
    if not states:  # no MapRunStarted in the history: nothing to ask the source for
        return []
    runs = []
    for run in source.map_runs(detail.item.execution_arn):
        state = states.get(run["mapRunArn"])
        kind = child_execution_type(definition, state) if state else "STANDARD"
        openable = kind == "STANDARD" or getattr(source, "opens_express_children", False)
        runs.append(
            {**run, "stateName": state, "childExecutionType": kind, "childrenOpenable": openable}
        )
    return runs


def execution_payload(source: ConsoleSource, detail: ExecutionDetail) -> dict[str, Any]:
    definition = detail.definition or source.definition
    graph = build_graph(definition)
    summary = summarize_history(detail.history, list(graph.nodes))
    record = source.record(detail)
    map_runs = map_runs_payload(source, detail, definition)
    # The latest run of each Map state (a retried Map starts one per attempt).
    notes = {run["stateName"]: counts_note(run) for run in map_runs if run["stateName"]}
    parent = source.map_run(detail.map_run_arn) if detail.map_run_arn else None
    return {
        "title": source.title,
        "execution": detail.item.to_dict(),
        "bucket": detail.bucket,
        "error": detail.error or summary.error,
        "cause": detail.cause or summary.cause,
        "path": summary.path,
        "states": {name: _state(run) for name, run in summary.states.items()},
        "graphSvg": render_svg(graph, summary, notes),
        "history": [_history_row(event) for event in detail.history],
        "record": record,
        "faces": faces_of(detail, record),
        "email": source.email(detail),
        "mapRuns": map_runs,
        "mapRunArn": detail.map_run_arn,
        "parentExecutionArn": parent.get("executionArn") if parent else None,
        "executionType": detail.execution_type,
        "historyNote": detail.history_note,
    }
