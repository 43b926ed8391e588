"""Running ``facepipe`` in tests, in this process (``Cli``) or as a process of its own
(``facepipe_process``, ``Lines``), and reading what it printed and stored."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from facepipe import cli

FACEPIPE = Path(sys.executable).parent / "facepipe"
# Where the detector is not the point: the fastest one, at the confidence README advises.
FAST_DETECTOR = ("--detector", "yunet", "--min-confidence", "80")


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment without the machine's facepipe settings, HOME in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPIPE_")}
    env["FACEPIPE_EMAIL_TO"] = "alice@example.com"
    env["HOME"] = str(tmp_path)  # nothing may land in the real ~/.facepipe
    env.update(extra)
    return env


def facepipe_process(
    home: Path, *args: str, env: dict[str, str], timeout: float = 180, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``facepipe --home HOME ARGS`` as a process, to its end."""
    return subprocess.run(
        [str(FACEPIPE), "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def started(home: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``facepipe --home HOME ARGS`` started, its output piped."""
    return subprocess.Popen(
        [str(FACEPIPE), "--home", str(home), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


class Lines:
    """Reads a process's stdout on a thread, so the test can wait for a line with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self._queue.put(x) for x in stream], daemon=True).start()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The first line holding ``text``, already read or still to come (order is free)."""
        for line in self.seen:
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        pytest.fail(f"no line with {text!r} within {timeout} s; saw: {self.seen}")


class Cli:
    """Runs ``facepipe.cli.main`` against one data home and captures what it prints."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self._capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self._capsys.readouterr()
        status = cli.main(["--home", str(self.home), *args])
        captured = self._capsys.readouterr()
        return status, captured.out, captured.err

    def json(self, *args: str) -> tuple[int, Any]:
        status, out, _ = self(*args, "--json")
        return status, json.loads(out)


def executions_of(home: Path) -> list[Any]:
    """Every execution stored in the data home, newest first."""
    from facepipe.local.executions import ExecutionStore, executions_db_path
    from facepipe.local.home import DataHome

    store = ExecutionStore(executions_db_path(DataHome(home)))
    try:
        return store.list_executions(limit=10**6)
    finally:
        store.close()


def notify_sends(home: Path) -> dict[tuple[str, str], int]:
    """How many times a Notify step sent an email, per image version, from the histories."""
    from facepipe.local.executions import ExecutionStore, executions_db_path
    from facepipe.local.home import DataHome

    sends: dict[tuple[str, str], int] = {}
    store = ExecutionStore(executions_db_path(DataHome(home)))
    try:
        for execution in store.list_executions(limit=10**6):
            for event in store.history(execution.execution_arn):
                if event["type"] != "TaskSucceeded":
                    continue
                payload = json.loads(event["taskSucceededEventDetails"]["output"])["Payload"]
                if payload.get("sent") is True:
                    version = (execution.image_key, execution.version_id)
                    sends[version] = sends.get(version, 0) + 1
    finally:
        store.close()
    return sends


def outbox_files(home: Path) -> list[Path]:
    folder = home / "outbox" / "new"
    return sorted(folder.iterdir()) if folder.is_dir() else []
