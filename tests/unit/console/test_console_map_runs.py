"""The console's Map Run endpoints over HTTP, on a DISTRIBUTED Map run by the local engine.

The answers keep Step Functions' shapes: DescribeMapRun
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html) and
ListExecutions --map-run-arn with its statusFilter values and page tokens
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from map_runs import BAD_KEY, MAP_STATE, distributed_machine, put_items, run_distributed

from facepipe.console.app import create_app
from facepipe.console.local_source import LocalConsoleSource
from facepipe.console.map_runs import child_key
from facepipe.console.server import BackgroundServer
from facepipe.engine import StateMachine
from facepipe.local.home import DataHome
from facepipe.local.runtime import LocalPipeline, PipelineOptions


@dataclass
class MapRunConsole:
    url: str
    pipeline: LocalPipeline
    parent_arn: str
    express_parent_arn: str

    def get(self, path: str, host: str | None = None) -> tuple[int, Any]:
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": host} if host else {})
            answer = connection.getresponse()
            body = answer.read()
            if answer.getheader("content-type", "").startswith("application/json"):
                return answer.status, json.loads(body)
            return answer.status, body.decode()
        finally:
            connection.close()

    def ok(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, body
        return body


def _express(machine: StateMachine, pipeline: LocalPipeline) -> StateMachine:
    definition = json.loads(machine.definition)
    definition["States"][MAP_STATE]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "EXPRESS"
    return StateMachine(definition, name="facepipe-maprun-express", map_run_store=machine.map_runs)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapRunConsole]:
    home = DataHome(tmp_path_factory.mktemp("console-maprun"))
    with LocalPipeline(home, PipelineOptions(workers=1, detector="haar"), environ={}) as pipeline:
        put_items(pipeline)
        machine = distributed_machine(pipeline)
        express = _express(machine, pipeline)
        parent = run_distributed(pipeline, machine, "backfill-1")
        express_parent = run_distributed(pipeline, express, "backfill-express")
        source = LocalConsoleSource(pipeline, machines=[machine, express])
        with BackgroundServer(create_app(source)) as server:
            yield MapRunConsole(server.url, pipeline, parent, express_parent)


def _map_run(console: MapRunConsole) -> dict[str, Any]:
    [run] = console.ok("/api/execution?arn=" + quote(console.parent_arn))["mapRuns"]
    return dict(run)


def test_the_execution_page_carries_its_map_run_with_describe_map_runs_counts(
    console: MapRunConsole,
) -> None:
    page = console.ok("/api/execution?arn=" + quote(console.parent_arn))
    [run] = page["mapRuns"]
    assert run["status"] == "SUCCEEDED"
    assert run["stateName"] == MAP_STATE and run["childExecutionType"] == "STANDARD"
    assert run["executionArn"] == console.parent_arn
    counts = run["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["total"]) == (3, 1, 4)
    assert run["itemCounts"]["total"] == 4
    assert (run["maxConcurrency"], run["toleratedFailureCount"]) == (2, 1)
    # Its own definition is drawn (not the face pipeline's), the Map node with the counts.
    assert f'data-state="{MAP_STATE}"' in page["graphSvg"]
    assert 'data-state="Detect"' not in page["graphSvg"]
    assert "3 ✓ · 1 ✗ · 0 running of 4" in page["graphSvg"]
    assert page["path"] == [MAP_STATE]


def test_describe_map_run_and_an_unknown_one(console: MapRunConsole) -> None:
    arn = _map_run(console)["mapRunArn"]
    answer = console.ok("/api/map-run?arn=" + quote(arn))
    assert answer["mapRun"]["mapRunArn"] == arn
    assert answer["counts"] == "3 ✓ · 1 ✗ · 0 running of 4"
    status, body = console.get("/api/map-run?arn=" + quote(arn + "x"))
    assert status == 404 and body["error"] == "no such Map Run"


def test_the_child_list_is_paged_and_filtered_by_status(console: MapRunConsole) -> None:
    arn = quote(_map_run(console)["mapRunArn"])
    first = console.ok(f"/api/map-run/executions?arn={arn}&limit=3")
    assert len(first["executions"]) == 3 and first["nextToken"]
    second = console.ok(
        f"/api/map-run/executions?arn={arn}&limit=3&nextToken={quote(first['nextToken'])}"
    )
    assert len(second["executions"]) == 1 and second["nextToken"] is None
    names = {e["name"] for e in first["executions"] + second["executions"]}
    assert len(names) == 4
    [failed] = console.ok(f"/api/map-run/executions?arn={arn}&status=FAILED")["executions"]
    assert failed["status"] == "FAILED" and failed["mapRunArn"] == _map_run(console)["mapRunArn"]
    assert console.ok(f"/api/map-run/executions?arn={arn}&status=PENDING_REDRIVE") == {
        "executions": [],
        "nextToken": None,
    }


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("&status=DONE", "unknown status 'DONE'"),
        ("&limit=0", "limit must be a whole number from 1 to 1000"),
        ("&limit=1001", "limit must be a whole number from 1 to 1000"),
        ("&nextToken=abc", "invalid nextToken 'abc'"),
    ],
)
def test_the_child_list_refuses_what_list_executions_refuses(
    console: MapRunConsole, query: str, error: str
) -> None:
    arn = quote(_map_run(console)["mapRunArn"])
    status, body = console.get(f"/api/map-run/executions?arn={arn}{query}")
    assert status == 400 and body["error"].startswith(error)


def test_an_unknown_map_runs_children_are_not_found(console: MapRunConsole) -> None:
    status, body = console.get("/api/map-run/executions?arn=nothing")
    assert status == 404 and body["error"] == "no such Map Run"


def test_a_standard_child_opens_with_its_item_processor_graph_and_history(
    console: MapRunConsole,
) -> None:
    run = _map_run(console)
    [failed] = console.ok(f"/api/map-run/executions?arn={quote(run['mapRunArn'])}&status=FAILED")[
        "executions"
    ]
    child = console.ok("/api/execution?arn=" + quote(failed["executionArn"]))
    assert child["execution"]["status"] == "FAILED"
    assert child["execution"]["imageKey"] == BAD_KEY
    assert child["path"] == ["IsBad", "Refuse"]
    assert set(child["states"]) == {"IsBad", "Refuse", "Process"}
    assert (child["error"], child["cause"]) == ("Item.Bad", "a bad item")
    assert child["parentExecutionArn"] == console.parent_arn
    assert child["mapRunArn"] == run["mapRunArn"]
    assert child["executionType"] == "STANDARD" and child["historyNote"] is None
    assert child["history"][0]["type"] == "ExecutionStarted"
    assert child["mapRuns"] == []


def test_an_express_child_is_drawn_from_its_logged_events(console: MapRunConsole) -> None:
    """Step Functions keeps no history of an EXPRESS child (GetExecutionHistory refuses it);
    its log group holds its events, and the console draws those, saying so."""
    [run] = console.ok("/api/execution?arn=" + quote(console.express_parent_arn))["mapRuns"]
    assert run["childExecutionType"] == "EXPRESS" and run["childrenOpenable"] is True
    listed = console.ok(f"/api/map-run/executions?arn={quote(run['mapRunArn'])}")["executions"]
    assert {e["status"] for e in listed} == {"SUCCEEDED", "FAILED"}
    child = console.ok("/api/execution?arn=" + quote(listed[0]["executionArn"]))
    assert child["executionType"] == "EXPRESS"
    assert child["history"][0]["type"] == "ExecutionStarted"
    assert child["states"], "the child's graph has the states it ran"
    assert "log group" in child["historyNote"]


def test_the_map_run_endpoints_keep_the_host_check(console: MapRunConsole) -> None:
    arn = quote(_map_run(console)["mapRunArn"])
    for path in (f"/api/map-run?arn={arn}", f"/api/map-run/executions?arn={arn}"):
        status, body = console.get(path, host="evil.example")
        assert status == 400 and "mapRun" not in body


@pytest.mark.parametrize(
    ("child_input", "key"),
    [
        ('{"Key": "uploads/a.jpg", "Size": 3}', "uploads/a.jpg"),
        ('{"bucket": "b", "object": {"Key": "uploads/old/1.jpg"}}', "uploads/old/1.jpg"),
        ('{"Items": [{"Key": "uploads/a.jpg"}]}', None),  # a batch: no one key
        ("[1, 2]", None),
        ("not json", None),
    ],
)
def test_a_childs_object_key_is_read_from_its_list_objects_v2_item(
    child_input: str, key: str | None
) -> None:
    """listObjectsV2 items carry Key, Size, ETag, LastModified, StorageClass:
    https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html"""
    assert child_key(child_input) == key
