"""Running ``facepipe.cli.main`` in tests and reading what it printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from facepipe import cli


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
