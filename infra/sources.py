"""The repository files the stack is built from: the ASL definition, the upload rule, the pins."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
STATEMACHINE_DIR = REPO_ROOT / "statemachine"
DEFINITION_FILE = STATEMACHINE_DIR / "face_pipeline.asl.json"
UPLOAD_RULE_FILE = STATEMACHINE_DIR / "upload_rule.json"
PYPROJECT_FILE = REPO_ROOT / "pyproject.toml"

BUCKET_NAME_PLACEHOLDER = "${BucketName}"
DEFINITION_SUBSTITUTION_KEYS = ("DetectFunctionArn", "PersistFunctionArn", "NotifyFunctionArn")


class SourceFileError(ValueError):
    """A shared source file is missing or malformed; the message names the file."""


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceFileError(f"{path} is missing") from None
    except json.JSONDecodeError as error:
        raise SourceFileError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}"
        ) from None


def read_definition(path: Path = DEFINITION_FILE) -> str:
    """The ASL text, unchanged, after checking it is JSON with the three placeholders."""
    definition = read_json(path)
    if not isinstance(definition, dict) or "States" not in definition:
        raise SourceFileError(f"{path} is not an ASL state machine (no top-level States)")
    text = path.read_text(encoding="utf-8")
    missing = [key for key in DEFINITION_SUBSTITUTION_KEYS if "${" + key + "}" not in text]
    if missing:
        raise SourceFileError(f"{path} never uses the substitution(s) {', '.join(missing)}")
    return text


def upload_rule_pattern(bucket_name: str, path: Path = UPLOAD_RULE_FILE) -> dict[str, Any]:
    """The EventBridge pattern with ``${BucketName}`` replaced by ``bucket_name``."""
    pattern = read_json(path)
    if not isinstance(pattern, dict):
        raise SourceFileError(f"{path} must hold one EventBridge pattern object")
    if BUCKET_NAME_PLACEHOLDER not in json.dumps(pattern):
        raise SourceFileError(f"{path} never names the bucket as {BUCKET_NAME_PLACEHOLDER}")
    return _replace_strings(pattern, BUCKET_NAME_PLACEHOLDER, bucket_name)


def _replace_strings(node: Any, placeholder: str, value: str) -> Any:
    # Whole-string replacement, so a CDK token (the bucket name) stays a token.
    if isinstance(node, dict):
        return {key: _replace_strings(item, placeholder, value) for key, item in node.items()}
    if isinstance(node, list):
        return [_replace_strings(item, placeholder, value) for item in node]
    if node == placeholder:
        return value
    return node


def pinned_version(distribution: str, path: Path = PYPROJECT_FILE) -> str:
    """The exact ``==`` pin of ``distribution`` in pyproject's dependencies."""
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    pins = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        pins.extend(extra)
    pattern = re.compile(rf"^{re.escape(distribution)}(\[[^\]]*\])?==([\w.]+)$")
    for pin in pins:
        match = pattern.match(pin.replace(" ", ""))
        if match:
            return match.group(2)
    raise SourceFileError(f"{path} has no exact pin (==) for {distribution}")
