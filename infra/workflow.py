"""The Step Functions state machine, built from statemachine/face_pipeline.asl.json.

The definition is JSONata (`"QueryLanguage": "JSONata"` at the top). CDK passes the file's
text unchanged as DefinitionString (`DefinitionBody.from_string`) and the three function ARNs
as DefinitionSubstitutions, which CloudFormation replaces in `${...}` placeholders whatever
the query language: JSONata's own `{% %}` expressions never contain `${`, so the three
placeholders are the only ones (tests/unit/lambdas/test_lambda_asl.py).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.nag import acknowledge
from infra.sources import DEFINITION_FILE, read_definition

STATE_MACHINE_TYPES = {
    "STANDARD": sfn.StateMachineType.STANDARD,
    "EXPRESS": sfn.StateMachineType.EXPRESS,
}


def execution_log_group(
    scope: Construct, state_machine_name: str, retention: logs.RetentionDays
) -> logs.LogGroup:
    """The log group of one state machine's executions."""
    return logs.LogGroup(
        scope,
        "ExecutionLogs",
        # Step Functions delivers through CloudWatch vended logs; this prefix keeps the
        # account's log resource policy from growing with every state machine.
        log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
        retention=retention,
        removal_policy=RemovalPolicy.DESTROY,
    )


def execution_log_options(log_group: logs.ILogGroup) -> sfn.LogOptions:
    """ALL events, but without execution data: state input and output hold face details
    (bounding boxes, attributes), which must not land in logs. The execution history keeps
    the data, behind states:GetExecutionHistory."""
    return sfn.LogOptions(
        destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
    )


class FacePipelineWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        detect: lambda_.IFunction,
        persist: lambda_.IFunction,
        notify: lambda_.IFunction,
        workflow_type: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_group = execution_log_group(
            self, f"{Stack.of(self).stack_name}-FacePipeline", log_retention
        )
        self.state_machine = sfn.StateMachine(
            self,
            "FacePipeline",
            definition_body=sfn.DefinitionBody.from_string(read_definition(DEFINITION_FILE)),
            definition_substitutions={
                "DetectFunctionArn": detect.function_arn,
                "PersistFunctionArn": persist.function_arn,
                "NotifyFunctionArn": notify.function_arn,
            },
            state_machine_type=STATE_MACHINE_TYPES[workflow_type],
            logs=execution_log_options(log_group),
            tracing_enabled=True,
        )
        # Exactly the three function ARNs (the ASL invokes them unqualified), not `arn:*`.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[detect.function_arn, persist.function_arn, notify.function_arn],
            )
        )
        acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only actions without resource-level permissions use '*': the CloudWatch Logs "
            "delivery actions Step Functions logging needs and the X-Ray tracing actions.",
        )
