"""AWS failures a person can fix, said in one sentence (no credentials, no stack, no access)."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)
from botocore.exceptions import (
    ConnectionError as EndpointUnreachable,
)
from botocore.parsers import ResponseParserError
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker


class AwsAccessError(RuntimeError):
    """The deployed stack cannot be reached or used; the message says what to do.

    ``answered``: AWS took the request and refused it for its own reasons (busy, a service
    error): nothing is wrong with the command, so it is a failure (exit 1), not a mistake."""

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


_CREDENTIALS = (
    "no AWS credentials were found: set AWS_PROFILE (after `aws sso login`) or "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where an IAM role is available"
)
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
_EXPIRED = ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId")
# Codes botocore's standard retry mode retries as throttling or transient (its own lists;
# answers with a 5xx status count too, below).
_TRY_AGAIN = frozenset(
    getattr(ThrottledRetryableChecker, "_THROTTLED_ERROR_CODES", ())
) | frozenset(getattr(TransientRetryableChecker, "_TRANSIENT_ERROR_CODES", ()))


def explain(
    error: Exception, stack_name: str | None = None, region: str | None = None
) -> AwsAccessError | None:
    """An AwsAccessError for a failure a person can fix or AWS answered with, else None (a
    bug: let it raise)."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError | TokenRetrievalError):
        return AwsAccessError(_CREDENTIALS)
    if isinstance(error, NoRegionError):
        return AwsAccessError("no AWS region is set: set AWS_REGION or AWS_DEFAULT_REGION")
    if isinstance(error, ProfileNotFound):
        return AwsAccessError(
            f"{error}: name one from `aws configure list-profiles` with --profile or AWS_PROFILE"
        )
    if isinstance(error, InvalidRegionError):
        return AwsAccessError(f"{error} (a region looks like eu-west-1)")
    if isinstance(error, EndpointUnreachable):  # no such endpoint, refused, timed out
        where = f" (is --region {region} a real region?)" if region else ""
        return AwsAccessError(f"AWS could not be reached: {error}{where}")
    if isinstance(error, ResponseParserError) or _raised_parsing_an_answer(error):
        where = f" --region {region}," if region else ""
        return AwsAccessError(
            "the answer from the AWS endpoint could not be read (is it really AWS? check"
            f"{where} AWS_ENDPOINT_URL and any proxy)"
        )
    if isinstance(error, ParamValidationError):
        return AwsAccessError(str(error).replace("\n", " "))
    if not isinstance(error, ClientError):
        return None
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    if code == "ValidationError" and "does not exist" in message:
        name = stack_name or "the stack"
        return AwsAccessError(
            f"stack {name!r} does not exist in this account and region: deploy it with "
            "`npx cdk deploy`, or name another with --stack"
        )
    if code in ("ExecutionDoesNotExist", "InvalidArn", "StateMachineDoesNotExist"):
        return AwsAccessError(f"{message} (`facepipe aws executions` lists the executions)")
    if code in _EXPIRED:
        return AwsAccessError(f"the AWS credentials were refused ({code}): log in again")
    if code in _DENIED:
        operation = error.operation_name
        return AwsAccessError(f"access denied for {operation}: {message}")
    # Any other refusal is still AWS's answer, not a crash of ours: one line with AWS's code.
    later = (
        " (AWS is busy or briefly unavailable: try again in a moment)"
        if (
            code in _TRY_AGAIN
            or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
        )
        else ""
    )
    return AwsAccessError(
        f"AWS refused {error.operation_name}: {code}: {message}{later}", answered=True
    )


def _raised_parsing_an_answer(error: Exception) -> bool:
    """botocore's parsers fail with KeyError or ValueError on a body that is not the AWS
    answer they expect (a proxy's or captive portal's HTML page): known by where it was
    raised, so a bug of ours is still a bug."""
    traceback = error.__traceback__
    if traceback is None or not isinstance(error, KeyError | ValueError | TypeError):
        return False
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    return bool(traceback.tb_frame.f_globals.get("__name__") == "botocore.parsers")
