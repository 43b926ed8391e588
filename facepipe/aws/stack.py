"""The deployed stack's outputs (CloudFormation DescribeStacks), as the CDK app names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_STACK = "FacePipe"
REQUIRED_OUTPUTS = ("BucketName", "UploadPrefix", "StateMachineArn", "TableName")


@dataclass(frozen=True)
class StackOutputs:
    stack_name: str
    bucket_name: str
    upload_prefix: str
    state_machine_arn: str
    table_name: str
    topic_arn: str | None = None
    console_url: str | None = None
    # Stacks deployed before the backfill have no such output.
    backfill_state_machine_arn: str | None = None

    @property
    def region(self) -> str:
        return self.state_machine_arn.split(":")[3]

    def execution_console_url(self, execution_arn: str) -> str:
        """The Step Functions console page of one execution (its graph and history)."""
        return (
            f"https://{self.region}.console.aws.amazon.com/states/home?region={self.region}"
            f"#/v2/executions/details/{execution_arn}"
        )


def outputs_from_stack(stack: dict[str, Any]) -> StackOutputs:
    """Read one DescribeStacks ``Stacks[]`` entry; a clear error when an output is missing."""
    values = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in values]
    name = stack.get("StackName", "?")
    if missing:
        raise ValueError(
            f"stack {name!r} has no output {', '.join(missing)}: is it the FacePipe stack, "
            f"fully deployed? (status {stack.get('StackStatus', '?')})"
        )
    return StackOutputs(
        stack_name=name,
        bucket_name=values["BucketName"],
        upload_prefix=values["UploadPrefix"],
        state_machine_arn=values["StateMachineArn"],
        table_name=values["TableName"],
        topic_arn=values.get("TopicArn"),
        console_url=values.get("ConsoleUrl"),
        backfill_state_machine_arn=values.get("BackfillStateMachineArn"),
    )


def read_stack_outputs(cloudformation: Any, stack_name: str = DEFAULT_STACK) -> StackOutputs:
    response = cloudformation.describe_stacks(StackName=stack_name)
    return outputs_from_stack(response["Stacks"][0])
