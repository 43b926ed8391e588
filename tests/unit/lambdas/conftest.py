"""Fixtures for the Lambda tests: fake AWS settings, moto services, a Lambda context."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent))

from face_table import create_face_table
from lambda_factories import REGION, TABLE_NAME

from lambdas.detect import handler as detect_handler
from lambdas.notify import handler as notify_handler
from lambdas.persist import handler as persist_handler
from lambdas.runtime import observability


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "facepipe-step"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:facepipe-step"
    aws_request_id: str = "5b6c7d8e-0000-4000-8000-000000000001"
    log_group_name: str = "/aws/lambda/facepipe-step"
    log_stream_name: str = "2026/11/25/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def aws_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region (never real AWS); fresh lazily built adapters per test."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "FacePipe",
        "POWERTOOLS_SERVICE_NAME": "facepipe-test",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "FACE_ATTRIBUTES", "MIN_CONFIDENCE", "TABLE_NAME", "TOPIC_ARN"):
        monkeypatch.delenv(name, raising=False)
    handlers = (detect_handler, persist_handler, notify_handler)
    for module in handlers:
        module.aws_step.cache_clear()
    yield
    for module in handlers:
        module.aws_step.cache_clear()


def create_table(name: str = TABLE_NAME) -> Any:
    """The face-records table as the stack defines it (imageKey S / versionId S, on demand)."""
    return create_face_table(name)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto DynamoDB table, named in TABLE_NAME."""
    with mock_aws():
        monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
        yield create_table()


class LogCapture:
    """The JSON lines the steps' Powertools logger writes."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._stream.getvalue().splitlines() if line.strip()]

    def messages(self, message: str) -> list[dict[str, Any]]:
        return [record for record in self.records() if record.get("message") == message]


@pytest.fixture
def step_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[LogCapture]:
    """Powertools' handler keeps the stdout it saw at import, so point it at a buffer.

    The level is set here too: the logger is process-wide, and the offline CLI lowers it.
    """
    stream = io.StringIO()
    monkeypatch.setattr(observability.logger.registered_handler, "stream", stream)
    previous = observability.logger.log_level
    observability.logger.setLevel("INFO")
    yield LogCapture(stream)
    observability.logger.setLevel(previous)
