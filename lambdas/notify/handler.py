"""Notify Lambda: the notify step (``step.py``) on DynamoDB and SNS, with its metrics.

AWS wiring only: the clients are made on the first invocation, so importing this module
needs no AWS settings.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from lambdas.aws.clients import client_config
from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.aws.sns import SnsNotifier
from lambdas.notify.step import config_from_env, create_handler
from lambdas.runtime.config import required_env
from lambdas.runtime.observability import StepHandler, count, lambda_entry

NOTIFY_CALLS = 3
"""The most AWS calls one invocation makes in a row: claim, publish, then mark sent or release."""


def aws_clients(table_name: str) -> tuple[Any, Any]:
    """The DynamoDB table resource and SNS client, with timeouts and retries that end every
    call well before the function's timeout (``lambdas.aws.clients``)."""
    import boto3

    config = client_config()
    table = boto3.resource("dynamodb", config=config).Table(table_name)
    return table, boto3.client("sns", config=config)


@functools.cache
def aws_step() -> StepHandler:
    """Built on first invocation, so importing this module needs no AWS settings."""
    table_name = required_env(os.environ, "TABLE_NAME")
    topic_arn = required_env(os.environ, "TOPIC_ARN")
    table, sns = aws_clients(table_name)
    notifier = SnsNotifier(sns, topic_arn)
    return create_handler(DynamoDbRecordStore(table), notifier, config_from_env(os.environ))


def _record_metrics(result: dict[str, Any]) -> None:
    count("NotificationsSent" if result["sent"] else "NotificationsSkipped")


lambda_handler = lambda_entry(lambda: aws_step(), _record_metrics)
