"""Context values become StackSettings, and bad ones get an error that names the key and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from infra_synth import run_cdk_app

from infra.settings import ContextError, StackSettings


def test_defaults_when_context_is_empty() -> None:
    settings = StackSettings.from_mapping({})
    assert settings == StackSettings()
    assert settings.workflow_type == "STANDARD"
    assert settings.vpc_enabled is True
    assert settings.notification_email is None


def test_cli_strings_are_parsed() -> None:
    settings = StackSettings.from_mapping(
        {
            "workflowType": "express",
            "vpc": "false",
            "notificationEmail": " me@example.com ",
            "faceAttributes": "all",
            "minConfidence": "75.5",
            "logLevel": "debug",
            "logRetentionDays": "90",
            "stackName": "FacePipe-dev",
        }
    )
    assert settings == StackSettings(
        stack_name="FacePipe-dev",
        workflow_type="EXPRESS",
        vpc_enabled=False,
        notification_email="me@example.com",
        face_attributes="ALL",
        min_confidence=75.5,
        log_level="DEBUG",
        log_retention_days=90,
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"workflowType": "FAST"}, "workflowType='FAST': expected one of STANDARD, EXPRESS"),
        ({"vpc": "maybe"}, "vpc='maybe': expected true or false"),
        ({"notificationEmail": "me-at-example"}, "not an email address"),
        ({"minConfidence": "high"}, "minConfidence='high': expected a number from 0 to 100"),
        ({"minConfidence": 101}, "expected a number from 0 to 100"),
        ({"faceAttributes": "SOME"}, "faceAttributes='SOME': expected one of DEFAULT, ALL"),
        ({"logRetentionDays": 10}, "logRetentionDays=10: CloudWatch Logs accepts one of"),
        ({"stackName": "1stack"}, "stackName='1stack'"),
        ({"detectFacesTps": "fast"}, "detectFacesTps='fast': expected the account's DetectFaces"),
        ({"detectFacesTps": 0}, "a whole number from 1 to 10,000"),
        ({"detectFacesTps": "10001"}, "a whole number from 1 to 10,000"),
        ({"detectFacesTps": 2.5}, "a whole number from 1 to 10,000"),
    ],
)
def test_bad_values_are_explained(context: dict, message: str) -> None:
    with pytest.raises(ContextError) as raised:
        StackSettings.from_mapping(context)
    assert message in str(raised.value)


def test_app_entry_point_reports_a_bad_context_value_without_a_traceback(tmp_path: Path) -> None:
    # The CDK CLI runs cdk.json's app command with `-c` values in CDK_CONTEXT_JSON.
    result = run_cdk_app(tmp_path, CDK_CONTEXT_JSON=json.dumps({"workflowType": "FAST"}))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "facepipe infra: workflowType='FAST': expected one of STANDARD, EXPRESS" in (
        result.stderr
    )
