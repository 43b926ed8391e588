"""Resolving the data home and locating the statemachine files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facepipe import resources
from facepipe.local.home import DataHome, resolve_home
from facepipe.resources import state_machine_path, statemachine_dir, upload_rule_path
from lambdas.domain.errors import ConfigurationError


def test_flag_beats_environment_beats_default(tmp_path: Path):
    env = {"FACEPIPE_HOME": str(tmp_path / "from-env")}

    assert resolve_home(tmp_path / "from-flag", env).root == tmp_path / "from-flag"
    assert resolve_home(None, env).root == tmp_path / "from-env"
    assert resolve_home(None, {}).root == Path("~/.facepipe").expanduser()
    assert resolve_home(None, {"FACEPIPE_HOME": ""}).root == Path("~/.facepipe").expanduser()


def test_relative_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_home("data", {}).root == tmp_path / "data"


def test_a_file_is_not_a_home(tmp_path: Path):
    (tmp_path / "file").write_text("x")

    with pytest.raises(ConfigurationError, match="exists but is not a folder"):
        resolve_home(tmp_path / "file", {})
    with pytest.raises(ConfigurationError, match="path is empty"):
        resolve_home("  ", {})


def test_create_makes_a_private_folder_with_fixed_places(tmp_path: Path):
    home = DataHome(tmp_path / "h").create()

    assert (tmp_path / "h").is_dir()
    assert (tmp_path / "h").stat().st_mode & 0o777 == 0o700
    assert home.records_db == tmp_path / "h" / "records.sqlite3"
    assert home.outbox == tmp_path / "h" / "outbox"
    assert home.buckets == tmp_path / "h" / "buckets"


def test_statemachine_files_are_found_in_the_checkout():
    assert statemachine_dir().name in ("statemachine", "_statemachine")
    assert "detail" in json.loads(upload_rule_path().read_text(encoding="utf-8"))
    assert "StartAt" in json.loads(state_machine_path().read_text(encoding="utf-8"))


def test_the_installed_copy_is_preferred_and_a_missing_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    installed, checkout = tmp_path / "_statemachine", tmp_path / "statemachine"
    installed.mkdir()
    checkout.mkdir()
    (installed / "upload_rule.json").write_text("{}")
    monkeypatch.setattr(resources, "_CANDIDATES", (installed, checkout))

    assert upload_rule_path() == installed / "upload_rule.json"
    with pytest.raises(FileNotFoundError, match=r"face_pipeline\.asl\.json is missing"):
        state_machine_path()
    monkeypatch.setattr(resources, "_CANDIDATES", (tmp_path / "none",))
    with pytest.raises(FileNotFoundError, match="statemachine files not found"):
        statemachine_dir()
