"""What both sources do alike for Map Runs: a child execution as the console shows it (its
definition is its Map's ItemProcessor in the parent's definition), and the page of children.

The answers are Step Functions' own shapes (DescribeMapRun, ListExecutions --map-run-arn),
as the engine and boto3 both give them:
https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from facepipe.console.source import (
    EXPRESS_LOGGED_NOTE,
    EXPRESS_NOTE,
    ChildPage,
    ExecutionDetail,
    ExecutionItem,
)
from facepipe.graph.maprun import item_processor, map_run_states
from facepipe.summary import face_count

MAX_CHILDREN_PAGE = 1000  # ListExecutions' own maxResults limit


def child_key(execution_input: Any) -> str | None:
    """The object key a child works on, when its item is an S3 object: ItemReader's
    listObjectsV2 items carry ``Key``, as such or under ``object`` (the backfill's
    ItemSelector)."""
    try:
        value = json.loads(execution_input) if isinstance(execution_input, str) else None
    except ValueError:
        return None
    for item in (value, value.get("object") if isinstance(value, dict) else None):
        if isinstance(item, dict) and isinstance(item.get("Key"), str):
            return str(item["Key"])
    return None


def child_detail(
    described: dict[str, Any],
    parent: ExecutionDetail | None,
    source_definition: Callable[[], dict[str, Any]],
    history: list[dict[str, Any]] | None,
    bucket: str,
    *,
    express: bool | None = None,
) -> ExecutionDetail:
    """A Map Run child (DescribeExecution's answer) with the graph it ran and its history
    (None for an EXPRESS child whose logged events the source cannot read: AWS keeps no
    history of it; ``express`` with events: those its log group holds). ``source_definition``
    gives the source's own definition, for a parent that ran it."""
    map_run_arn = described.get("mapRunArn")
    definition = None
    if parent is not None and map_run_arn:
        state = map_run_states(parent.history).get(map_run_arn)
        if state is not None:
            definition = item_processor(parent.definition or source_definition(), state)
    express = history is None if express is None else express
    item = ExecutionItem(
        execution_arn=described["executionArn"],
        name=described.get("name", ""),
        status=described["status"],
        image_key=child_key(described.get("input")) or described.get("name", ""),
        version_id=None,
        start_date=described.get("startDate"),
        stop_date=described.get("stopDate"),
        face_count=face_count(described.get("output")),
    )
    return ExecutionDetail(
        item=item,
        bucket=bucket,
        history=history or [],
        error=described.get("error"),
        cause=described.get("cause"),
        definition=definition or {"StartAt": "(unknown)", "States": {}},
        map_run_arn=map_run_arn,
        execution_type="EXPRESS" if express else "STANDARD",
        history_note=(EXPRESS_NOTE if history is None else EXPRESS_LOGGED_NOTE)
        if express
        else None,
    )


def offset_page(executions: list[dict[str, Any]], limit: int, next_token: str | None) -> ChildPage:
    """A page of an already listed answer; the token is the offset (ValueError if not one)."""
    start = 0
    if next_token:
        if not next_token.isdigit():
            raise ValueError(f"invalid nextToken {next_token!r}")
        start = int(next_token)
    end = start + limit
    more = str(end) if end < len(executions) else None
    return ChildPage(executions[start:end], more)
