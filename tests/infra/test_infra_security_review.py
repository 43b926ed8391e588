"""Security review checks the other infra tests leave open, in every variant.

- Encryption at rest for every bucket (images and access logs), table, topic and queue.
- Resource-based policies (bucket, queue, topic and key policies): no Allow with a ``*``
  action, principal or resource, except the KMS key statements listed with their reason.
  (Identity policies are checked in test_infra_iam.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra_synth import Synthesized

RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}
# A key policy's Resource is always "*": it means "this key", there is no other resource.
KEY_POLICY_RESOURCE_REASON = "in a key policy, Resource '*' is the key itself"
# The key policy statement AWS creates by default; without it the account's IAM cannot
# manage the key, and a key nobody can administer cannot be rotated, changed or deleted.
KEY_ADMIN_ACTIONS = {"kms:*"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allow_statements(stack: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource type, logical id, statement) of every Allow in a resource-based policy."""
    for resource_type, field in RESOURCE_POLICIES.items():
        for logical_id, resource in stack.resources(resource_type).items():
            for statement in resource["Properties"][field]["Statement"]:
                if statement["Effect"] == "Allow":
                    yield resource_type, logical_id, statement


def is_account_root(principal: Any) -> bool:
    """The principal ``arn:<partition>:iam::<this account>:root`` as CDK writes it."""
    aws = principal.get("AWS") if isinstance(principal, dict) else None
    text = str(aws)
    return "'Ref': 'AWS::AccountId'" in text and text.endswith(":root']]}")


def test_every_store_of_data_is_encrypted_at_rest(every_stack: Synthesized) -> None:
    buckets = every_stack.resources("AWS::S3::Bucket")
    assert len(buckets) >= 2  # the images and their access logs
    for logical_id, bucket in buckets.items():
        rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithms = {rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for rule in rules}
        assert algorithms <= {"AES256", "aws:kms", "aws:kms:dsse"} and algorithms, logical_id
    for logical_id, table in every_stack.resources("AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, logical_id
    topics = every_stack.resources("AWS::SNS::Topic")
    assert topics
    for logical_id, topic in topics.items():
        assert topic["Properties"].get("KmsMasterKeyId"), logical_id
    queues = every_stack.resources("AWS::SQS::Queue")
    assert queues
    for logical_id, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), logical_id


def test_resource_policies_allow_no_wildcards_but_the_key_admin(
    every_stack: Synthesized,
) -> None:
    seen_key_admin = False
    for resource_type, logical_id, statement in allow_statements(every_stack):
        where = f"{resource_type} {logical_id}"
        actions = _as_list(statement["Action"])
        principal = statement.get("Principal")
        assert principal not in ("*", {"AWS": "*"}), f"{where}: allows anyone"
        if resource_type == "AWS::KMS::Key":
            assert statement["Resource"] == "*", KEY_POLICY_RESOURCE_REASON
            if set(actions) == KEY_ADMIN_ACTIONS:
                assert is_account_root(principal), f"{where}: kms:* for {principal}"
                seen_key_admin = True
                continue
        else:
            assert "*" not in _as_list(statement.get("Resource")), f"{where}: Resource '*'"
        for action in actions:
            assert "*" not in action, f"{where}: wildcard action {action}"
    assert seen_key_admin == bool(every_stack.resources("AWS::KMS::Key"))


def test_step_logs_never_include_the_event(every_stack: Synthesized) -> None:
    """Powertools would log the whole event (image keys, face summaries) if this were on."""
    for logical_id, function in every_stack.resources("AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert str(variables.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower() == "false"
        assert variables.get("POWERTOOLS_LOG_LEVEL", "INFO") in {"INFO", "WARNING", "ERROR"}, (
            logical_id
        )
