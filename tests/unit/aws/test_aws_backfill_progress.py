"""How ``facepipe aws backfill`` draws a Map Run, in the process: the progress line, its redraw
on a terminal, and an AWS failure while following. Step Functions and CloudFormation are
botocore clients with a Stubber answering in the API reference's shapes (DescribeExecution,
ListMapRuns, DescribeMapRun, DescribeStacks); moto 5.2 answers no Map Run."""

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
        "facepipe: error: An error occurred (ThrottlingException) when calling the ListMapRuns "
        "operation: Rate exceeded; the backfill keeps running in AWS: facepipe aws backfill "
        f"--follow {EXECUTION}\n"
    )
