"""Turning botocore failures into the named errors the state machine retries or catches.

Step Functions sees a Lambda's unhandled exception by its class name, and botocore raises
``ClientError`` (or a generated subclass) whatever the service said; so each AWS adapter
re-raises through :func:`step_error_from`, keeping the service's message for people.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore import exceptions as botocore_errors
from botocore.exceptions import ClientError

from lambdas.domain import errors
from lambdas.domain.errors import StepError

# Service error codes that mean "try again later", beyond those named as our classes.
_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "Throttled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
_NAMED_CODES: dict[str, type[StepError]] = {
    cls.__name__: cls for cls in (*errors.PERMANENT_IMAGE_ERRORS, *errors.TRANSIENT_ERRORS)
}


def step_error_from(error: ClientError, action: str) -> StepError | None:
    """The named error for a service's error code, or None when it has no name of ours.

    ``action`` says what was being done, e.g. "detecting faces in s3://b/k".
    """
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "") or code
    reason = f"{action} failed: {message} ({code})"
    if code in _NAMED_CODES:
        return _NAMED_CODES[code](reason)
    if code in _THROTTLING_CODES:
        return errors.ThrottlingException(reason)
    if code in _UNAVAILABLE_CODES:
        return errors.ServiceUnavailableError(reason)
    return None


@contextmanager
def named_aws_errors(action: str) -> Iterator[None]:
    """Re-raise botocore failures inside the block as the errors of ``lambdas.domain.errors``."""
    try:
        yield
    except ClientError as error:
        named = step_error_from(error, action)
        if named is None:
            raise
        raise named from error
    except (botocore_errors.ConnectionError, botocore_errors.ReadTimeoutError) as error:
        raise errors.ServiceUnavailableError(f"{action} failed: {error}") from error
