"""``facepipe aws upload|executions|show``: the deployed stack, drawn like local executions
(``backfill`` and ``redrive``: facepipe/cli/aws_backfill.py)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from facepipe.aws.stack import DEFAULT_STACK, StackOutputs
from facepipe.cli.arguments import positive_float, positive_int
from facepipe.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE

# ListExecutions' statusFilter values (the Step Functions ExecutionStatus enum).
EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
# EventBridge stamps the execution a moment after PutObject; clocks may also differ a little.
_CLOCK_SLACK = timedelta(seconds=30)


def add_stack_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--stack", default=DEFAULT_STACK, help=f"stack name ({DEFAULT_STACK})")
    command.add_argument("--region", default=None, help="AWS region (default: the profile's)")
    command.add_argument("--profile", default=None, help="AWS profile (default: AWS_PROFILE)")


def add_aws_commands(commands: Any) -> None:
    """Register ``aws`` and its subcommands on the ``facepipe`` subparsers."""
    aws = commands.add_parser(
        "aws", help="the deployed stack: upload, executions, show, backfill, redrive"
    )
    sub = aws.add_subparsers(dest="aws_command", metavar="AWS_COMMAND", required=True)
    upload = sub.add_parser("upload", help="upload images and follow their executions live")
    upload.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    upload.add_argument(
        "--timeout",
        type=positive_float,
        default=900.0,
        help="seconds per image, for its execution to start and end (900)",
    )
    listing = sub.add_parser("executions", help="list the state machine's executions")
    listing.add_argument("--status", choices=EXECUTION_STATUSES)
    listing.add_argument("--limit", type=positive_int, default=20, help="(20)")
    listing.add_argument("--json", action="store_true", help="print the executions as JSON")
    show = sub.add_parser("show", help="draw one execution from its history")
    show.add_argument("execution_arn", metavar="ARN")
    show.add_argument("--json", action="store_true", help="print the history as JSON")
    for command, handler in ((upload, upload_command), (listing, executions_command)):
        add_stack_options(command)
        command.set_defaults(run_command=_reporting_errors(handler))
    add_stack_options(show)
    show.set_defaults(run_command=_reporting_errors(show_command))
    from facepipe.cli.aws_backfill import add_backfill_commands  # argparse only: stays cheap

    # session looked up when a command runs, so tests can replace it
    add_backfill_commands(sub, add_stack_options, _reporting_errors, lambda args: session(args))


def _reporting_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Say AWS failures in one line: a person's to fix (exit 2), or AWS's own refusal such
    as throttling (exit 1); let bugs raise."""

    def run(args: argparse.Namespace) -> int:
        from facepipe.aws.errors import explain
        from facepipe.aws.executions import ExecutionNotFound

        try:
            return handler(args)
        except Exception as error:
            known = explain(error, getattr(args, "stack", None), getattr(args, "region", None))
            if known is None and not isinstance(error, ExecutionNotFound | ValueError):
                raise
            print(f"facepipe: error: {known or error}", file=sys.stderr)
            return EXIT_FAILED if known is not None and known.answered else EXIT_USAGE

    return run


def session(args: argparse.Namespace) -> Any:
    import boto3

    return boto3.Session(profile_name=args.profile, region_name=args.region)


def _console() -> Any:
    from rich.console import Console

    return Console()


def _definition(sfn: Any, state_machine_arn: str, command: str) -> dict[str, Any]:
    """The state machine's definition; an EXPRESS one is refused (no history to draw)."""
    from facepipe.aws.executions import describe_standard_state_machine

    described = describe_standard_state_machine(sfn, state_machine_arn, f"aws {command}")
    return dict(json.loads(described["definition"]))


def render(definition: dict[str, Any], events: list[dict[str, Any]], title: str) -> Any:
    """The terminal tree of one execution, from GetExecutionHistory events."""
    from facepipe.graph import build_graph, summarize_history
    from facepipe.graph.terminal import render_execution

    graph = build_graph(definition)
    return render_execution(graph, summarize_history(events, list(graph.nodes)), title)


def upload_command(args: argparse.Namespace) -> int:
    from facepipe.aws.stack import read_stack_outputs

    aws = session(args)
    outputs = read_stack_outputs(aws.client("cloudformation"), args.stack)
    # Refused before anything is uploaded when the workflow is EXPRESS.
    definition = _definition(aws.client("stepfunctions"), outputs.state_machine_arn, "upload")
    console = _console()
    statuses = [
        upload_and_follow(aws, outputs, definition, image, console, args.timeout)
        for image in args.images
    ]
    return EXIT_OK if all(status == "SUCCEEDED" for status in statuses) else EXIT_FAILED


