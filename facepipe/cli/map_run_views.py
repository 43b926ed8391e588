"""``facepipe show ARN``: one execution by its ARN (an upload's, a backfill's with its Map
Run and child executions, or a Map Run child), as tables or JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from facepipe.cli import views
from facepipe.cli.exits import UsageError

if TYPE_CHECKING:
    from facepipe.local.executions import ExecutionStore

CHILDREN_SHOWN = 50  # the table's children, newest first (--json lists them all)


def execution_by_arn(executions: ExecutionStore, arn: str) -> dict[str, Any]:
    """The execution (or Map Run child) ``arn`` with its history and Map Runs, as the Step
    Functions API names them (DescribeExecution, GetExecutionHistory, DescribeMapRun,
    ListExecutions --map-run-arn)."""
    from facepipe.engine import ApiError
    from facepipe.engine.maprun import MapRunApi

    api = MapRunApi(executions.map_runs)
    stored = executions.get(arn)
    if stored is not None:
        runs = []
        for run in api.list_map_runs(arn)["mapRuns"]:
            described = api.describe_map_run(run["mapRunArn"])
            children = api.list_executions(map_run_arn=run["mapRunArn"])["executions"]
            for listed in children[:CHILDREN_SHOWN]:  # the object each shown child ran on
                listed["imageKey"] = _image_key(executions, listed["executionArn"])
            runs.append({**described, "executions": children})
        return {
            "execution": stored.to_dict(),
            "history": executions.history(arn),
            "mapRuns": runs,
        }
    try:
        child = api.describe_execution(arn)
    except ApiError:
        raise UsageError(
            f"no execution {arn} in this data home (`facepipe records` lists images)"
        ) from None
    child_history = executions.map_runs.child_history(arn) or []
    return {"execution": child, "history": child_history, "mapRuns": []}


def _image_key(executions: ExecutionStore, child_arn: str) -> str:
    """The object key of a backfill child's item (ListObjectsV2's Key), if it has one."""
    child = executions.map_runs.child(child_arn)
    try:
        item = json.loads(child.input) if child is not None else {}
        return str(item["object"]["Key"])
    except (ValueError, KeyError, TypeError):
        return ""


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def print_execution(console: Console, shown: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        views.print_json(_plain(shown))
        return
    execution = shown["execution"]
    table = Table(title=f"execution {execution.get('name', '')}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name in ("executionArn", "kind", "status", "startDate", "stopDate", "error", "cause",
                 "redriveCount", "mapRunArn"):  # fmt: skip
        value = execution.get(name)
        if value not in (None, ""):
            table.add_row(name, str(value))
    console.print(table)
    for run in shown["mapRuns"]:
        console.print(map_run_table(run))
        console.print(children_table(run["executions"]))
    if shown["history"]:
        console.print(views.events_table(shown["history"]))


def map_run_table(run: dict[str, Any]) -> Table:
    table = Table(title=f"Map Run {run['mapRunArn']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    counts = run["itemCounts"]
    table.add_row("status", str(run["status"]))
    table.add_row(
        "items",
        f"{counts['total']} total: {counts['succeeded']} succeeded, {counts['failed']} failed, "
        f"{counts['running']} running, {counts['pending']} pending, {counts['aborted']} "
        f"aborted, {counts['timedOut']} timed out",
    )
    table.add_row("max concurrency", str(run["maxConcurrency"]))
    table.add_row("tolerated failure", f"{run['toleratedFailurePercentage']}%")
    table.add_row("started", str(run["startDate"]))
    if run.get("stopDate"):
        table.add_row("stopped", str(run["stopDate"]))
    if run.get("redriveCount"):
        table.add_row("redriven", str(run["redriveCount"]))
    return table


def children_table(children: list[dict[str, Any]]) -> Table:
    shown = children[:CHILDREN_SHOWN]
    more = len(children) - len(shown)
    caption = f"{more} more: --json lists them all" if more else None
    table = Table(title=f"child executions ({len(children)})", caption=caption)
    for column in ("status", "image", "name", "started", "stopped"):
        table.add_column(column)
    for child in shown:
        table.add_row(
            str(child["status"]),
            str(child.get("imageKey", "")),
            str(child["name"])[:8],
            str(child["startDate"])[:23],
            str(child.get("stopDate", ""))[:23],
        )
    return table
