"""Numbers read through a *Path field (MaxConcurrencyPath, ToleratedFailure*Path, the
Distributed Map's reader and batcher paths), as AWS reads them: a string that parses as a
number counts."""

from __future__ import annotations

import json
import re
from typing import Any

from facepipe.engine.errors import RuntimeFailure
from facepipe.engine.payload import Scope, select_or_fail


def describe_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


# A string AWS reads as a number (Java's Integer.parseInt / Double.parseDouble), so a path
# to "1" is as good as a path to 1.
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def path_number(state: dict, key: str, data: Any, scope: Scope, kind: str) -> Any:
    path = state[f"{key}Path"]
    value = select_or_fail(path, data, scope, f"{key}Path")
    number = as_number(value, kind)
    if number is None:
        raise RuntimeFailure(
            f'The {key}Path field refers to value "{describe_value(value)}" which is not a valid '
            f"{kind}: {path}"
        )
    return number


def as_number(value: Any, kind: str) -> int | float | None:
    if isinstance(value, str):
        text = value.strip() if kind == "float" else value
        pattern = _INTEGER_TEXT if kind == "integer" else _DECIMAL_TEXT
        return (
            (int(text) if kind == "integer" else float(text)) if pattern.fullmatch(text) else None
        )
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if kind == "integer" and not float(value).is_integer():
        return None
    return value
