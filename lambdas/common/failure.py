"""The human-readable reason stored with a FAILED record, from a Step Functions Catch.

A Catch with ``ResultPath: $.error`` gives ``{"Error": name, "Cause": text}``; for a
Lambda error the Cause is JSON with ``errorMessage`` (our StepError's reason).
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.common.errors import PERMANENT_IMAGE_ERRORS

REASON_LIMIT = 2000

# What a failure means for the people running the pipeline (the persist step's metrics and
# the stack's alarms): the image's own fault, a service that stayed throttled after every
# retry, or anything else, which needs a person.
REJECTED, THROTTLED, ERROR = "REJECTED", "THROTTLED", "ERROR"
REJECTIONS = frozenset(error.__name__ for error in PERMANENT_IMAGE_ERRORS)
THROTTLING = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "Lambda.TooManyRequestsException",
    }
)


def failure_kind(error_name: str) -> str:
    """REJECTED (a rejected image), THROTTLED (throttling outlasted the retries) or ERROR."""
    if error_name in REJECTIONS:
        return REJECTED
    return THROTTLED if error_name in THROTTLING else ERROR


_EXPLANATIONS = {
    "InvalidImageFormatException": "The file is not a JPEG or PNG image, or it is damaged.",
    "ImageTooLargeException": "The image is larger than face detection accepts (15 MB).",
    "InvalidParameterException": (
        "Face detection refused the image's size or a request parameter "
        "(Rekognition needs at least 80 pixels a side)."
    ),
    "InvalidS3ObjectException": (
        "The image (this version of it) could not be read: it was deleted or is not accessible."
    ),
    "ThrottlingException": "A service the pipeline calls stayed throttled after every retry.",
    "ProvisionedThroughputExceededException": "The service stayed over capacity after every retry.",
    "ServiceUnavailableError": "A service the pipeline needs stayed unreachable after every retry.",
    "States.Timeout": "A step took longer than it is allowed to.",
}


def _cause_message(cause: str) -> str:
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return cause


def failure_reason(error: dict[str, Any]) -> tuple[str, str]:
    """``(error name, reason for people)`` from a Catch's ``{"Error", "Cause"}``."""
    name = str(error.get("Error") or "UnknownError")
    message = _cause_message(str(error.get("Cause") or "")).strip()
    explanation = _EXPLANATIONS.get(name, f"The pipeline failed with {name}.")
    # The detail is its own sentence after the explanation: capitalise it, end it.
    if message:
        detail = message[0].upper() + message[1:]
        reason = f"{explanation} {detail}" + ("" if detail.endswith((".", "!", "?")) else ".")
    else:
        reason = explanation
    if len(reason) > REASON_LIMIT:
        reason = reason[: REASON_LIMIT - 3] + "..."
    return name, reason
