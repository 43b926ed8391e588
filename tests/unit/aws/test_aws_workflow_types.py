"""`facepipe aws` and the workflow type: every ListExecutions status, JSON output, and a clear
refusal for EXPRESS state machines (whose executions ListExecutions, DescribeExecution and
GetExecutionHistory do not support), naming the log group their executions go to."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from aws_histories import with_faces_history
from botocore.stub import Stubber
from moto_stack import ACCOUNT, BUCKET, PREFIX, REGION, STACK, DeployedStack, _stack_template

from facepipe.aws.executions import list_executions, state_machine_of_express_execution
from facepipe.cli.aws import EXECUTION_STATUSES, add_aws_commands
from facepipe.cli.console import add_console_commands

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
EXPRESS_STACK = "FacePipeExpress"
EXPRESS_LOGS = "/aws/vendedlogs/states/FacePipeExpress-FacePipeline"


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="facepipe")
    commands = parser.add_subparsers(dest="command", required=True)
    add_console_commands(commands)
    add_aws_commands(commands)
    args = parser.parse_args(argv)
    return int(args.run_command(args))


def test_executions_as_json(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed_stack.next_history = with_faces_history
    s3 = deployed_stack.session.client("s3")
    for name in ("one.jpg", "two.jpg"):
        s3.put_object(Bucket=BUCKET, Key=PREFIX + name, Body=JPEG)
    deployed_stack.next_history = None  # stays RUNNING
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "three.jpg", Body=JPEG)

    assert _run(["aws", "executions", "--stack", STACK, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    first, second, running = deployed_stack.started
    assert [item["executionArn"] for item in listed] == [running, second, first]
    assert [item["status"] for item in listed] == ["RUNNING", "SUCCEEDED", "SUCCEEDED"]
    assert listed[0]["stopDate"] is None and listed[0]["seconds"] is None
    assert listed[1]["seconds"] >= 0 and listed[1]["startDate"].startswith("20")


def test_executions_filter_by_aborted(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = deployed_stack.session.client("s3")
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "stopped.jpg", Body=JPEG)
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "running.jpg", Body=JPEG)
    stopped, _ = deployed_stack.started
    deployed_stack.session.client("stepfunctions").stop_execution(executionArn=stopped)

    assert _run(["aws", "executions", "--stack", STACK, "--status", "ABORTED", "--json"]) == 0
    assert [item["executionArn"] for item in json.loads(capsys.readouterr().out)] == [stopped]


def test_every_execution_status_is_a_choice_and_reaches_list_executions() -> None:
    import boto3

    sfn = boto3.client("stepfunctions", region_name=REGION)
    model = sfn.meta.service_model.shape_for("ExecutionStatus")
    assert set(EXECUTION_STATUSES) == set(model.enum)
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:FacePipeline"
    with Stubber(sfn) as stub:
        for status in ("ABORTED", "PENDING_REDRIVE"):
            stub.add_response(
                "list_executions",
                {"executions": []},
                {"stateMachineArn": machine, "statusFilter": status},
            )
            assert list_executions(sfn, machine, status) == []
        stub.assert_no_pending_responses()


@pytest.fixture
def express_stack(deployed_stack: DeployedStack) -> dict[str, Any]:
    """A second stack whose state machine is EXPRESS, logging to its log group."""
    session = deployed_stack.session
    definition = session.client("stepfunctions").describe_state_machine(
        stateMachineArn=deployed_stack.state_machine_arn
    )["definition"]
    arn = session.client("stepfunctions").create_state_machine(
        name="FacePipeExpress-Pipeline",
        definition=definition,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/FacePipeExpress-StateMachineRole",
        type="EXPRESS",
        loggingConfiguration={
            "level": "ALL",
            "includeExecutionData": False,
            "destinations": [
                {
                    "cloudWatchLogsLogGroup": {
                        "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{EXPRESS_LOGS}:*"
                    }
                }
            ],
        },
    )["stateMachineArn"]
    session.client("cloudformation").create_stack(
        StackName=EXPRESS_STACK, TemplateBody=_stack_template(arn)
    )
    return {"arn": arn}


def _says_express(err: str, command: str) -> None:
    assert "is an EXPRESS workflow" in err
    assert f"`facepipe aws {command}` cannot list, find, follow or draw its executions" in err
    assert f"CloudWatch Logs group {EXPRESS_LOGS}" in err
    assert f"aws logs tail {EXPRESS_LOGS} --follow" in err
    assert "Traceback" not in err


def test_executions_refuses_an_express_workflow(
    express_stack: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["aws", "executions", "--stack", EXPRESS_STACK]) == 2
    _says_express(capsys.readouterr().err, "executions")


def test_upload_refuses_an_express_workflow_before_uploading(
    deployed_stack: DeployedStack,
    express_stack: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = tmp_path / "party.jpg"
    image.write_bytes(JPEG)
    assert _run(["aws", "upload", str(image), "--stack", EXPRESS_STACK]) == 2
    _says_express(capsys.readouterr().err, "upload")
    listed = deployed_stack.session.client("s3").list_objects_v2(Bucket=BUCKET)
    assert listed.get("KeyCount", 0) == 0 and deployed_stack.started == []


def test_show_refuses_an_express_execution(
    express_stack: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    execution = express_stack["arn"].replace(":stateMachine:", ":express:") + ":run-1:0f1e2d3c"
    assert state_machine_of_express_execution(execution) == express_stack["arn"]
    assert _run(["aws", "show", execution]) == 2
    _says_express(capsys.readouterr().err, "show")


def test_only_express_execution_arns_name_a_state_machine() -> None:
    standard = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:FacePipeline:run-1"
    assert state_machine_of_express_execution(standard) is None
    assert state_machine_of_express_execution("not an arn") is None


def test_the_aws_console_refuses_an_express_workflow_before_serving(
    express_stack: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[Any] = []
    monkeypatch.setattr("facepipe.console.server.serve", lambda *args, **kw: served.append(args))

    assert _run(["console", "--aws", "--stack", EXPRESS_STACK]) == 2
    err = capsys.readouterr().err
    assert "is an EXPRESS workflow" in err and f"CloudWatch Logs group {EXPRESS_LOGS}" in err
    assert "`facepipe console --aws` cannot list, find, follow or draw" in err
    assert served == []
