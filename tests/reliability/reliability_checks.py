"""Checks shared by the offline and the Lambda bad-input tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bad_inputs import BadInput

PAYLOAD_LIMIT = 256 * 1024  # Step Functions' limit on a state's input or output
TERMINAL_EVENTS = {"SUCCEEDED": "ExecutionSucceeded", "FAILED": "ExecutionFailed"}


def assert_reason_for_people(reason: str | None, item: BadInput, detail: str) -> None:
    """A sentence saying what is wrong, then ``detail``; not a traceback or a bare class name."""
    assert reason, f"{item.kind}: no reason"
    assert reason[0].isupper() and "." in reason, reason
    assert "Traceback" not in reason and 'File "' not in reason, reason
    assert reason.strip() != item.error
    assert len(reason.split()) >= 8, reason
    # The detail opens its own sentence in the reason, so its first letter may be capitalised.
    assert detail.lower() in reason.lower(), f"{item.kind}: {detail!r} not in {reason!r}"


def assert_complete_history(history: list[dict[str, Any]], status: str) -> None:
    """Numbered from 1 without gaps, started and ended, and every entered state exited."""
    assert [event["id"] for event in history] == list(range(1, len(history) + 1))
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == TERMINAL_EVENTS[status]
    entered = sum(event["type"].endswith("StateEntered") for event in history)
    exited = sum(event["type"].endswith("StateExited") for event in history)
    # A Fail state is entered and never exited: the execution ends there.
    assert exited == entered - (1 if status == "FAILED" else 0), [e["type"] for e in history]


def largest_state_payload(history: list[dict[str, Any]]) -> int:
    """The largest state input or output (bytes of UTF-8 JSON) in an execution's history."""
    sizes = [0]
    for event in history:
        for details in event.values():
            if isinstance(details, dict):
                for name in ("input", "output"):
                    value = details.get(name)
                    if isinstance(value, str):
                        sizes.append(len(value.encode()))
                    elif value is not None:
                        sizes.append(len(json.dumps(value).encode()))
    return max(sizes)


def assert_same_box(actual: dict[str, float], expected: dict[str, float]) -> None:
    for side in ("left", "top", "width", "height"):
        assert actual[side] == pytest.approx(expected[side], abs=0.02), side
