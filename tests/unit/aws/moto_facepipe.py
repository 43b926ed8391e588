"""``python moto_facepipe.py ARGS``: ``facepipe ARGS`` as a process of its own, against a
FacePipe stack moto holds in it, whose bucket is not versioned and whose uploads start no
execution (no EventBridge plays them)."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2] / "support"))

from face_table import FACE_TABLE_SCHEMA
from moto_stack import ACCOUNT, BUCKET, REGION, STACK, TABLE, _definition, _stack_template

from facepipe import cli


def deploy_unversioned(session: boto3.Session) -> None:
    session.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    session.client("dynamodb").create_table(TableName=TABLE, **FACE_TABLE_SCHEMA)
    arn = session.client("stepfunctions").create_state_machine(
        name="FacePipeline",
        definition=_definition(),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/FacePipe-StateMachineRole",
    )["stateMachineArn"]
    session.client("cloudformation").create_stack(
        StackName=STACK, TemplateBody=_stack_template(arn)
    )


if __name__ == "__main__":
    with mock_aws():
        deploy_unversioned(boto3.Session(region_name=REGION))
        sys.exit(cli.main(sys.argv[1:]))
