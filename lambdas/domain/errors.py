"""Errors the steps raise, named as AWS names them, and what a caught one means for people.

A Lambda task reports an unhandled exception's class name as its error, so these class
names are what the state machine's Retry and Catch rules match on, in AWS and offline.

A Catch with ``ResultPath: $.error`` gives ``{"Error": name, "Cause": text}``; for a
Lambda error the Cause is JSON with ``errorMessage`` (our StepError's reason):
:func:`failure_reason` turns it into the reason stored with a FAILED record, and
:func:`failure_kind` into the kind the persist step's metrics count.
"""

from __future__ import annotations

import json
from typing import Any


class StepError(Exception):
    """Base of every error a step raises on purpose. ``reason`` is for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- permanent image errors: never retried, caught and recorded as FAILED ---------------
class InvalidImageFormatException(StepError):
    """Not a JPEG or PNG by content, or a corrupt one (Rekognition's name)."""


class ImageTooLargeException(StepError):
    """Over Rekognition's 15 MB limit for an S3 object (Rekognition's name)."""


class InvalidParameterException(StepError):
    """E.g. under 80 px on a side (Rekognition's name; its limits page states no maximum in
    pixels for DetectFaces, only the 15 MB of an S3 object)."""


class InvalidS3ObjectException(StepError):
    """The object (or that version of it) is gone or unreadable (Rekognition's name)."""


# --- transient errors: retried with backoff by the state machine -------------------------
class ThrottlingException(StepError):
    """A service throttled the call (Rekognition's and DynamoDB's name)."""


class ProvisionedThroughputExceededException(StepError):
    """Rekognition or DynamoDB throughput exceeded (their name)."""


class ServiceUnavailableError(StepError):
    """A dependency (Rekognition, DynamoDB, SNS, SMTP) could not be reached; retryable."""


# --- configuration ---------------------------------------------------------------------
class ConfigurationError(StepError):
    """A required environment variable is missing or malformed."""


PERMANENT_IMAGE_ERRORS: tuple[type[StepError], ...] = (
    InvalidImageFormatException,
    ImageTooLargeException,
    InvalidParameterException,
    InvalidS3ObjectException,
)
TRANSIENT_ERRORS: tuple[type[StepError], ...] = (
    ThrottlingException,
    ProvisionedThroughputExceededException,
    ServiceUnavailableError,
)


# --- bad step input ----------------------------------------------------------------------
class StepInputError(StepError):
    """A step got input the state machine never sends (a hand-made or truncated event)."""


# --- a caught failure, for people ------------------------------------------------------
REASON_LIMIT = 2000

# What a failure means for the people running the pipeline (the persist step's metrics and
# the stack's alarms): the image's own fault, a service that stayed throttled after every
# retry, or anything else, which needs a person.
REJECTED, THROTTLED, ERROR = "REJECTED", "THROTTLED", "ERROR"

# The metric Persist counts for each kind (lambdas/persist/handler.py); the stack's alarms
# read the same names (infra/stack.py): ImagesFailed and ThrottledAfterRetries page a
# person, ImagesRejected is the images' own doing.
FAILURE_METRICS = {
    REJECTED: "ImagesRejected",
    THROTTLED: "ThrottledAfterRetries",
    ERROR: "ImagesFailed",
}
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
