"""botocore settings for the notify function's clients: give up well inside the Lambda timeout.

boto3's defaults (60 s read timeout, retries in "legacy" mode) let one hung call outlive
the function, and a Lambda that times out runs no ``except`` block: its email claim would
neither be released nor marked sent. With these settings every call ends, with an answer
or a named error, in at most :func:`worst_case_seconds`, so the step's own error handling
always runs.
"""

from __future__ import annotations

from typing import Any

CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 3.0
TOTAL_MAX_ATTEMPTS = 2
"""Attempts per call, the first included (botocore's "standard" retry mode)."""
MAX_RETRY_DELAY_SECONDS = 1.0
"""Standard mode waits rand(0, 1) * min(scale * 2 ** i, 20) s before retry i (0-based), with
``scale`` 1 s for throttling; one retry therefore waits at most 1 s. (A service's
``x-amz-retry-after`` header may add up to 5 s; DynamoDB and SNS do not send it.)"""


def client_config() -> Any:
    """The ``botocore.config.Config`` for the DynamoDB and SNS clients of notify."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"total_max_attempts": TOTAL_MAX_ATTEMPTS, "mode": "standard"},
    )


def worst_case_seconds(calls: int) -> float:
    """How long ``calls`` sequential calls can take when every attempt times out."""
    per_attempt = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
    per_call = TOTAL_MAX_ATTEMPTS * per_attempt + (TOTAL_MAX_ATTEMPTS - 1) * MAX_RETRY_DELAY_SECONDS
    return calls * per_call
