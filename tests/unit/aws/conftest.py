"""Fixtures: fake AWS credentials, and a FacePipe stack held by moto (see moto_stack)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent))

from moto_stack import REGION, DeployedStack, deploy


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def deployed_stack(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DeployedStack]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        stack = deploy(session)
        # The commands build their session from --profile/--region; give them this one,
        # whose PutObject hook plays EventBridge.
        monkeypatch.setattr("facepipe.cli.aws.session", lambda args: session)
        yield stack