def upload_and_follow(
    aws: Any,
    outputs: StackOutputs,
    definition: dict[str, Any],
    image: Path,
    console: Any,
    timeout: float,
    poll_seconds: float = 1.0,
) -> str:
    """Upload one image, find and follow its execution live, print its record and link."""
    from rich.live import Live

    from facepipe.aws.executions import find_execution_for, follow_execution
    from facepipe.aws.records import fetch_record
    from facepipe.aws.upload import upload_image

    sfn = aws.client("stepfunctions")
    started_after = datetime.now(UTC) - _CLOCK_SLACK
    deadline = time.monotonic() + timeout  # for the execution to start and to end
    uploaded = upload_image(aws.client("s3"), outputs.bucket_name, outputs.upload_prefix, image)
    version = uploaded.version_id or "none: the bucket is not versioned"
    console.print(
        f"uploaded s3://{uploaded.bucket}/{uploaded.key} (version {version})",
        soft_wrap=True,
        markup=False,
    )
    arn = find_execution_for(
        sfn,
        outputs.state_machine_arn,
        uploaded.key,
        uploaded.version_id,
        started_after=started_after,
        timeout=timeout,
        poll_seconds=poll_seconds,
    )
    with Live(console=console, auto_refresh=False) as live:

        def redraw(_status: str, events: list[dict[str, Any]]) -> None:
            live.update(render(definition, events, uploaded.key), refresh=True)

        left = max(0.0, deadline - time.monotonic())
        final = follow_execution(sfn, arn, redraw, timeout=left, poll_seconds=poll_seconds)
    if final["status"] == "RUNNING":
        console.print(f"still running after {timeout:g} s: `facepipe aws show {arn}` follows it")
    record = fetch_record(
        aws.resource("dynamodb"), outputs.table_name, uploaded.key, uploaded.version_id or "null"
    )
    _print_outcome(console, record)
    console.print(f"console: {outputs.execution_console_url(arn)}", soft_wrap=True)
    return str(final["status"])


def _print_outcome(console: Any, record: Any) -> None:
    if record is None:
        console.print("record: none stored")
        return
    line = f"record: {record.status}, {record.face_count} face(s)"
    if record.error:
        line += f", {record.error}: {record.reason}"
    console.print(line, soft_wrap=True)
    sent = f"yes, at {record.notified_at}" if record.notified_at else "no"
    console.print(f"email sent: {sent}")


def executions_command(args: argparse.Namespace) -> int:
    from facepipe.aws.executions import describe_standard_state_machine, list_executions
    from facepipe.aws.stack import read_stack_outputs

    aws = session(args)
    outputs = read_stack_outputs(aws.client("cloudformation"), args.stack)
    sfn = aws.client("stepfunctions")
    describe_standard_state_machine(sfn, outputs.state_machine_arn, "aws executions")
    entries = list_executions(sfn, outputs.state_machine_arn, args.status, args.limit)
    if args.json:
        print(json.dumps([_execution_json(entry) for entry in entries], indent=1))
        return EXIT_OK
    # Plain lines, whole ARNs: easy to copy into `facepipe aws show ARN` or to grep.
    print(f"{'STATUS':<10} {'STARTED':<25} {'SECONDS':>8}  EXECUTION ARN")
    for entry in entries:
        stop = entry.get("stopDate")
        seconds = f"{(stop - entry['startDate']).total_seconds():.1f}" if stop else ""
        started = entry["startDate"].isoformat(timespec="seconds")
        print(f"{entry['status']:<10} {started:<25} {seconds:>8}  {entry['executionArn']}")
    if not entries:
        print("(no executions)")
    return EXIT_OK


def _execution_json(entry: dict[str, Any]) -> dict[str, Any]:
    """One ListExecutions entry with ISO dates and its duration (null while running)."""
    start, stop = entry["startDate"], entry.get("stopDate")
    item: dict[str, Any] = {
        "executionArn": entry["executionArn"],
        "name": entry.get("name"),
        "status": entry["status"],
        "startDate": start.isoformat(),
        "stopDate": stop.isoformat() if stop else None,
        "seconds": round((stop - start).total_seconds(), 3) if stop else None,
    }
    if "redriveCount" in entry:
        item["redriveCount"] = entry["redriveCount"]
    if entry.get("redriveDate"):
        item["redriveDate"] = entry["redriveDate"].isoformat()
    return item


def show_command(args: argparse.Namespace) -> int:
    from facepipe.aws.executions import (
        describe_standard_state_machine,
        execution_history,
        state_machine_of_express_execution,
    )

    sfn = session(args).client("stepfunctions")
    express_machine = state_machine_of_express_execution(args.execution_arn)
    if express_machine is not None:  # refused, with where its logs are
        describe_standard_state_machine(sfn, express_machine, "aws show")
    described = sfn.describe_execution(executionArn=args.execution_arn)
    events = execution_history(sfn, args.execution_arn)
    if args.json:
        print(json.dumps(events, default=str, indent=1))
        return EXIT_OK
    definition = _definition(sfn, described["stateMachineArn"], "show")
    _console().print(render(definition, events, described.get("name", args.execution_arn)))
    return EXIT_OK if described["status"] in ("SUCCEEDED", "RUNNING") else EXIT_FAILED
