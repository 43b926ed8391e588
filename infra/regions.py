"""What the region the stack deploys to must offer, checked at synthesis when it is known.

``cdk deploy`` with credentials gives the app the account and region (CDK_DEFAULT_ACCOUNT,
CDK_DEFAULT_REGION, see infra/app.py); then the stack is refused, with a message, where
Rekognition has no endpoint or the Powertools layer parameter does not exist, and its two
zones are ones where both interface endpoints (Rekognition, SNS) are offered. The lookups
are the CDK's own context providers (the CLI asks EC2 and SSM once and keeps the answers in
cdk.context.json). A stack synthesized without an environment cannot know any of this.
"""

from __future__ import annotations

from collections.abc import Sequence

import botocore.session
from aws_cdk import ContextProvider, Stack, Token
from constructs import Construct

ZONES_NEEDED = 2
# What a lookup answers before the CLI has made it (the CDK's own dummy zones); a pass with
# these is followed by one with the real answers, so nothing is refused on them.
DUMMY_ZONES = ("dummy1a", "dummy1b", "dummy1c")
# The CDK CLI's context providers, by the names the cloud assembly schema gives them.
SSM_PROVIDER = "ssm"
ENDPOINT_ZONES_PROVIDER = "endpoint-service-availability-zones"
_LAYER_NOT_FOUND = "arn:aws:lambda:us-east-1:000000000000:layer:powertools-parameter-not-found:1"


class RegionError(ValueError):
    """The region cannot run the stack; the message names the region and what is missing."""


def rekognition_regions() -> list[str]:
    """Regions with a Rekognition endpoint, from botocore's endpoint data (the pinned boto3)."""
    session = botocore.session.get_session()
    regions: list[str] = []
    for partition in session.get_available_partitions():
        regions += session.get_available_regions("rekognition", partition_name=partition)
    return sorted(regions)


def known_region(scope: Construct) -> str | None:
    region = Stack.of(scope).region
    return None if Token.is_unresolved(region) else region


def known_environment(scope: Construct) -> bool:
    stack = Stack.of(scope)
    return not (Token.is_unresolved(stack.region) or Token.is_unresolved(stack.account))


def require_rekognition(scope: Construct) -> None:
    """Refuse a known region where Amazon Rekognition (and so DetectFaces) has no endpoint."""
    region = known_region(scope)
    offered = rekognition_regions()
    if region is not None and region not in offered:
        raise RegionError(
            f"region {region}: Amazon Rekognition (DetectFaces) is not offered there "
            f"(botocore's endpoint data lists {', '.join(offered)}); deploy to one of those"
        )


def _looked_up(scope: Construct, provider: str, props: dict[str, str]) -> bool:
    """Whether the CLI has answered this lookup (its answer is in the context)."""
    key = ContextProvider.get_key(scope, provider=provider, props=props).key
    return scope.node.try_get_context(key) is not None


def powertools_layer_arn(scope: Construct, parameter: str) -> str | None:
    """The layer ARN the public SSM parameter holds, looked up at synthesis; None when the
    environment is not known (the parameter is then resolved at deploy time)."""
    if not known_environment(scope):
        return None
    props = {"parameterName": parameter}
    value = ContextProvider.get_value(
        scope,
        provider=SSM_PROVIDER,
        props=props,
        dummy_value=_LAYER_NOT_FOUND,
        must_exist=False,
    ).value
    if value == _LAYER_NOT_FOUND and _looked_up(scope, SSM_PROVIDER, props):
        raise RegionError(
            f"region {Stack.of(scope).region}: the Powertools layer parameter {parameter} "
            "does not exist there (Powertools publishes its layer in some regions only); "
            "deploy to another region, or pin a Powertools version published there"
        )
    return str(value)


def endpoint_zones(scope: Construct, services: Sequence[str]) -> list[str] | None:
    """The first two of the region's zones where every interface endpoint service is offered.

    None when the environment is not known (the VPC then takes Fn::GetAZs 0 and 1).
    """
    if not known_environment(scope):
        return None
    stack = Stack.of(scope)
    zones = list(stack.availability_zones)
    usable, answered = zones, not set(zones) & set(DUMMY_ZONES)
    provider = ENDPOINT_ZONES_PROVIDER
    for service in services:
        props = {"serviceName": service}
        # Until the CLI has looked it up, assume every zone offers it (as the CDK does).
        offered = ContextProvider.get_value(
            scope, provider=provider, props=props, dummy_value=zones
        ).value
        answered = answered and _looked_up(scope, provider, props)
        usable = [zone for zone in usable if zone in offered]
    if len(usable) >= ZONES_NEEDED:
        return usable[:ZONES_NEEDED]
    if not answered:
        return zones[:ZONES_NEEDED]
    raise RegionError(
        f"region {stack.region}: the interface endpoints {', '.join(services)} are offered "
        f"together in {len(usable)} of its zones ({', '.join(usable) or 'none'}), and the "
        f"VPC needs {ZONES_NEEDED}; deploy with -c vpc=false, or to another region"
    )
