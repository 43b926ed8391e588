"""Fake AWS settings for moto-backed tests: a region, dummy credentials, no profile."""

from __future__ import annotations

import pytest


def use_fake_aws(monkeypatch: pytest.MonkeyPatch, region: str, **extra: str) -> None:
    """Point boto3 at ``region`` with credentials moto accepts, so no test reaches AWS."""
    for name, value in {
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **extra,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
