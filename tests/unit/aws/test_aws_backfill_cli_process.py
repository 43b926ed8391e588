"""``facepipe aws backfill`` and ``facepipe aws redrive`` through a real process.

AWS is moto, in the command's own process (moto_backfill.py runs ``facepipe.cli.main`` inside
``mock_aws``, as moto_facepipe.py does for the other aws commands). Where moto 5.2 has no
answer, moto_backfill.py plays it inside moto's backend and responses, in the shapes of the Step
Functions API reference, so botocore parses them as AWS's: ListMapRuns and DescribeMapRun
(a scripted Map Run, one step per DescribeMapRun call) and RedriveExecution (RUNNING again,
redriveDate; ExecutionNotRedrivable unless FAILED, ABORTED or TIMED_OUT). After each command
the runner writes what moto holds (each execution's status and input), so a test checks what
the command did in "AWS", not only what it printed. Mistakes argparse catches run the
installed ``facepipe`` script itself, with no AWS at all.

AWS's rules for redrive (API reference, RedriveExecution: Standard only; FAILED, ABORTED or
TIMED_OUT; stopped within the last 14 days) are facepipe.aws.redrive's, tested against the
documentation in test_aws_redrive.py; here: that the command says them in one line.
"""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_aws_cli_process import FAKE_CREDENTIALS, aws_env, facepipe

from facepipe.aws.backfill import estimate_cost

RUNNER = Path(__file__).parent / "moto_backfill.py"
EXECUTIONS = "arn:aws:states:eu-west-1:123456789012:execution"
BACKFILL = f"{EXECUTIONS}:FacePipeBackfill"
PIPELINE = f"{EXECUTIONS}:FacePipeline"
# Fast polling: the scripted Map Run moves one step per DescribeMapRun.
FAST = ("--poll", "0.05")


class Ran:
    def __init__(self, done: subprocess.CompletedProcess[str], report: Path) -> None:
        self.returncode, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr
        self.executions: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}


def run(tmp_path: Path, scenario: str, *args: str) -> Ran:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(RUNNER), scenario, str(report), *args],
        env=aws_env(tmp_path, **FAKE_CREDENTIALS), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return Ran(done, report)


def one_line_error(ran: Any, message: str, code: int = 2) -> None:
    assert ran.returncode == code, (ran.stdout, ran.stderr)
    assert "Traceback" not in ran.stderr
    assert ran.stderr.startswith("facepipe: error: ") and ran.stderr.count("\n") == 1, ran.stderr
    assert message in ran.stderr


