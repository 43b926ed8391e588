"""``facepipe aws backfill`` and ``redrive`` in the test's process, where a real process cannot
reach: the progress line and its redraw on a terminal, an AWS failure while following, and
``redrive --failed-since`` past a refusal or an EXPRESS pipeline. Step Functions and
CloudFormation are botocore clients with a Stubber answering in the API reference's shapes
(DescribeExecution, ListMapRuns, DescribeMapRun, DescribeStateMachine, ListExecutions,
RedriveExecution, DescribeStacks); moto 5.2 has no Map Run and no RedriveExecution."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from facepipe.aws.backfill import MapRunProgress
from facepipe.cli import main
from facepipe.cli.aws_backfill import duration, follow_backfill, progress_line

REGION = "eu-west-1"
ACCOUNT = "123456789012"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:FacePipeBackfill"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:FacePipeBackfill:backfill-1"
MAP_RUN = f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:FacePipeBackfill/Backfill:backfill-1"
T0 = datetime.now(UTC) - timedelta(seconds=100)


def progress(**counts: Any) -> MapRunProgress:
    values = {"map_run_arn": MAP_RUN, "status": "RUNNING", "total": 908, "succeeded": 390,
              "failed": 10, "pending": 500, "running": 8, "timed_out": 0, "aborted": 0,
              "rate": 4.0, "eta_seconds": 127.0}  # fmt: skip
    return MapRunProgress(**{**values, **counts})


def test_the_progress_line() -> None:
    assert progress_line(progress()) == (
        "[###########-------------] 400/908  succeeded 390  failed 10  pending 500  "
        "running 8  4.0/s  ETA 2m07s"
    )
    ended = progress(status="FAILED", pending=0, running=0, timed_out=3, aborted=505)
    assert progress_line(ended).endswith("timed out 3  aborted 505  4.0/s  FAILED")
    assert progress_line(progress(total=0, succeeded=0, failed=0, rate=None, eta_seconds=None))
    assert progress_line(None).startswith("waiting for the Map Run to start")


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0.4, "0s"), (59, "59s"), (61, "1m01s"), (3 * 3600 + 125, "3h02m")]
)
def test_durations(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def _client(service: str) -> Any:
    return boto3.client(
        service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def _execution(status: str) -> dict[str, Any]:
    return {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "status": status,
            "startDate": T0}  # fmt: skip


def _map_run(stubber: Stubber, status: str, succeeded: int) -> None:
    stubber.add_response(
        "list_map_runs",
        {"mapRuns": [{"executionArn": EXECUTION, "mapRunArn": MAP_RUN,
                      "stateMachineArn": MACHINE, "startDate": T0}]},
        {"executionArn": EXECUTION},
    )  # fmt: skip
    counts = {"pending": 100 - succeeded, "running": 0, "succeeded": succeeded, "failed": 0,
              "timedOut": 0, "aborted": 0, "total": 100, "resultsWritten": succeeded}  # fmt: skip
    answer = {"mapRunArn": MAP_RUN, "executionArn": EXECUTION, "status": status,
              "startDate": T0, "maxConcurrency": 40, "toleratedFailurePercentage": 10.0,
              "toleratedFailureCount": 0, "itemCounts": counts,
              "executionCounts": counts}  # fmt: skip
    if status != "RUNNING":
        answer["stopDate"] = T0 + timedelta(seconds=100)
    stubber.add_response("describe_map_run", answer, {"mapRunArn": MAP_RUN})


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_redrawn_until_the_end() -> None:
    sfn = _client("stepfunctions")
    stubber = Stubber(sfn)
    for status, succeeded in (("RUNNING", 40), ("RUNNING", 40), ("SUCCEEDED", 100)):
        execution = "RUNNING" if status == "RUNNING" else "SUCCEEDED"
        stubber.add_response(
            "describe_execution", _execution(execution), {"executionArn": EXECUTION}
        )
        _map_run(stubber, status, succeeded)
    out, naps = Terminal(), []
    with stubber:
        final, last = follow_backfill(sfn, EXECUTION, out, 2.0, sleep=naps.append)
    stubber.assert_no_pending_responses()
    assert (final, last.succeeded) == ("SUCCEEDED", 100)
    assert naps == [2.0, 2.0]
    drawn = out.getvalue()
    assert drawn.count("\r\x1b[2K") == 3 and drawn.endswith("SUCCEEDED\n")
    assert "\n" not in drawn[:-1]  # the same line, redrawn


def test_an_aws_failure_while_following_is_one_line_and_leaves_the_backfill(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudformation, sfn = _client("cloudformation"), _client("stepfunctions")
    stacks, steps = Stubber(cloudformation), Stubber(sfn)
    outputs = {"BucketName": "b", "UploadPrefix": "uploads/", "TableName": "t",
               "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:FacePipe",
               "BackfillStateMachineArn": MACHINE}  # fmt: skip
    stacks.add_response(
        "describe_stacks",
        {"Stacks": [{"StackName": "FacePipe", "CreationTime": T0,
                     "StackStatus": "CREATE_COMPLETE",
                     "Outputs": [{"OutputKey": k, "OutputValue": v}
                                 for k, v in outputs.items()]}]},
        {"StackName": "FacePipe"},
    )  # fmt: skip
    for _ in range(2):  # the --follow check, then the first poll
        steps.add_response("describe_execution", _execution("RUNNING"), {"executionArn": EXECUTION})
    steps.add_client_error(
        "list_map_runs", service_error_code="ThrottlingException", service_message="Rate exceeded"
    )

    class Session:
        def client(self, name: str) -> Any:
            return {"cloudformation": cloudformation, "stepfunctions": sfn}[name]

    monkeypatch.setattr("facepipe.cli.aws.session", lambda args: Session())
    with stacks, steps:
        code = main(["aws", "backfill", "--follow", EXECUTION])
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "facepipe: error: AWS refused ListMapRuns: ThrottlingException: Rate exceeded (AWS is "
        "busy or briefly unavailable: try again in a moment); the backfill keeps running in "
        f"AWS: facepipe aws backfill --follow {EXECUTION}\n"
    )


PIPELINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:FacePipe"


def _stack_stubber(cloudformation: Any) -> Stubber:
    stacks = Stubber(cloudformation)
    outputs = {"BucketName": "b", "UploadPrefix": "uploads/", "TableName": "t",
               "StateMachineArn": PIPELINE, "BackfillStateMachineArn": MACHINE}  # fmt: skip
    stacks.add_response(
        "describe_stacks",
        {"Stacks": [{"StackName": "FacePipe", "CreationTime": T0,
                     "StackStatus": "CREATE_COMPLETE",
                     "Outputs": [{"OutputKey": k, "OutputValue": v}
                                 for k, v in outputs.items()]}]},
        {"StackName": "FacePipe"},
    )  # fmt: skip
    return stacks


def _machine(arn: str, kind: str) -> dict[str, Any]:
    return {"stateMachineArn": arn, "name": arn.rsplit(":", 1)[1], "status": "ACTIVE",
            "definition": "{}", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "type": kind,
            "creationDate": T0}  # fmt: skip


def _failed(machine: str, name: str) -> dict[str, Any]:
    arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    stop = datetime.now(UTC) - timedelta(hours=1)
    return {"executionArn": arn, "stateMachineArn": machine, "name": name, "status": "FAILED",
            "startDate": stop - timedelta(seconds=5), "stopDate": stop}  # fmt: skip


def _redrive_main(monkeypatch: pytest.MonkeyPatch, pipeline_type: str, stub: Any) -> int:
    cloudformation, sfn = _client("cloudformation"), _client("stepfunctions")
    stacks, steps = _stack_stubber(cloudformation), Stubber(sfn)
    steps.add_response(
        "describe_state_machine", _machine(PIPELINE, pipeline_type), {"stateMachineArn": PIPELINE}
    )
    stub(steps)

    class Session:
        def client(self, name: str) -> Any:
            return {"cloudformation": cloudformation, "stepfunctions": sfn}[name]

    monkeypatch.setattr("facepipe.cli.aws.session", lambda args: Session())
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    with stacks, steps:
        code = main(["aws", "redrive", "--failed-since", since])
    steps.assert_no_pending_responses()
    return code


def test_failed_since_goes_on_past_a_refusal_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """RedriveExecution's ExecutionNotRedrivable (API reference) for one execution: said on
    its line; the next one is still redriven."""
    refused, redriven = _failed(PIPELINE, "refused"), _failed(PIPELINE, "redriven")

    def stub(steps: Stubber) -> None:
        steps.add_response(
            "list_executions", {"executions": [refused, redriven]},
            {"stateMachineArn": PIPELINE, "statusFilter": "FAILED"},
        )  # fmt: skip
        for execution, answer in ((refused, None), (redriven, {"redriveDate": T0})):
            arn = {"executionArn": execution["executionArn"]}
            steps.add_response("describe_execution", execution, arn)
            if answer is None:
                steps.add_client_error(
                    "redrive_execution", service_error_code="ExecutionNotRedrivable",
                    service_message="Execution has been redriven the maximum number of times",
                )  # fmt: skip
            else:
                steps.add_response("redrive_execution", answer, arn)
        steps.add_response(
            "describe_state_machine", _machine(MACHINE, "STANDARD"), {"stateMachineArn": MACHINE}
        )
        steps.add_response(
            "list_executions", {"executions": []},
            {"stateMachineArn": MACHINE, "statusFilter": "FAILED"},
        )  # fmt: skip

    code = _redrive_main(monkeypatch, "STANDARD", stub)
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == (
        f"{refused['executionArn']}: not redriven: Step Functions will not redrive "
        f"{refused['executionArn']}: Execution has been redriven the maximum number of times"
    )
    assert out[1].startswith(f"{redriven['executionArn']}: redriven at ")
    assert out[2].startswith("1 of 2 FAILED executions since ")


def test_failed_since_skips_an_express_pipeline_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """RedriveExecution supports Standard executions only (API reference); ListExecutions
    does not list Express ones, so the EXPRESS pipeline is skipped without a call."""

    def stub(steps: Stubber) -> None:
        steps.add_response(
            "describe_state_machine", _machine(MACHINE, "STANDARD"), {"stateMachineArn": MACHINE}
        )
        steps.add_response(
            "list_executions", {"executions": []},
            {"stateMachineArn": MACHINE, "statusFilter": "FAILED"},
        )  # fmt: skip

    code = _redrive_main(monkeypatch, "EXPRESS", stub)
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == (
        f"skipped {PIPELINE}: an EXPRESS workflow (RedriveExecution supports Standard "
        "executions only)\n"
    )
    assert captured.out.endswith(": nothing to redrive\n")
