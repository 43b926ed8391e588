"""Fixtures for the ``facepipe`` command tests: sample photos and a clean environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cli_harness import Cli

from facepipe.samples import sample_images


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {path.name: path for path in sample_images(tmp_path_factory.mktemp("samples"))}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SMTP server, fault plan or data home from the machine running the tests."""
    for name in ("FACEPIPE_SMTP_URL", "FACEPIPE_SMTP_HOST", "FACEPIPE_FAULTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FACEPIPE_HOME", str(tmp_path / "env-home"))
    monkeypatch.setenv("FACEPIPE_EMAIL_TO", "alice@example.com")


@pytest.fixture
def facepipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "home", capsys)
