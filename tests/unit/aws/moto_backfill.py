"""``python moto_backfill.py SCENARIO REPORT ARGS``: ``facepipe ARGS`` as a process of its own
(``facepipe.cli.main``, as the ``facepipe`` script runs it) against a FacePipe stack with its
backfill state machine, held by moto in this process; then REPORT gets the status of every
execution moto holds (JSON), so a test sees what the command left behind in "AWS".

moto 5.2 lacks two things the backfill commands call. They are played here, in moto's own
backend and responses, so their answers still go through moto's serializer and botocore's
parser as AWS's answers would (Step Functions API reference for the shapes):

- ListMapRuns / DescribeMapRun: moto's backend answers empty stubs. Here they answer the
  scenario's Map Run (mapRunArn, executionArn, status, startDate, stopDate, maxConcurrency,
  toleratedFailure*, itemCounts, executionCounts), one step further at each DescribeMapRun;
  when the Map Run stops, its execution stops with it (the backfill's parent ends after its
  summary).
- RedriveExecution: moto has no such action. Here it is added to moto's Step Functions
  responses with the API's behaviour: ExecutionDoesNotExist for an unknown ARN,
  ExecutionNotRedrivable unless FAILED, ABORTED or TIMED_OUT; otherwise the same execution is
  RUNNING again and the answer is its redriveDate. (The rules facepipe checks before the call
  are held to the documentation in test_aws_redrive.py.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.stepfunctions.models import StepFunctionBackend, stepfunctions_backends
from moto.stepfunctions.responses import StepFunctionResponse

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2] / "support"))

from moto_stack import ACCOUNT, BUCKET, REGION, DeployedStack, deploy

from facepipe import cli

Counts = dict[str, int]
# A scenario's Map Run: the item counts DescribeMapRun answers, one entry per call (the last
# one repeats), and the status of the last one.
MapRunScript = tuple[list[Counts], str]


def counts(total: int, succeeded: int, failed: int = 0, running: int = 0) -> Counts:
    pending = total - succeeded - failed - running
    return {
        "pending": pending, "running": running, "succeeded": succeeded, "failed": failed,
        "timedOut": 0, "aborted": 0, "total": total, "resultsWritten": succeeded + failed,
    }  # fmt: skip


FINISHING: MapRunScript = (
    [counts(300, 0, running=40), counts(300, 150, 2, running=40), counts(300, 290, 10)],
    "SUCCEEDED",
)
ENDLESS: MapRunScript = (
    [counts(1_000_000, 10 * step, running=40) for step in range(10_000)],
    "RUNNING",
)


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC datetimes


class MapRuns:
    """The Map Run of each backfill execution, played from its script."""

    def __init__(self, default: MapRunScript | None) -> None:
        self.default = default
        self.scripts: dict[str, MapRunScript] = {}
        self.calls: dict[str, int] = {}

    def map_run_arn(self, execution_arn: str) -> str:
        return execution_arn.replace(":execution:", ":mapRun:", 1).replace(
            ":backfill-", "/Backfill:backfill-", 1
        )

    def script(self, execution_arn: str) -> MapRunScript | None:
        return self.scripts.get(execution_arn, self.default)

    def install(self) -> None:
        runs = self

        def list_map_runs(backend: StepFunctionBackend, execution_arn: str) -> Any:
            execution = backend.describe_execution(execution_arn)
            if runs.script(execution_arn) is None:
                return {"mapRuns": []}
            entry = {
                "executionArn": execution_arn,
                "mapRunArn": runs.map_run_arn(execution_arn),
                "stateMachineArn": execution.state_machine_arn,
                "startDate": execution.start_date,
            }
            return {"mapRuns": [entry]}

        def describe_map_run(backend: StepFunctionBackend, map_run_arn: str) -> Any:
            execution_arn = next(
                e.execution_arn
                for machine in backend.state_machines
                for e in machine.executions
                if runs.map_run_arn(e.execution_arn) == map_run_arn
            )
            execution = backend.describe_execution(execution_arn)
            script = runs.script(execution_arn)
            assert script is not None
            steps, final = script
            call = runs.calls.get(execution_arn, 0)
            runs.calls[execution_arn] = call + 1
            last = call >= len(steps) - 1
            status = final if last else "RUNNING"
            answer = {
                "mapRunArn": map_run_arn,
                "executionArn": execution_arn,
                "status": status,
                "startDate": execution.start_date,
                "maxConcurrency": 40,
                "toleratedFailurePercentage": 10.0,
                "toleratedFailureCount": 0,
                "itemCounts": steps[min(call, len(steps) - 1)],
                "executionCounts": steps[min(call, len(steps) - 1)],
            }
            if status != "RUNNING":
                answer["stopDate"] = execution.stop_date or _now()
                if execution.status == "RUNNING":  # the parent ends after its summary
                    execution.status = status
                    execution.stop_date = answer["stopDate"]
            return answer

        StepFunctionBackend.list_map_runs = list_map_runs  # type: ignore[method-assign]
        StepFunctionBackend.describe_map_run = describe_map_run  # type: ignore[method-assign]


def redrive_execution(self: StepFunctionResponse) -> ActionResult:
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    if execution.status not in ("FAILED", "ABORTED", "TIMED_OUT"):
        raise ExecutionNotRedrivable(f"Execution is {execution.status}, not redrivable")
    execution.status, execution.stop_date = "RUNNING", None
    return ActionResult({"redriveDate": _now()})


def stopped(stack: DeployedStack, machine: str, name: str, status: str, days_ago: float) -> str:
    """An execution of ``machine`` that stopped ``days_ago`` with ``status``."""
    sfn = stack.session.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
    backend = stepfunctions_backends[ACCOUNT][REGION]
    execution = backend.describe_execution(arn)
    execution.status = status
    execution.start_date = _now() - timedelta(days=days_ago, minutes=5)
    execution.stop_date = _now() - timedelta(days=days_ago)
    return str(arn)


def backfill_arn(stack: DeployedStack) -> str:
    outputs = stack.session.client("cloudformation").describe_stacks(StackName="FacePipe")
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs["Stacks"][0]["Outputs"]}
    return values["BackfillStateMachineArn"]


def bucket_objects(stack: DeployedStack, map_runs: MapRuns) -> None:
    s3 = stack.session.client("s3")
    for index in range(2500):
        s3.put_object(Bucket=BUCKET, Key=f"uploads/{index:05}.jpg", Body=b"1234")
    for key in ("uploads-old/a.jpg", "backfill-results/manifest.json"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")


def backfill_history(stack: DeployedStack, map_runs: MapRuns) -> None:
    machine = backfill_arn(stack)
    done = stopped(stack, machine, "backfill-20261201T080000Z-aaaaaa", "SUCCEEDED", 2)
    map_runs.scripts[done] = ([counts(1200, 1195, 5)], "SUCCEEDED")
    sfn = stack.session.client("stepfunctions")
    running = sfn.start_execution(
        stateMachineArn=machine, name="backfill-20261203T090000Z-bbbbbb", input="{}"
    )["executionArn"]
    map_runs.scripts[running] = ([counts(5000, 1000, 3, running=40)], "RUNNING")


def failed_executions(stack: DeployedStack, map_runs: MapRuns) -> None:
    pipeline, backfill = stack.state_machine_arn, backfill_arn(stack)
    stopped(stack, pipeline, "image-failed-yesterday", "FAILED", 1)
    stopped(stack, pipeline, "image-failed-2-days-ago", "FAILED", 2)
    stopped(stack, pipeline, "image-failed-20-days-ago", "FAILED", 20)
    stopped(stack, pipeline, "image-succeeded", "SUCCEEDED", 1)
    stopped(stack, backfill, "backfill-20261202T000000Z-cccccc", "FAILED", 1)


Setup = Callable[[DeployedStack, MapRuns], None]
SCENARIOS: dict[str, tuple[bool, MapRunScript | None, Setup | None]] = {
    # name: (stack has the backfill, Map Run of a backfill the command starts, setup)
    "old-stack": (False, None, None),
    "bucket": (True, FINISHING, bucket_objects),
    "finishing": (True, FINISHING, None),
    "endless": (True, ENDLESS, None),
    "history": (True, None, backfill_history),
    "failed": (True, None, failed_executions),
}


def report(path: Path) -> None:
    backend = stepfunctions_backends[ACCOUNT][REGION]
    path.write_text(
        json.dumps(
            {
                e.name: {
                    "status": e.status,
                    "machine": machine.name,
                    "input": json.loads(e.execution_input),
                }
                for machine in backend.state_machines
                for e in machine.executions
            }
        )
    )


def main(scenario: str, report_path: Path, args: list[str]) -> int:
    with_backfill, default_run, setup = SCENARIOS[scenario]
    map_runs = MapRuns(default_run)
    map_runs.install()
    StepFunctionResponse.redrive_execution = redrive_execution  # type: ignore[attr-defined]
    with mock_aws():
        stack = deploy(
            boto3.Session(region_name=REGION),
            versioned=False,
            starts_executions=False,
            backfill=with_backfill,
        )
        if setup is not None:
            setup(stack, map_runs)
        try:
            return cli.main(args)
        finally:
            report(report_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:]))
