"""cdk-nag acknowledgements: each finding we accept is named and carries its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one cdk-nag finding (e.g. ``AwsSolutions-IAM5[Resource::*]``) on scope and below."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
