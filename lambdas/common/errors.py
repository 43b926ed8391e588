"""Errors the steps raise, named as AWS names them.

A Lambda task reports an unhandled exception's class name as its error, so these class
names are what the state machine's Retry and Catch rules match on, in AWS and offline.
"""

from __future__ import annotations


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
