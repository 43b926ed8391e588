"""The bad-input corpus, generated once per test session (nothing binary is kept in git)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bad_inputs import BadInput, build_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BadInput]:
    return {item.kind: item for item in build_corpus(tmp_path_factory.mktemp("corpus"))}
