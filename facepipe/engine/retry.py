"""Retry and Catch: which rule matches an error, and how long to back off."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from facepipe.engine.errors import ALL, DATA_LIMIT_EXCEEDED, RUNTIME, TASK_FAILED, TIMEOUT

DEFAULT_INTERVAL_SECONDS = 1
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_RATE = 2.0


def error_matches(error_equals: Sequence[str], error: str | None) -> bool:
    """Whether a Retry/Catch ErrorEquals list covers an error name.

    States.ALL and States.TaskFailed are wildcards, but neither covers the terminal errors
    (States.Runtime, States.DataLimitExceeded), and States.TaskFailed does not cover
    States.Timeout. States.Runtime is never matched at all.
    """
    if error == RUNTIME:
        return False
    name = error or ""
    if name in error_equals:
        return True
    if name == DATA_LIMIT_EXCEEDED:
        return False
    if ALL in error_equals:
        return True
    return TASK_FAILED in error_equals and name != TIMEOUT


def first_match(rules: Sequence[dict[str, Any]], error: str | None) -> int | None:
    for position, rule in enumerate(rules):
        if error_matches(rule["ErrorEquals"], error):
            return position
    return None


def max_attempts(retrier: dict[str, Any]) -> int:
    return int(retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS))


def backoff_seconds(retrier: dict[str, Any], attempt: int, rng: random.Random) -> float:
    """Delay before retry number `attempt` + 1 (attempt counts from 0)."""
    interval = retrier.get("IntervalSeconds", DEFAULT_INTERVAL_SECONDS)
    delay = interval * retrier.get("BackoffRate", DEFAULT_BACKOFF_RATE) ** attempt
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, retrier["MaxDelaySeconds"])
    if retrier.get("JitterStrategy") == "FULL":
        delay = rng.uniform(0, delay)
    return float(delay)
