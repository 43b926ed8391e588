"""Persist Lambda: the persist step (``step.py``) on DynamoDB, with its metrics.

AWS wiring only: the table is opened on the first invocation, so importing this module
needs no AWS settings.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.domain.errors import FAILURE_METRICS
from lambdas.domain.ordering import FAILED
from lambdas.persist.step import PersistConfig, create_handler
from lambdas.runtime.config import required_env
from lambdas.runtime.observability import StepHandler, count, lambda_entry


def dynamodb_table(table_name: str) -> Any:
    import boto3

    return boto3.resource("dynamodb").Table(table_name)


@functools.cache
def aws_step() -> StepHandler:
    """Built on first invocation, so importing this module needs no AWS settings."""
    table = dynamodb_table(required_env(os.environ, "TABLE_NAME"))
    return create_handler(DynamoDbRecordStore(table), PersistConfig())


def _record_metrics(result: dict[str, Any]) -> None:
    if result["status"] == FAILED:
        # Counted whether or not the record was written: a failure after the image was
        # recorded (Notify's, caught into RecordFailure) leaves the DETECTED record as it is.
        count(FAILURE_METRICS[result["failureKind"]])
    elif result["outcome"] != "WRITTEN":
        count("EventsSkipped")  # a duplicate or an older event
    else:
        count("ImagesRecorded")


lambda_handler = lambda_entry(lambda: aws_step(), _record_metrics)
