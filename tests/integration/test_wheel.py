"""The built wheel works on its own: the ASL file, the upload rule, the handlers and the
console's pages come from the installed package, run from a folder outside the repository.

The wheel is built here with the pinned build backend (no network: no build isolation, no
dependencies fetched), unpacked, and put first on the path of a fresh interpreter whose
other packages are this environment's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from facepipe.samples import PORTRAIT, sample_images

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    subprocess.run(
        [*pip_wheel, "--no-build-isolation", "--wheel-dir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("facepipe-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def python_from(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPIPE_")}
    env.update(PYTHONPATH=str(site), FACEPIPE_EMAIL_TO="alice@example.com")
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_wheel_carries_the_one_definition_and_finds_its_files(
    installed: Path, tmp_path: Path
) -> None:
    code = (
        "import json, facepipe, facepipe.console.app as app;"
        "from facepipe.resources import state_machine_path, upload_rule_path;"
        "print(json.dumps([facepipe.__file__, str(state_machine_path()),"
        " str(upload_rule_path()), app._static_dir()]))"
    )
    found = python_from(installed, tmp_path, "-c", code)

    assert found.returncode == 0, found.stderr
    package, definition, rule, static = map(Path, json.loads(found.stdout))
    for path in (package, definition, rule, static):
        assert path.is_relative_to(installed), path  # not the repository's copy
    assert definition.read_bytes() == (REPO / "statemachine/face_pipeline.asl.json").read_bytes()
    assert (static / "index.html").is_file()


def test_the_wheel_runs_the_pipeline_outside_the_repository(
    installed: Path, tmp_path: Path
) -> None:
    [portrait] = [p for p in sample_images(tmp_path / "samples") if p.name == PORTRAIT]
    home = tmp_path / "home"

    ran = python_from(
        installed,
        tmp_path,
        "-m",
        "facepipe.cli",
        "--home",
        str(home),
        "run",
        str(portrait),
        "--detector",
        "yunet",
        "--json",
    )

    assert ran.returncode == 0, ran.stderr
    [result] = json.loads(ran.stdout)
    assert (result["status"], result["faceCount"]) == ("SUCCEEDED", 1)
    assert len(list((home / "outbox" / "new").iterdir())) == 1
