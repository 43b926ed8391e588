"""The three step Lambdas (detect, persist, notify) with their roles, logs and layer."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import regions
from infra.nag import acknowledge
from infra.settings import StackSettings
from infra.sources import REPO_ROOT, pinned_version

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "FacePipe"
NOTIFY_TIMEOUT_SECONDS = 30
"""Above the worst case of notify's three AWS calls in a row (claim, publish, mark sent or
release) under the client timeouts of lambdas/aws/clients.py, so a hung call ends in
a named error the step handles, never in a Lambda timeout."""

# The asset is the repository root with everything excluded except lambdas/**/*.py, so
# handler strings and imports (`lambdas.domain...`) are the same as in the repo.
# Git-style ignore rules: a directory must be re-included before the files inside it.
CODE_EXCLUDES = [
    "*",
    "!lambdas/",
    "!lambdas/**/",
    "!lambdas/**/*.py",
    "lambdas/**/__pycache__/",
]


def service_name(step: str) -> str:
    """POWERTOOLS_SERVICE_NAME of a step: the ``service`` dimension of its metrics."""
    return f"facepipe-{step}"


@dataclass(frozen=True)
class VpcPlacement:
    vpc: ec2.IVpc
    security_group: ec2.ISecurityGroup


def powertools_layer_parameter() -> str:
    """The public SSM parameter holding the official Powertools layer ARN for this runtime,
    arm64, at the version pinned in pyproject."""
    version = pinned_version("aws-lambda-powertools")
    return f"/aws/service/powertools/python/arm64/{RUNTIME.name}/{version}"


def powertools_layer_arn(scope: Construct) -> str:
    """The layer ARN: looked up at synthesis where the environment is known (refused where
    the parameter is missing), else resolved by CloudFormation at deploy time."""
    parameter = powertools_layer_parameter()
    looked_up = regions.powertools_layer_arn(scope, parameter)
    if looked_up is not None:
        return looked_up
    return ssm.StringParameter.value_for_string_parameter(scope, parameter)


class PipelineFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        placement: VpcPlacement | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._placement = placement
        self._code = lambda_.Code.from_asset(
            str(REPO_ROOT), exclude=CODE_EXCLUDES, ignore_mode=IgnoreMode.GIT
        )
        self._layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", powertools_layer_arn(self)
        )
        self.detect = self._function(
            "Detect",
            step="detect",
            timeout=Duration.seconds(30),
            environment={
                "FACE_ATTRIBUTES": settings.face_attributes,
                "MIN_CONFIDENCE": _number(settings.min_confidence),
            },
        )
        self.persist = self._function("Persist", step="persist", timeout=Duration.seconds(15))
        self.notify = self._function(
            "Notify", step="notify", timeout=Duration.seconds(NOTIFY_TIMEOUT_SECONDS)
        )

    @property
    def all(self) -> tuple[lambda_.Function, ...]:
        return (self.detect, self.persist, self.notify)

    def _function(
        self,
        construct_id: str,
        *,
        step: str,
        timeout: Duration,
        environment: dict[str, str] | None = None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=log_retention(self._settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = self._role(construct_id, log_group)
        vpc_props: dict[str, object] = {}
        if self._placement is not None:
            vpc_props = {
                "vpc": self._placement.vpc,
                "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                "security_groups": [self._placement.security_group],
            }
        return lambda_.Function(
            self,
            construct_id,
            description=f"facepipe {step} step",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"lambdas.{step}.handler.lambda_handler",
            code=self._code,
            layers=[self._layer],
            role=role,
            log_group=log_group,
            memory_size=256,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name(step),
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": self._settings.log_level,
                **(environment or {}),
            },
            **vpc_props,  # type: ignore[arg-type]
        )

    def _role(self, construct_id: str, log_group: logs.ILogGroup) -> iam.Role:
        """An execution role with only this function's log group (no managed policies)."""
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"facepipe {construct_id.lower()} Lambda",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        if self._placement is not None:
            role.add_to_policy(
                iam.PolicyStatement(
                    # What AWSLambdaVPCAccessExecutionRole grants. Lambda manages the
                    # function's ENIs with these; EC2 has no resource-level permissions
                    # for the Describe calls and Lambda checks the others against "*".
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only actions without resource-level permissions use '*': xray:PutTraceSegments and "
            "xray:PutTelemetryRecords (active tracing), the EC2 network-interface actions Lambda "
            "needs in a VPC, and for detect rekognition:DetectFaces.",
        )
        return role


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def log_retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a day count that settings already validated."""
    return _RETENTION[days]


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
}
