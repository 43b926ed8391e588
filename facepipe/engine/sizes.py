"""Step Functions' payload limit: a state's input, output or a task's result of at most 256 KiB."""

from __future__ import annotations

from typing import Any

from facepipe.engine.errors import DATA_LIMIT_EXCEEDED, StatesError
from facepipe.engine.history import to_json

PAYLOAD_LIMIT_BYTES = 262_144


def payload_text(value: Any, what: str) -> str:
    """JSON text of a state payload; past 256 KB this is States.DataLimitExceeded."""
    text = to_json(value)
    check_size(text, what)
    return text


def check_size(text: str, what: str) -> None:
    # A str of n characters is at most 4n bytes of UTF-8: encode only when it could matter.
    if len(text) * 4 > PAYLOAD_LIMIT_BYTES and len(text.encode()) > PAYLOAD_LIMIT_BYTES:
        raise StatesError(
            DATA_LIMIT_EXCEEDED,
            f"The {what} has a size exceeding the maximum number of bytes service limit "
            f"({PAYLOAD_LIMIT_BYTES} bytes).",
        )
