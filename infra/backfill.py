"""The backfill workflow: statemachine/backfill.asl.json, a Distributed Map over the bucket.

Its children call the same three Lambdas as the per-image machine (infra/README.md says why
they are Express child workflows and not executions of the per-image machine). How many run
at once follows the account's Rekognition DetectFaces quota: ``-c detectFacesTps=N``, or the
documented default of the stack's region.
"""

from __future__ import annotations

import json
import math

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.alerts import Alerts
from infra.nag import acknowledge
from infra.sources import STATEMACHINE_DIR, read_json
from infra.workflow import execution_log_group, execution_log_options

BACKFILL_FILE = STATEMACHINE_DIR / "backfill.asl.json"
MAP_STATE = "ProcessImages"
# ResultWriter's prefix: outside uploads/, so its files never match the upload rule.
RESULTS_PREFIX = "backfill-results"
BACKFILL_SUBSTITUTION_KEYS = (
    "BucketName",
    "TableName",
    "TopicArn",
    "ResultsPrefix",
    "DetectFunctionArn",
    "PersistFunctionArn",
    "NotifyFunctionArn",
)

# Rekognition's default DetectFaces quota, transactions per second per account, by region
# (AWS General Reference, "Amazon Rekognition endpoints and quotas"; adjustable in Service
# Quotas). A region not listed, or a stack synthesized without a region, takes the smallest.
DEFAULT_DETECT_FACES_TPS = {"us-east-1": 100, "us-west-2": 100, "eu-west-1": 100}
SMALLEST_DEFAULT_TPS = 5
# The live pipeline shares the quota: a backfill keeps a fifth of it free for new uploads.
BACKFILL_SHARE_OF_QUOTA = 0.8


def default_detect_faces_tps(region: str | None) -> int:
    return DEFAULT_DETECT_FACES_TPS.get(region or "", SMALLEST_DEFAULT_TPS)


def max_concurrency(detect_faces_tps: int) -> int:
    """Children at once for a DetectFaces quota: each makes one DetectFaces call and takes
    over a second end to end (HeadObject, GetItem, two Lambda invocations), so this many
    stay under the quota's share; a burst above it is retried (ThrottlingException)."""
    return max(1, math.floor(detect_faces_tps * BACKFILL_SHARE_OF_QUOTA))


def backfill_definition(concurrency: int) -> str:
    """The ASL text with the Map's MaxConcurrency set; the placeholders stay for CDK."""
    definition = read_json(BACKFILL_FILE)
    definition["States"][MAP_STATE]["MaxConcurrency"] = concurrency
    return json.dumps(definition, indent=2)


class BackfillWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        upload_prefix: str,
        table: dynamodb.ITable,
        alerts: Alerts,
        detect: lambda_.IFunction,
        persist: lambda_.IFunction,
        notify: lambda_.IFunction,
        detect_faces_tps: int | None,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        region = None if Token.is_unresolved(stack.region) else stack.region
        self.detect_faces_tps = detect_faces_tps or default_detect_faces_tps(region)
        self.max_concurrency = max_concurrency(self.detect_faces_tps)
        # A fixed name: the role must let the Distributed Map start executions of this very
        # state machine, and naming it keeps that policy free of a reference cycle.
        name = f"{stack.stack_name}-Backfill"
        self.log_group = execution_log_group(self, name, log_retention)
        self.state_machine = sfn.StateMachine(
            self,
            "Backfill",
            state_machine_name=name,
            definition_body=sfn.DefinitionBody.from_string(
                backfill_definition(self.max_concurrency)
            ),
            definition_substitutions={
                "BucketName": bucket.bucket_name,
                "TableName": table.table_name,
                "TopicArn": alerts.topic.topic_arn,
                "ResultsPrefix": RESULTS_PREFIX,
                "DetectFunctionArn": detect.function_arn,
                "PersistFunctionArn": persist.function_arn,
                "NotifyFunctionArn": notify.function_arn,
            },
            state_machine_type=sfn.StateMachineType.STANDARD,
            # Express children log here too; the console shows their events from these logs.
            logs=execution_log_options(self.log_group),
            tracing_enabled=True,
        )
        self._grant(name, bucket, upload_prefix, table, alerts, (detect, persist, notify))

    def _grant(
        self,
        name: str,
        bucket: s3.IBucket,
        upload_prefix: str,
        table: dynamodb.ITable,
        alerts: Alerts,
        functions: tuple[lambda_.IFunction, ...],
    ) -> None:
        stack = Stack.of(self)
        machine = self.state_machine

        def states_arn(resource: str, resource_name: str) -> str:
            return stack.format_arn(
                service="states",
                resource=resource,
                resource_name=resource_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )

        statements = [
            # The children invoke exactly the three functions, unqualified.
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[function.function_arn for function in functions],
            ),
            # ItemReader: ListObjectsV2 under uploads/ only.
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{upload_prefix}*"]}},
            ),
            # HeadObject of each listed object (s3:GetObject covers HEAD).
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{upload_prefix}*")],
            ),
            # ResultWriter's files (multipart for large results), under its own prefix.
            iam.PolicyStatement(
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[bucket.arn_for_objects(f"{RESULTS_PREFIX}/*")],
            ),
            # The record lookup and the per-backfill tally (the Lambdas keep their own grants).
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[table.table_arn],
            ),
            # The Distributed Map starts, follows and stops child executions of itself
            # (Step Functions developer guide, "IAM policies for using Distributed Map states").
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[states_arn("stateMachine", name)],
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[
                    states_arn("execution", f"{name}/*"),
                    states_arn("express", f"{name}/*"),
                ],
            ),
            # The summary: this execution's Map Run and its counts.
            iam.PolicyStatement(
                actions=["states:ListMapRuns"],
                resources=[states_arn("execution", f"{name}:*")],
            ),
            iam.PolicyStatement(
                actions=["states:DescribeMapRun"],
                resources=[states_arn("mapRun", f"{name}/*")],
            ),
        ]
        for statement in statements:
            machine.add_to_role_policy(statement)
        alerts.grant_publish(machine)
        role = machine.role
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only actions without resource-level permissions use '*': the CloudWatch Logs "
            "delivery actions Step Functions logging needs and the X-Ray tracing actions.",
        )
        wildcards = {
            bucket.arn_for_objects(f"{upload_prefix}*"): (
                "The backfill reads (HeadObject) every object it lists under uploads/, the "
                "only prefix the pipeline processes."
            ),
            bucket.arn_for_objects(f"{RESULTS_PREFIX}/*"): (
                "ResultWriter writes files named by the Map Run under its own results prefix."
            ),
        }
        for resource, resource_name in (
            ("execution", f"{name}/*"),
            ("express", f"{name}/*"),
            ("execution", f"{name}:*"),
            ("mapRun", f"{name}/*"),
        ):
            wildcards[states_arn(resource, resource_name)] = (
                "Executions and Map Runs of this state machine only; their names are made at "
                "run time."
            )
        for arn, reason in wildcards.items():
            acknowledge(role, f"AwsSolutions-IAM5[Resource::{nag_form(stack, arn)}]", reason)


def nag_form(stack: Stack, value: str) -> str:
    """A resource as cdk-nag names it in a finding: Ref as <Name>, GetAtt as <Id.Attr>."""
    resolved = stack.resolve(value)
    if isinstance(resolved, str):
        return resolved
    parts = resolved["Fn::Join"][1] if "Fn::Join" in resolved else [resolved]
    text = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        elif "Ref" in part:
            text.append(f"<{part['Ref']}>")
        else:
            logical_id, attribute = part["Fn::GetAtt"]
            text.append(f"<{logical_id}.{attribute}>")
    return "".join(text)
