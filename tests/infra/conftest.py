"""Synthesize the CDK app once per variant per test session and share the results.

Synthesis (jsii + Node) takes seconds, so every infra test reads these shared templates.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The machine's Node 20 is past jsii's support window; the banner it prints on every
# synthesis is noise here (the CDK CLI pins its own supported range).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra_synth import NOTIFICATION_EMAIL, Synthesized, synthesize


@pytest.fixture(scope="session")
def _assemblies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("cdk-out")


@pytest.fixture(scope="session")
def default_stack(_assemblies: Path) -> Synthesized:
    """What `cdk deploy -c notificationEmail=...` deploys: Standard workflow, in a VPC."""
    return synthesize(_assemblies, "default", {"notificationEmail": NOTIFICATION_EMAIL})


@pytest.fixture(scope="session")
def express_stack(_assemblies: Path) -> Synthesized:
    return synthesize(_assemblies, "express", {"workflowType": "EXPRESS"})


@pytest.fixture(scope="session")
def no_vpc_stack(_assemblies: Path) -> Synthesized:
    # As the CLI passes it: `-c vpc=false` arrives as a string.
    return synthesize(_assemblies, "no-vpc", {"vpc": "false"})


@pytest.fixture(scope="session", params=["default", "express", "no-vpc"])
def every_stack(request: pytest.FixtureRequest) -> Synthesized:
    fixture = {"default": "default_stack", "express": "express_stack", "no-vpc": "no_vpc_stack"}
    return request.getfixturevalue(fixture[request.param])
