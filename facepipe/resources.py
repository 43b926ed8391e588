"""Locates the shared ``statemachine/`` files: the ASL definition and the upload rule pattern.

An installed wheel carries them as ``facepipe/_statemachine/`` (pyproject force-includes
them); an editable or source checkout has them at ``<repo>/statemachine/``.
"""

from __future__ import annotations

from pathlib import Path

STATE_MACHINE_FILE = "face_pipeline.asl.json"
UPLOAD_RULE_FILE = "upload_rule.json"
BACKFILL_FILE = "backfill.asl.json"

_PACKAGE_DIR = Path(__file__).resolve().parent
_CANDIDATES = (_PACKAGE_DIR / "_statemachine", _PACKAGE_DIR.parent / "statemachine")


def statemachine_dir() -> Path:
    """The folder holding the statemachine files, installed copy first."""
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    searched = ", ".join(str(c) for c in _CANDIDATES)
    raise FileNotFoundError(f"statemachine files not found; looked in: {searched}")


def _statemachine_file(name: str) -> Path:
    path = statemachine_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is missing from {path.parent}")
    return path


def state_machine_path() -> Path:
    """``face_pipeline.asl.json``: the one ASL definition, run by Step Functions and offline."""
    return _statemachine_file(STATE_MACHINE_FILE)


def backfill_path() -> Path:
    """``backfill.asl.json``: the backfill workflow (a Distributed Map over the bucket)."""
    return _statemachine_file(BACKFILL_FILE)


def upload_rule_path() -> Path:
    """``upload_rule.json``: the EventBridge pattern (``${BucketName}`` placeholder) of uploads."""
    return _statemachine_file(UPLOAD_RULE_FILE)
