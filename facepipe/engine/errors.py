"""Errors the engine raises, named as Step Functions names them."""

from __future__ import annotations


class DefinitionError(ValueError):
    """The state machine definition is invalid; raised before anything runs."""

    def __init__(self, state: str | None, reason: str) -> None:
        self.state = state
        self.reason = reason
        where = f"State '{state}'" if state else "Definition"
        super().__init__(f"{where}: {reason}")


class StatesError(Exception):
    """A failure inside an execution, carrying the AWS error name and cause.

    These are what Retry and Catch match on, and what ends a FAILED execution.
    """

    def __init__(self, error: str | None, cause: str | None = None) -> None:
        self.error = error
        self.cause = cause
        super().__init__(f"{error}: {cause}")


class Aborted(Exception):
    """Not an AWS error: a sibling Parallel branch or Map iteration failed, so this one
    stops before its next state (Step Functions aborts them the same way)."""


class RuntimeFailure(StatesError):
    """States.Runtime: never retried or caught, always fails the execution."""

    def __init__(self, cause: str) -> None:
        super().__init__(RUNTIME, cause)


class QueryEvaluationFailure(StatesError):
    """States.QueryEvaluationError: a JSONata field could not be evaluated (Retry and Catch
    may handle it). `location` names the field, as the EvaluationFailed event does."""

    def __init__(self, cause: str, location: str | None = None) -> None:
        super().__init__(QUERY_EVALUATION_ERROR, cause)
        self.location = location


RUNTIME = "States.Runtime"
ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
EXCEED_TOLERATED_FAILURE = "States.ExceedToleratedFailureThreshold"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
