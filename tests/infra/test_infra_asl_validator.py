"""asl-validator (npm, from `make install`) on the state machine definition."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFINITION = REPO_ROOT / "statemachine" / "face_pipeline.asl.json"
BACKFILL = REPO_ROOT / "statemachine" / "backfill.asl.json"


def asl_validator() -> str:
    # `make test` puts node_modules/.bin on PATH; a bare pytest run finds the repo's copy.
    found = shutil.which("asl-validator") or shutil.which(
        "asl-validator", path=str(REPO_ROOT / "node_modules" / ".bin")
    )
    if found is None:
        pytest.fail("asl-validator is not installed: run `make install` (npm install)")
    return found


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [asl_validator(), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("definition", [DEFINITION, BACKFILL], ids=lambda path: path.name)
def test_definition_is_valid_asl(definition: Path) -> None:
    result = validate(definition)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_a_broken_definition(tmp_path: Path) -> None:
    broken = tmp_path / "broken.asl.json"
    broken.write_text(
        json.dumps({"StartAt": "Detect", "States": {"Detect": {"Type": "Pass", "Next": "Gone"}}})
    )
    result = validate(broken)
    assert result.returncode != 0


def test_validator_holds_the_definition_to_jsonata_rules(tmp_path: Path) -> None:
    """asl-validator 4 reads `"QueryLanguage": "JSONata"` and applies the JSONata schema: a
    JSONPath field in a JSONata state is refused, as Step Functions refuses it
    (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html). It does
    not look inside a Catch; tests/unit/lambdas/test_lambda_asl.py checks those."""
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    assert definition["QueryLanguage"] == "JSONata"
    definition["States"]["Persist"]["ResultPath"] = "$.record"
    with_jsonpath = tmp_path / "with_jsonpath.asl.json"
    with_jsonpath.write_text(json.dumps(definition))
    result = validate(with_jsonpath)
    assert result.returncode != 0
    assert "/States/Persist" in result.stdout + result.stderr


def test_a_missing_validator_fails_the_run_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(pytest.fail.Exception, match="asl-validator is not installed"):
        asl_validator()
