"""A real offline pipeline behind a real console server, driven by Debian's headless Chromium.

The browser is never downloaded: Playwright launches /usr/bin/chromium. When it is missing the
tests FAIL with the command that installs it (they are part of `make test`, never skipped).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from facepipe.console.app import create_app
from facepipe.console.local_source import LocalConsoleSource
from facepipe.console.server import BackgroundServer
from facepipe.local.home import DataHome
from facepipe.local.runtime import LocalPipeline, PipelineOptions
from facepipe.samples import sample_images

sys.path.insert(0, str(Path(__file__).parent))

from console_harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TEST_UPLOAD_LIMIT,
    RunningConsole,
)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningConsole]:
    root = tmp_path_factory.mktemp("console")
    samples = {path.stem: path for path in sample_images(root / "samples")}
    options = PipelineOptions(workers=1)
    with (
        LocalPipeline(DataHome(root / "home"), options, environ={}) as pipeline,
        BackgroundServer(
            create_app(LocalConsoleSource(pipeline), max_upload_bytes=TEST_UPLOAD_LIMIT)
        ) as server,
    ):
        yield RunningConsole(server.url, pipeline, samples)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's browser with"
            " `apt-get update && apt-get install -y chromium` (.ci/run does this)"
        )
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
