"""Least privilege in every variant.

No wildcard actions; Resource '*' only for actions that have no resource-level permissions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from infra_synth import Synthesized

# Actions that may use Resource "*", and why: each has no resource-level permissions.
ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = {
    # Rekognition's image APIs take no resource ARN (the image is in the request).
    "rekognition:DetectFaces": "Rekognition image operations have no resource type",
    # X-Ray trace upload and sampling calls are account-level.
    "xray:PutTraceSegments": "X-Ray accepts segments for the account, no resource type",
    "xray:PutTelemetryRecords": "X-Ray telemetry is account-level, no resource type",
    "xray:GetSamplingRules": "X-Ray sampling rules are read account-wide",
    "xray:GetSamplingTargets": "X-Ray sampling targets are read account-wide",
    # CloudWatch Logs vended-log delivery (Step Functions logging) is account-level.
    "logs:CreateLogDelivery": "log delivery APIs have no resource type",
    "logs:GetLogDelivery": "log delivery APIs have no resource type",
    "logs:UpdateLogDelivery": "log delivery APIs have no resource type",
    "logs:DeleteLogDelivery": "log delivery APIs have no resource type",
    "logs:ListLogDeliveries": "log delivery APIs have no resource type",
    "logs:PutResourcePolicy": "the Logs resource policy is account-level",
    "logs:DescribeResourcePolicies": "the Logs resource policy is account-level",
    "logs:DescribeLogGroups": "Describe* list calls take no resource",
    # Lambda creates and removes the function's ENIs with the execution role.
    "ec2:DescribeNetworkInterfaces": "EC2 Describe* calls have no resource-level permissions",
    "ec2:DescribeSubnets": "EC2 Describe* calls have no resource-level permissions",
    "ec2:CreateNetworkInterface": "Lambda checks the role for it on * when the function is created",
    "ec2:DeleteNetworkInterface": "Lambda checks the role for it on * when the function is created",
    "ec2:AssignPrivateIpAddresses": "as AWSLambdaVPCAccessExecutionRole grants it, Lambda's ENIs",
    "ec2:UnassignPrivateIpAddresses": "as AWSLambdaVPCAccessExecutionRole grants it (ENIs)",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity_statements(stack: Synthesized) -> Iterator[tuple[str, dict[str, Any]]]:
    """(policy logical id, statement) for every identity policy statement in the template."""
    for logical_id, policy in stack.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield logical_id, statement
    for logical_id, role in stack.resources("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def role_statements(stack: Synthesized, role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in stack.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def function_statements(stack: Synthesized, step: str) -> list[dict[str, Any]]:
    _, function = stack.function(step)
    return role_statements(stack, function["Properties"]["Role"]["Fn::GetAtt"][0])


def actions_on(statements: list[dict[str, Any]], resource: Any) -> set[str]:
    return {
        action
        for statement in statements
        if resource in _as_list(statement["Resource"])
        for action in _as_list(statement["Action"])
    }


def all_actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements for action in _as_list(s["Action"])}


def test_no_wildcard_actions_and_star_resources_only_where_unavoidable(
    every_stack: Synthesized,
) -> None:
    for policy_id, statement in identity_statements(every_stack):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{policy_id}: wildcard action {action}"
        if "*" in _as_list(statement["Resource"]):
            disallowed = set(_as_list(statement["Action"])) - set(
                ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS
            )
            assert not disallowed, f"{policy_id}: {sorted(disallowed)} on Resource '*'"


def test_no_managed_policies(every_stack: Synthesized) -> None:
    for logical_id, role in every_stack.resources("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], logical_id


def test_detect_may_detect_faces_and_read_uploads_only(default_stack: Synthesized) -> None:
    statements = function_statements(default_stack, "detect")
    bucket_id = next(
        logical_id
        for logical_id, bucket in default_stack.resources("AWS::S3::Bucket").items()
        if bucket["Properties"].get("VersioningConfiguration")
    )
    uploads = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/uploads/*"]]}
    assert actions_on(statements, uploads) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert "rekognition:DetectFaces" in actions_on(statements, "*")
    assert not {a for a in all_actions(statements) if a.split(":")[0] in {"dynamodb", "sns"}}


# Every function: its own log group, X-Ray; in a VPC also the ENI calls (Resource "*").
LOGS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents"})
XRAY = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})
VPC_NETWORK_INTERFACES = frozenset(
    {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    }
)


def grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Resource (as canonical JSON) -> every action allowed on it."""
    by_resource: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for resource in _as_list(statement["Resource"]):
            key = json.dumps(resource, sort_keys=True)
            by_resource.setdefault(key, set()).update(_as_list(statement["Action"]))
    return by_resource