def usage_error(done: Any, message: str) -> None:
    """argparse's refusal: usage, then one error line, exit 2, no traceback."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("usage: facepipe ")
    assert message in done.stderr.splitlines()[-1]


def test_the_dry_run_counts_the_prefix_prices_it_and_starts_nothing(tmp_path: Path) -> None:
    ran = run(tmp_path, "bucket", "aws", "backfill", "--dry-run")

    assert ran.returncode == 0, ran.stderr
    assert "2500 objects (10.0 KB) under s3://facepipe-images-test/uploads/" in ran.stdout
    estimate = estimate_cost(2500)
    lines = ran.stdout.splitlines()
    for service, cost in estimate.lines:
        [line] = [line for line in lines if line.strip().startswith(service)]
        assert float(line.split("$")[1].replace(",", "")) == pytest.approx(cost, abs=0.005)
    [total] = [line for line in lines if line.strip().startswith("total")]
    assert total.split() == ["total", f"${estimate.total:,.2f}"]  # 2500 images: $2.59
    recorded = f"already recorded DETECTED: ${estimate.if_all_recorded:.4f} (no Rekognition)"
    assert recorded in ran.stdout  # under a dollar: not rounded to $0.07
    assert "nothing was started" in ran.stdout
    assert ran.executions == {}


def test_a_backfill_starts_and_is_followed_to_its_end(tmp_path: Path) -> None:
    ran = run(tmp_path, "finishing", "aws", "backfill", "--prefix", "uploads/2019/",
              "--notify-each", *FAST)  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    [(name, execution)] = ran.executions.items()
    assert execution == {
        "status": "SUCCEEDED",
        "machine": "FacePipeBackfill",
        "input": {"prefix": "uploads/2019/", "notifyEach": True},
    }
    arn = f"{BACKFILL}:{name}"
    assert "started backfill of s3://facepipe-images-test/uploads/2019/ (per-image emails" in (
        ran.stdout
    )
    assert f"#/v2/executions/details/{arn}" in ran.stdout
    progress = ran.stderr.splitlines()
    assert progress[0].startswith("[------------------------] 0/300  succeeded 0  failed 0  ")
    assert "pending 260  running 40" in progress[0] and progress[0].endswith("ETA -")
    assert "152/300  succeeded 150  failed 2  pending 108  running 40" in progress[1]
    assert "/s  ETA " in progress[1]
    assert progress[2].startswith("[########################] 300/300  succeeded 290  failed 10")
    assert progress[2].endswith("SUCCEEDED")
    assert ran.stdout.splitlines()[-1] == "backfill SUCCEEDED: 300 images: 290 succeeded, 10 failed"


def _wait_for(process: subprocess.Popen[str], text: str, timeout: float = 60) -> str:
    """stderr read as it comes, until a line holds ``text``."""
    assert process.stderr is not None
    seen = ""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while text not in seen:
            assert time.monotonic() < deadline and process.poll() is None, seen
            if selector.select(timeout=1):
                seen += process.stderr.readline()
    return seen


def test_ctrl_c_while_following_leaves_the_backfill_running(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), "endless", str(report), "aws", "backfill", *FAST],
        env=aws_env(tmp_path, **FAKE_CREDENTIALS), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        before = _wait_for(process, "succeeded 20 ")  # the Map Run's third read
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    stderr = before + err

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    [(name, execution)] = json.loads(report.read_text()).items()
    assert execution["status"] == "RUNNING"  # not stopped: it runs in AWS
    arn = f"{BACKFILL}:{name}"
    assert "stopped following; the backfill keeps running in AWS." in stderr
    assert f"follow it again: facepipe aws backfill --follow {arn}\n" in stderr
    assert "Step Functions console (its Map Run): https://eu-west-1.console.aws" in stderr
    assert f"#/v2/executions/details/{arn}" in stderr
    assert out.startswith("started backfill of s3://facepipe-images-test/uploads/")


def test_follow_picks_up_a_backfill_and_reports_its_end(tmp_path: Path) -> None:
    arn = f"{BACKFILL}:backfill-20261201T080000Z-aaaaaa"

    ran = run(tmp_path, "history", "aws", "backfill", "--follow", arn, *FAST)

    assert ran.returncode == 0, ran.stderr
    assert "1200/1200  succeeded 1195  failed 5  pending 0" in ran.stderr
    assert ran.stdout == "backfill SUCCEEDED: 1200 images: 1195 succeeded, 5 failed\n"


def test_follow_refuses_an_execution_that_is_not_a_backfill(tmp_path: Path) -> None:
    arn = f"{PIPELINE}:image-failed-yesterday"

    ran = run(tmp_path, "failed", "aws", "backfill", "--follow", arn)

    one_line_error(ran, f"{arn} is not a backfill of stack 'FacePipe' (its state machine is ")


def test_status_lists_the_latest_backfills_newest_first(tmp_path: Path) -> None:
    ran = run(tmp_path, "history", "aws", "backfill", "--status")

    assert ran.returncode == 0, ran.stderr
    header, newest, oldest = ran.stdout.splitlines()
    assert header.split() == ["STATUS", "STARTED", "STOPPED", "TOTAL", "SUCCEEDED", "FAILED",
                              "PENDING", "EXECUTION", "ARN"]  # fmt: skip
    assert newest.split()[0:2] == ["RUNNING", newest.split()[1]]
    assert newest.split()[2:] == ["-", "5000", "1000", "3", "3957",
                                  f"{BACKFILL}:backfill-20261203T090000Z-bbbbbb"]  # fmt: skip
    assert oldest.split()[0] == "SUCCEEDED"
    assert oldest.split()[3:] == ["1200", "1195", "5", "0",
                                  f"{BACKFILL}:backfill-20261201T080000Z-aaaaaa"]  # fmt: skip


@pytest.mark.parametrize(
    "args", [["aws", "backfill"], ["aws", "backfill", "--status"],
             ["aws", "backfill", "--follow", f"{BACKFILL}:x"]],
)  # fmt: skip
def test_a_stack_deployed_before_the_backfill_gets_one_line(
    tmp_path: Path, args: list[str]
) -> None:
    ran = run(tmp_path, "old-stack", *args)

    one_line_error(ran, "stack 'FacePipe' has no BackfillStateMachineArn output: it was "
                   "deployed before the backfill existed; deploy it again")  # fmt: skip


def test_the_dry_run_still_counts_on_a_stack_without_the_backfill(tmp_path: Path) -> None:
    ran = run(tmp_path, "old-stack", "aws", "backfill", "--dry-run")

    assert ran.returncode == 0, ran.stderr
    assert "0 objects" in ran.stdout
    assert ran.stderr.startswith("note: stack 'FacePipe' has no backfill state machine yet")


def test_redrive_failed_since_redrives_each_failed_one_and_leaves_the_rest(
    tmp_path: Path,
) -> None:
    since = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()

    ran = run(tmp_path, "failed", "aws", "redrive", "--failed-since", since)

    assert ran.returncode == 0, ran.stderr
    redriven = [f"{PIPELINE}:image-failed-yesterday", f"{PIPELINE}:image-failed-2-days-ago",
                f"{BACKFILL}:backfill-20261202T000000Z-cccccc"]  # fmt: skip
    for arn in redriven:
        assert f"{arn}: redriven at " in ran.stdout
    assert ran.stdout.splitlines()[-1].startswith("3 of 3 FAILED executions since ")
    statuses = {name: e["status"] for name, e in ran.executions.items()}
    assert statuses == {
        "image-failed-yesterday": "RUNNING",  # redriven: the same execution runs again
        "image-failed-2-days-ago": "RUNNING",
        "image-failed-20-days-ago": "FAILED",  # stopped before the date
        "image-succeeded": "SUCCEEDED",
        "backfill-20261202T000000Z-cccccc": "RUNNING",
    }


def test_redrive_one_execution_by_its_arn(tmp_path: Path) -> None:
    arn = f"{PIPELINE}:image-failed-yesterday"

    ran = run(tmp_path, "failed", "aws", "redrive", arn)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"redriven {arn} at ")
    assert ran.executions["image-failed-yesterday"]["status"] == "RUNNING"


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        (f"{PIPELINE}:image-succeeded",
         "is SUCCEEDED: only FAILED, ABORTED or TIMED_OUT executions can be redriven"),
        (f"{PIPELINE}:image-failed-20-days-ago",
         "more than 14 days ago: Step Functions redrives only executions that stopped within"),
        ("arn:aws:states:eu-west-1:123456789012:express:FacePipeline:a:b",
         "is an EXPRESS execution: RedriveExecution supports Standard executions only"),
        (f"{PIPELINE}:no-such-execution", "there is no execution"),
    ],
)  # fmt: skip
def test_redrive_refuses_what_aws_refuses_in_one_line(
    tmp_path: Path, arn: str, message: str
) -> None:
    ran = run(tmp_path, "failed", "aws", "redrive", arn)

    one_line_error(ran, message)
    assert ran.executions["image-failed-20-days-ago"]["status"] == "FAILED"


def test_nothing_to_redrive_is_said_and_is_not_an_error(tmp_path: Path) -> None:
    since = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()

    ran = run(tmp_path, "history", "aws", "redrive", "--failed-since", since)

    assert ran.returncode == 0, ran.stderr
    assert (
        ran.stdout
        == f"no FAILED executions stopped since {since}T00:00:00+00:00: nothing to redrive\n"
    )


def test_a_date_beyond_fourteen_days_is_refused_in_one_line(tmp_path: Path) -> None:
    ran = run(tmp_path, "failed", "aws", "redrive", "--failed-since",
              (datetime.now(UTC) - timedelta(days=20)).date().isoformat())  # fmt: skip

    one_line_error(ran, "more than 14 days ago: Step Functions redrives only executions")
    assert ran.executions["image-failed-yesterday"]["status"] == "FAILED"


# The careless user: each mistake is refused before anything runs in AWS.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backfill", "--dry-rn"], "unrecognized arguments: --dry-rn"),
        (["backfill", "--dryrun"], "unrecognized arguments: --dryrun"),
        (["backfill", "--dry-run", "--status"],
         "argument --status: not allowed with argument --dry-run"),
        (["backfill", "--status", "--follow", "x"], "not allowed with argument --status"),
        (["backfill", "--poll", "0"], "argument --poll: must be a number more than 0, got 0"),
        (["redrive", "--failed-since", "yesterday"],
         "'yesterday' is not a date: give one as 2026-12-01"),
        (["redrive", "--failed-since", "2026-13-01"], "'2026-13-01' is not a date"),
        (["redrive", "--failed-since", "2999-01-01"], "2999-01-01 is in the future"),
        (["redrive", "--failed-sinse", "2026-12-01"], "unrecognized arguments"),
    ],
)  # fmt: skip
def test_typos_and_clashing_options_are_usage_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = facepipe("aws", *args, env=aws_env(tmp_path))

    usage_error(done, message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["redrive", f"{PIPELINE}:a", "--failed-since", "2026-12-01"],
         "give one EXECUTION_ARN or --failed-since DATE (not both, not neither)"),
        (["redrive"], "give one EXECUTION_ARN or --failed-since DATE"),
        (["backfill", "--status", "--prefix", "uploads/x/"],
         "--prefix and --notify-each are for starting a backfill"),
        (["backfill", "--follow", f"{BACKFILL}:x", "--notify-each"],
         "not with --status or --follow"),
        (["backfill", "--limit", "3"], "--limit is for --status"),
    ],
)  # fmt: skip
def test_mistakes_in_what_was_asked_are_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = facepipe("aws", *args, env=aws_env(tmp_path))

    one_line_error(done, message)


def test_a_typo_never_starts_a_backfill(tmp_path: Path) -> None:
    ran = run(tmp_path, "finishing", "aws", "backfill", "--dryrun")

    usage_error(ran, "unrecognized arguments: --dryrun")
    assert ran.executions == {}


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("photos/", "prefix 'photos/' is outside uploads/"),
        ("uploads", "reads only objects under uploads/ (did you mean 'uploads/'?)"),
    ],
)
def test_a_prefix_outside_uploads_starts_nothing(tmp_path: Path, prefix: str, message: str) -> None:
    ran = run(tmp_path, "finishing", "aws", "backfill", "--prefix", prefix)

    one_line_error(ran, message)
    assert ran.executions == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backfill", "--follow", "garbage"], "'garbage' (`facepipe aws executions` lists"),
        (["redrive", "garbage"], "garbage is not an execution ARN (arn:aws:states:<region>:"),
    ],
)
def test_an_arn_that_is_not_one_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    ran = run(tmp_path, "history", "aws", *args)

    one_line_error(ran, message)
