"""A DISTRIBUTED Map run on the local engine, watched in a real headless Chromium: the Map Run
panel's counts and bar while it runs and once it ends, the child list and its status filter,
a child's own graph (its Map's ItemProcessor), and the way back to the parent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from map_runs import BAD_KEY, MAP_STATE, distributed_machine, put_items, run_distributed

from facepipe.console.app import create_app
from facepipe.console.local_source import LocalConsoleSource
from facepipe.console.server import BackgroundServer
from facepipe.local.home import DataHome
from facepipe.local.runtime import LocalPipeline, PipelineOptions, execution_arn

pytestmark = pytest.mark.browser

PAUSE_SECONDS = 2  # each good child waits, so the page sees the run RUNNING first


@dataclass
class MapRunPage:
    url: str
    parent_arn: str
    run: threading.Thread


@pytest.fixture(scope="module")
def backfill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapRunPage]:
    home = DataHome(tmp_path_factory.mktemp("console-maprun-browser"))
    with LocalPipeline(home, PipelineOptions(workers=1, detector="haar"), environ={}) as pipeline:
        put_items(pipeline)
        machine = distributed_machine(pipeline, PAUSE_SECONDS)
        source = LocalConsoleSource(pipeline, machines=[machine])
        with BackgroundServer(create_app(source)) as server:
            run = threading.Thread(
                target=run_distributed, args=(pipeline, machine, "backfill-1"), daemon=True
            )
            run.start()
            yield MapRunPage(server.url, execution_arn(machine, "backfill-1"), run)
            run.join(timeout=60)


def _child_rows(page: Any) -> list[tuple[str, str]]:
    rows = page.locator("#children tbody tr")
    return [
        (
            rows.nth(i).locator("td").nth(0).inner_text(),
            rows.nth(i).locator("td").nth(1).inner_text(),
        )
        for i in range(rows.count())
    ]


def test_the_map_run_panel_follows_the_run_then_opens_a_failed_childs_graph(
    page: Any, backfill: MapRunPage
) -> None:
    page.goto(f"{backfill.url}/execution?arn={quote(backfill.parent_arn)}")
    panel = page.locator("#map-runs .map-run").first
    panel.wait_for(timeout=30_000)
    # While it runs: the page refreshes itself (no reload) until the run has ended.
    page.wait_for_selector("#map-runs .map-run.status-running", timeout=30_000)
    page.wait_for_selector("#map-runs .map-run.status-succeeded", timeout=60_000)
    page.wait_for_selector("body[data-loaded='SUCCEEDED']", timeout=30_000)
    executions = panel.locator(".map-run-executions").inner_text()
    assert "3 succeeded · 1 failed" in executions and "4 total" in executions
    bar = panel.locator(".map-run-bar")
    assert bar.locator(".bar-succeeded").count() == 1 and bar.locator(".bar-failed").count() == 1
    widths = bar.evaluate("b => [...b.children].map(c => c.style.width)")
    assert widths == ["75%", "25%"]
    map_node = page.locator(f'#graph .state[data-state="{MAP_STATE}"]')
    assert "3 ✓ · 1 ✗ · 0 running of 4" in (map_node.text_content() or "")

    # The child list: all four, then only the failed one.
    page.wait_for_function("() => document.querySelectorAll('#children tbody tr').length === 4")
    assert sorted(status for status, _ in _child_rows(page)) == ["FAILED"] + ["SUCCEEDED"] * 3
    page.select_option("#child-status", "FAILED")
    page.wait_for_function("() => document.querySelectorAll('#children tbody tr').length === 1")
    [(status, name)] = _child_rows(page)
    assert status == "FAILED"

    # A child opens on its own page, drawn from the Map's ItemProcessor.
    page.locator("#children tbody tr a").first.click()
    page.wait_for_selector("body[data-loaded='FAILED']", timeout=30_000)
    assert page.locator("#exec-key").inner_text() == BAD_KEY
    assert name in page.locator("#exec-meta").inner_text()
    states = page.locator("#graph .state[data-state]")
    names = {states.nth(i).get_attribute("data-state") for i in range(states.count())}
    assert names == {"IsBad", "Refuse", "Pause", "Process"}
    refuse = page.locator('#graph .state[data-state="Refuse"]').get_attribute("class")
    assert "status-failed" in refuse
    assert "Item.Bad: a bad item" in page.locator("#exec-error").inner_text()
    assert page.locator("#map-runs-section").is_hidden()

    # And back to the parent.
    page.locator("#parent-link").click()
    page.wait_for_selector("#map-runs .map-run.status-succeeded", timeout=30_000)
    assert page.url.endswith(quote(backfill.parent_arn, safe=""))