def expected_grants(stack: Synthesized, step: str, in_vpc: bool) -> dict[str, set[str]]:
    """Exactly what each function calls (lambdas/aws/*.py), on exactly what."""
    table_arn = {"Fn::GetAtt": [stack.only("AWS::DynamoDB::Table")[0], "Arn"]}
    topic_ref = {"Ref": stack.only("AWS::SNS::Topic")[0]}
    key_arn = {"Fn::GetAtt": [stack.only("AWS::KMS::Key")[0], "Arn"]}
    bucket_id = next(
        logical_id
        for logical_id, bucket in stack.resources("AWS::S3::Bucket").items()
        if bucket["Properties"].get("VersioningConfiguration")
    )
    uploads = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/uploads/*"]]}
    log_group = {"Fn::GetAtt": [f"Functions{step.capitalize()}Logs", "Arn"]}
    own: dict[str, list[tuple[Any, set[str]]]] = {
        # Rekognition reads the object as the caller; DetectFaces has no resource type.
        "detect": [
            (uploads, {"s3:GetObject", "s3:GetObjectVersion"}),
            ("*", {"rekognition:DetectFaces"}),
        ],
        # get (GetItem) and put_if_newer (conditional PutItem), nothing else.
        "persist": [(table_arn, {"dynamodb:GetItem", "dynamodb:PutItem"})],
        # claim, mark sent and release are conditional UpdateItems; publish to the
        # KMS-encrypted topic needs the key.
        "notify": [
            (table_arn, {"dynamodb:UpdateItem"}),
            (topic_ref, {"sns:Publish"}),
            (key_arn, {"kms:GenerateDataKey", "kms:Decrypt"}),
        ],
    }
    expected: dict[str, set[str]] = {
        json.dumps(log_group, sort_keys=True): set(LOGS),
        json.dumps("*"): set(XRAY) | (set(VPC_NETWORK_INTERFACES) if in_vpc else set()),
    }
    for resource, actions in own[step]:
        expected.setdefault(json.dumps(resource, sort_keys=True), set()).update(actions)
    return expected


def _log_group_ids_generic(found: dict[str, set[str]]) -> dict[str, set[str]]:
    """The log group's logical id carries a hash suffix; compare it by its prefix."""
    generic: dict[str, set[str]] = {}
    for key, actions in found.items():
        resource = json.loads(key)
        if isinstance(resource, dict) and "Fn::GetAtt" in resource:
            logical_id = resource["Fn::GetAtt"][0]
            if logical_id.startswith("Functions") and "Logs" in logical_id:
                resource = {"Fn::GetAtt": [logical_id[: logical_id.index("Logs") + 4], "Arn"]}
        generic[json.dumps(resource, sort_keys=True)] = actions
    return generic


@pytest.mark.parametrize("step", ["detect", "persist", "notify"])
def test_each_function_role_allows_exactly_what_its_code_calls(
    every_stack: Synthesized, step: str
) -> None:
    in_vpc = "VpcConfig" in every_stack.function(step)[1]["Properties"]
    found = _log_group_ids_generic(grants(function_statements(every_stack, step)))
    assert found == expected_grants(every_stack, step, in_vpc)


def test_state_machine_invokes_exactly_the_three_functions(default_stack: Synthesized) -> None:
    _, machine = default_stack.pipeline_machine()
    statements = role_statements(default_stack, machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in _as_list(s["Action"])]
    assert sorted(map(str, invoke["Resource"])) == sorted(
        str({"Fn::GetAtt": [default_stack.function(step)[0], "Arn"]})
        for step in ("detect", "persist", "notify")
    )


def test_no_vpc_variant_drops_the_network_interface_permissions(
    no_vpc_stack: Synthesized,
) -> None:
    for step in ("detect", "persist", "notify"):
        actions = all_actions(function_statements(no_vpc_stack, step))
        assert not {action for action in actions if action.startswith("ec2:")}
