"""An execution summed up the same way wherever it ran (offline or in AWS), for the CLI and
the console: the faces its output counts and how long it took. Standard library only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def face_count(output: Any) -> int | None:
    """``detection.faceCount`` of an execution's output (a dict, or the JSON text Step
    Functions returns); None when the execution did not get that far."""
    if isinstance(output, str):
        try:
            output = json.loads(output)
        except ValueError:
            return None
    detection = output.get("detection") if isinstance(output, dict) else None
    count = detection.get("faceCount") if isinstance(detection, dict) else None
    return count if isinstance(count, int) else None


class Timed:
    """An execution's start and stop, and the time between them."""

    start_date: datetime | None
    stop_date: datetime | None

    @property
    def duration_ms(self) -> float | None:
        if self.start_date is None or self.stop_date is None:
            return None
        return (self.stop_date - self.start_date).total_seconds() * 1000
