"""A FacePipe stack as moto holds it, and the part moto cannot play: EventBridge starting
the state machine on a PutObject, with a history in AWS's recorded shape (aws_histories).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from face_table import FACE_TABLE_SCHEMA
from moto.stepfunctions.models import stepfunctions_backends

from facepipe.resources import state_machine_path, statemachine_dir

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK = "FacePipe"
BUCKET = "facepipe-images-test"
TABLE = "FacePipe-FaceRecords"
PREFIX = "uploads/"

HistoryFactory = Callable[[dict[str, Any]], list[dict[str, Any]]]


@dataclass
class DeployedStack:
    session: boto3.Session
    state_machine_arn: str
    # What the next upload's execution does: its history, and whether an email went out.
    next_history: HistoryFactory | None = None
    notify: bool = True
    started: list[str] = field(default_factory=list)

    def moto_execution(self, arn: str) -> Any:
        backend = stepfunctions_backends[ACCOUNT][REGION]
        machine = backend.describe_state_machine(self.state_machine_arn)
        return next(e for e in machine.executions if e.execution_arn == arn)


def deploy(
    session: boto3.Session,
    *,
    versioned: bool = True,
    starts_executions: bool = True,
    backfill: bool = False,
) -> DeployedStack:
    """Create the stack's resources and outputs in moto; PutObject starts the pipeline
    (unless ``starts_executions`` is false: no EventBridge at all). ``backfill``: the
    backfill state machine and its BackfillStateMachineArn output, as infra/stack.py has
    them (without it, a stack deployed before the backfill existed)."""
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    session.client("dynamodb").create_table(TableName=TABLE, **FACE_TABLE_SCHEMA)
    arn = session.client("stepfunctions").create_state_machine(
        name="FacePipeline",
        definition=_definition(),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/FacePipe-StateMachineRole",
    )["stateMachineArn"]
    backfill_arn = None
    if backfill:
        backfill_arn = session.client("stepfunctions").create_state_machine(
            name="FacePipeBackfill",
            definition=_backfill_definition(),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/FacePipe-BackfillRole",
        )["stateMachineArn"]
    session.client("cloudformation").create_stack(
        StackName=STACK, TemplateBody=_stack_template(arn, backfill_arn)
    )
    stack = DeployedStack(session, arn)
    if starts_executions:
        session.events.register("before-parameter-build.s3.PutObject", _remember_object)
        session.events.register("after-call.s3.PutObject", _start_pipeline(stack))
    return stack


def _stack_template(state_machine_arn: str, backfill_arn: str | None = None) -> str:
    outputs = {
        "BucketName": BUCKET,
        "UploadPrefix": PREFIX,
        "StateMachineArn": state_machine_arn,
        "TableName": TABLE,
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:FacePipe-Faces",
        "ConsoleUrl": "https://console.aws.amazon.com/states/home",
    }
    if backfill_arn is not None:
        outputs["BackfillStateMachineArn"] = backfill_arn
    return json.dumps(
        {
            "Resources": {"Faces": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )


def _definition() -> str:
    text = state_machine_path().read_text(encoding="utf-8")
    for name in ("Detect", "Persist", "Notify"):
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:FacePipe-{name}"
        text = text.replace("${" + name + "FunctionArn}", arn)
    return text


def _backfill_definition() -> str:
    text = (statemachine_dir() / "backfill.asl.json").read_text(encoding="utf-8")
    values = {
        "BucketName": BUCKET,
        "TableName": TABLE,
        "ResultsPrefix": "backfill-results/",
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:FacePipe-Faces",
        **{
            f"{name}FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:FacePipe-{name}"
            for name in ("Detect", "Persist", "Notify")
        },
    }
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def _remember_object(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["object"] = (params["Bucket"], params["Key"])


def _start_pipeline(stack: DeployedStack) -> Callable[..., None]:
    """Plays EventBridge + Step Functions + the Lambdas for one PutObject."""

    def on_put_object(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        (bucket, key), version = context["object"], parsed.get("VersionId")
        event = object_created(bucket, key, version)
        session = stack.session
        arn = session.client("stepfunctions").start_execution(
            stateMachineArn=stack.state_machine_arn, input=json.dumps(event)
        )["executionArn"]
        stack.started.append(arn)
        if stack.next_history is None:
            return  # stays RUNNING
        history = stack.next_history(event)
        execution = stack.moto_execution(arn)
        execution.get_execution_history = lambda role_arn: history
        failed = history[-1]["type"] == "ExecutionFailed"
        execution.status = "FAILED" if failed else "SUCCEEDED"
        execution.stop_date = datetime.now(UTC)
        if not failed:
            execution.output = history[-1]["executionSucceededEventDetails"]["output"]
        record = {
            "imageKey": key, "versionId": version, "bucket": bucket,
            "status": "FAILED" if failed else "DETECTED", "faceCount": 0 if failed else 1,
            "faces": [], "executionArn": arn, "sequencer": "0062E99A88DC407460",
        }  # fmt: skip
        if stack.notify and not failed:
            record["notifiedAt"] = "2026-11-25T12:00:01+00:00"
        session.resource("dynamodb").Table(TABLE).put_item(Item=record)

    return on_put_object


def object_created(bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    """The EventBridge event S3 sends for a PutObject (the key unencoded, as EventBridge has it)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 1024,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": version_id,
                "sequencer": "0062E99A88DC407460",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "203.0.113.15",
            "reason": "PutObject",
        },
    }
