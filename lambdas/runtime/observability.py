"""Powertools logging and metrics around a step, for its AWS Lambda entry point.

The step logic (``create_handler``) logs through ``logger`` offline too; only the Lambda
entry adds the Lambda context and CloudWatch metrics around it.

Tracing is Lambda's own active tracing (infra/functions.py), not Powertools' Tracer:
importing the X-Ray SDK cost each cold start about 100 ms on top of boto3
(bench/lambda_init.py), for subsegments of the SDK calls that nothing here reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambdas.domain.errors import StepError
from lambdas.runtime.config import required_env

StepHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

logger = Logger()
metrics = Metrics()


def correlate_with_execution(execution_arn: str) -> None:
    """Add the execution ARN to every log line of this invocation.

    Thread-local keys, because offline a worker pool runs several executions at once.
    """
    logger.thread_safe_append_keys(execution_arn=execution_arn)


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def lambda_entry(
    build_step: Callable[[], StepHandler], record_metrics: Callable[[dict[str, Any]], None]
) -> StepHandler:
    """The ``lambda_handler`` for a step: builds it lazily, logs and counts."""

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.namespace = required_env(os.environ, "POWERTOOLS_METRICS_NAMESPACE")
        try:
            result = build_step()(event, context)
        except StepError as error:
            count("Failures")
            logger.warning(
                "step failed", extra={"error": type(error).__name__, "reason": error.reason}
            )
            raise
        record_metrics(result)
        return result

    return lambda_handler
