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
        self.log_group = log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            # Step Functions delivers through CloudWatch vended logs; this prefix keeps
            # the account's log resource policy from growing with every state machine.
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-FacePipeline",
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
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
            # ALL events, but without execution data: state input/output holds face
            # details (bounding boxes, attributes), which must not land in logs. The
            # execution history keeps the data, behind states:GetExecutionHistory.
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
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
