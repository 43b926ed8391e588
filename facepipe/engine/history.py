"""Execution history events, shaped as Step Functions' GetExecutionHistory returns them.

Each event is a dict with `timestamp` (aware datetime, as boto3 gives it), `type`, `id`,
`previousEventId` and, for most types, one `<lowerCamelType>EventDetails` object. Data fields
(`input`, `output`, `parameters`) are JSON strings, as in the API.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from facepipe.engine.clock import Clock

EventListener = Callable[[dict[str, Any]], None]

# Events whose details object is named after the state rather than the event type.
_STATE_ENTERED_SUFFIX = "StateEntered"
_STATE_EXITED_SUFFIX = "StateExited"


# One encoder, built once: json.dumps with options would build a new one on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def to_json(value: Any) -> str:
    """Compact JSON text, as the API shows payloads."""
    return _ENCODER.encode(value)


def details_key(event_type: str) -> str:
    """The name of the details field an event type carries, as in the API."""
    if event_type.endswith(_STATE_ENTERED_SUFFIX):
        return "stateEnteredEventDetails"
    if event_type.endswith(_STATE_EXITED_SUFFIX):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


class History:
    """Thread-safe, append-only event log for one execution."""

    def __init__(
        self,
        clock: Clock,
        on_event: EventListener | None,
        events: list[dict[str, Any]] | None = None,
    ) -> None:
        # `events`: a history to continue (a redrive), its ids 1..n.
        self.events: list[dict[str, Any]] = events if events is not None else []
        self._clock = clock
        self._on_event = on_event
        self._lock = threading.Lock()

    @property
    def last_id(self) -> int:
        return len(self.events)

    def record(
        self, event_type: str, previous_id: int, details: dict[str, Any] | None = None
    ) -> int:
        with self._lock:
            event: dict[str, Any] = {
                "timestamp": self._clock.now(),
                "type": event_type,
                "id": len(self.events) + 1,
                "previousEventId": previous_id,
            }
            if details is not None:
                event[details_key(event_type)] = details
            self.events.append(event)
            if self._on_event is not None:
                self._on_event(event)
            return event["id"]


def data_details(key: str, text: str, **extra: Any) -> dict[str, Any]:
    """`{"input": "...", "inputDetails": {"truncated": false}}` and friends."""
    return {**extra, key: text, f"{key}Details": {"truncated": False}}


def error_details(error: str | None, cause: str | None, **extra: Any) -> dict[str, Any]:
    details = dict(extra)
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    return details
