"""asl-validator (npm, from `make install`) on the state machine definition."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFINITION = REPO_ROOT / "statemachine" / "face_pipeline.asl.json"


def asl_validator() -> str:
    # `make test` puts node_modules/.bin on PATH; a bare pytest run finds the repo's copy.
    found = shutil.which("asl-validator") or shutil.which(
        "asl-validator", path=str(REPO_ROOT / "node_modules" / ".bin")
    )
    if found is None:
        pytest.fail("asl-validator is not installed: run `make install` (npm install)")
    return found


def test_definition_is_valid_asl() -> None:
    result = subprocess.run(
        [asl_validator(), "--json-path", str(DEFINITION)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
