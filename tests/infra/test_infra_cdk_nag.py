"""cdk-nag AwsSolutions: no unacknowledged finding, and every acknowledgement has a reason."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match
from infra_synth import Synthesized

from infra.app import add_nag_checks


def test_no_error_or_warning_annotations(every_stack: Synthesized) -> None:
    annotations = Annotations.from_stack(every_stack.stack)
    found = annotations.find_error("*", Match.any_value()) + annotations.find_warning(
        "*", Match.any_value()
    )
    assert [f"{message.id}: {message.entry.data}" for message in found] == []


def test_validation_report_is_clean(every_stack: Synthesized) -> None:
    report = json.loads((every_stack.assembly_dir / "validation-report.json").read_text())
    assert report["pluginReports"] == [] or all(
        plugin["conclusion"] == "success" for plugin in report["pluginReports"]
    )


def test_every_acknowledgement_carries_a_reason(every_stack: Synthesized) -> None:
    acknowledged = [
        rule
        for resource in every_stack.template["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    ours = [rule for rule in acknowledged if rule["id"].startswith("AwsSolutions-")]
    assert ours, "the stack acknowledges its known findings in template Metadata"
    # CDK itself acknowledges some CloudFormation-Validate rules; those carry reasons too.
    for rule in acknowledged:
        assert len(rule["reason"].split()) >= 5, rule


def test_an_unacknowledged_finding_stops_synthesis(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Proves the checks run with teeth: the same wiring fails on a wildcard grant.
    app = App(outdir=str(tmp_path_factory.mktemp("nag-negative")))
    stack = Stack(app, "Careless")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    add_nag_checks(app)
    with pytest.raises(
        RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-IAM5\[Action::s3:\*\]"
    ):
        app.synth()
