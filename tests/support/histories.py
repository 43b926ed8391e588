"""Reading stored execution histories (GetExecutionHistory-shaped events) in tests."""

from __future__ import annotations

from typing import Any


def task_attempts(history: list[dict[str, Any]], state: str) -> int:
    """How many times ``state``'s Lambda was called (the first try plus retries)."""
    entered, attempts = None, 0
    for event in history:
        details = event.get("stateEnteredEventDetails")
        if details:
            entered = details["name"]
        attempts += event["type"] == "TaskScheduled" and entered == state
    return attempts
