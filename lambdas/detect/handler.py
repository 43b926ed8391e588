"""Detect Lambda: the detect step (``step.py``) on Rekognition, with its metrics.

AWS wiring only: the clients are made on the first invocation, so importing this module
needs no AWS settings.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from lambdas.aws.rekognition import RekognitionDetector
from lambdas.detect.step import DetectConfig, create_handler
from lambdas.runtime.observability import StepHandler, count, lambda_entry


def rekognition_client() -> Any:
    import boto3

    return boto3.client("rekognition")


@functools.cache
def aws_step() -> StepHandler:
    """Built on first invocation, so importing this module needs no AWS settings."""
    return create_handler(
        RekognitionDetector(rekognition_client()), DetectConfig.from_env(os.environ)
    )


def _record_metrics(result: dict[str, Any]) -> None:
    count("ImagesProcessed")
    count("FacesFound", result["faceCount"])


lambda_handler = lambda_entry(lambda: aws_step(), _record_metrics)
