"""``facepipe aws backfill`` and ``facepipe aws redrive``: the deployed stack's backfill
(count and price a prefix, start it, follow its Map Run, list the latest) and RedriveExecution.

The logic is in ``facepipe.aws.backfill`` and ``facepipe.aws.redrive``; this module parses,
prints and maps outcomes to exit codes. A backfill runs in AWS: Ctrl-C while following it
stops the following, never the backfill.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TextIO

from facepipe.aws.backfill import DEFAULT_PREFIX  # stdlib only: --help stays cheap
from facepipe.aws.stack import DEFAULT_STACK
from facepipe.cli.arguments import positive_float, positive_int
from facepipe.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError

BACKFILL_EXITS = (
    "exit status: 0 the backfill SUCCEEDED (or --dry-run, --status); 1 it ended otherwise, or "
    "AWS failed while following it (it keeps running); 2 a mistake in the command or the "
    "settings (nothing was started); 130 Ctrl-C: following stopped, the backfill keeps running"
)
REDRIVE_EXITS = (
    "exit status: 0 redriven, or nothing to redrive; 1 --failed-since: one or more refused "
    "(each said); 2 a mistake in the command or the settings, or the one execution named "
    "cannot be redriven (AWS's reason said); 130 stopped by Ctrl-C"
)

POLL_SECONDS = 2.0
STATUS_LIMIT = 10
BAR_WIDTH = 24


Handler = Callable[[argparse.Namespace], int]
Session = Callable[[argparse.Namespace], Any]


def add_backfill_commands(
    sub: Any,
    add_stack_options: Callable[[argparse.ArgumentParser], None],
    reporting_errors: Callable[[Handler], Handler],
    session: Session,
) -> None:
    """Register ``aws backfill`` and ``aws redrive`` on the ``aws`` subparsers, with the
    aws group's stack options, error reporting and session (facepipe/cli/aws.py: passed in,
    so the two modules do not import each other)."""
    backfill = sub.add_parser(
        "backfill",
        help="run the images already in the bucket through the pipeline (Distributed Map)",
        description="Start the stack's backfill state machine over the objects under a "
        "prefix and follow its Map Run (succeeded, failed, pending, rate, ETA) on stderr. "
        "Ctrl-C stops following, not the backfill: it runs in AWS. Images already recorded "
        "DETECTED are skipped (no Rekognition charge, no email); one summary email at the end.",
        epilog=BACKFILL_EXITS,
    )
    backfill.add_argument(
        "--prefix",
        default=None,
        help=f"key prefix of the objects to backfill, starting with {DEFAULT_PREFIX} "
        f"({DEFAULT_PREFIX})",
    )
    backfill.add_argument(
        "--notify-each",
        action="store_true",
        help="also send the per-image emails (default: only the summary email)",
    )
    backfill.add_argument(
        "--poll",
        type=positive_float,
        metavar="SECONDS",
        default=POLL_SECONDS,
        help=f"seconds between progress reads while following ({POLL_SECONDS:g})",
    )
    mode = backfill.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="count the objects and print the cost estimate; start nothing",
    )
    mode.add_argument(
        "--status",
        action="store_true",
        help=f"list the latest backfills (status, counts, start and stop; --limit, {STATUS_LIMIT})",
    )
    mode.add_argument(
        "--follow",
        metavar="EXECUTION_ARN",
        help="follow a backfill already started (after Ctrl-C, or from another terminal)",
    )
    backfill.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"with --status: how many ({STATUS_LIMIT})",
    )
    add_stack_options(backfill)
    backfill.set_defaults(
        run_command=_with_aws_errors(reporting_errors(partial(backfill_command, session=session)))
    )

    redrive = sub.add_parser(
        "redrive",
        help="redrive FAILED Standard executions (RedriveExecution)",
        description="Continue an unsuccessful Standard execution from the step that failed, "
        "same ARN, same input, history kept (Step Functions RedriveExecution): one by ARN, "
        "or every FAILED execution of the pipeline and the backfill state machines that "
        "stopped since a date. AWS redrives only Standard executions that stopped within the "
        "last 14 days.",
        epilog=REDRIVE_EXITS,
    )
    redrive.add_argument(
        "execution_arn", nargs="?", metavar="EXECUTION_ARN", help="the execution to redrive"
    )
    redrive.add_argument(
        "--failed-since",
        type=since_date,
        metavar="DATE",
        help="every FAILED execution that stopped at or after DATE (2026-12-01, or an ISO "
        "date and time; UTC unless it says its offset)",
    )
    add_stack_options(redrive)
    redrive.set_defaults(
        run_command=_with_aws_errors(reporting_errors(partial(redrive_command, session=session)))
    )


def since_date(text: str) -> datetime:
    """``--failed-since``: an ISO date or date and time, UTC unless it has an offset."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: give one as 2026-12-01 or 2026-12-01T08:30:00+01:00"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when > datetime.now(UTC):
        raise argparse.ArgumentTypeError(f"{text} is in the future: no execution failed since")
    return when


def _with_aws_errors(reported: Handler) -> Handler:
    """Around the aws group's one-line errors, one line too for any other AWS refusal (a
    throttled or refused call is not a bug of ours: it must not end in a traceback)."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return reported(args)
        except ClientError as error:
            info = error.response.get("Error", {})
            print(
                f"facepipe: error: {error.operation_name} refused: "
                f"{info.get('Code', '?')}: {info.get('Message', '')}".rstrip(": "),
                file=sys.stderr,
            )
            return EXIT_FAILED
        except BotoCoreError as error:
            print(f"facepipe: error: {error}", file=sys.stderr)
            return EXIT_FAILED

    return run


def _stack_arguments(args: argparse.Namespace) -> str:
    """The options to repeat in a command we suggest, so it reaches the same stack."""
    parts = []
    if args.stack != DEFAULT_STACK:
        parts += ["--stack", args.stack]
    if args.region:
        parts += ["--region", args.region]
    if args.profile:
        parts += ["--profile", args.profile]
    return "".join(f" {part}" for part in parts)


def _backfill_machine(outputs: Any) -> str:
    if outputs.backfill_state_machine_arn is None:
        raise UsageError(
            f"stack {outputs.stack_name!r} has no BackfillStateMachineArn output: it was "
            "deployed before the backfill existed; deploy it again (`npx cdk deploy`) to add it"
        )
    return str(outputs.backfill_state_machine_arn)


def backfill_command(args: argparse.Namespace, session: Session) -> int:
    from facepipe.aws.backfill import check_prefix
    from facepipe.aws.stack import read_stack_outputs

    if (args.status or args.follow) and (args.prefix is not None or args.notify_each):
        raise UsageError(
            "--prefix and --notify-each are for starting a backfill (or --dry-run), not "
            "with --status or --follow"
        )
    if args.limit is not None and not args.status:
        raise UsageError("--limit is for --status")
    check_prefix(args.prefix or DEFAULT_PREFIX)  # before any call
    aws = session(args)
    outputs = read_stack_outputs(aws.client("cloudformation"), args.stack)
    if args.dry_run:
        return dry_run(aws, outputs, args.prefix or DEFAULT_PREFIX)
    machine = _backfill_machine(outputs)
    sfn = aws.client("stepfunctions")
    if args.status:
        return status(sfn, machine, args.limit or STATUS_LIMIT)
    if args.follow:
        described = sfn.describe_execution(executionArn=args.follow)
        if described["stateMachineArn"] != machine:
            raise UsageError(
                f"{args.follow} is not a backfill of stack {outputs.stack_name!r} (its state "
                f"machine is {described['stateMachineArn']}): `facepipe aws backfill "
                "--status` lists the backfills"
            )
        return follow(sfn, outputs, args, args.follow)
    return start(sfn, outputs, machine, args)


def dry_run(aws: Any, outputs: Any, prefix: str) -> int:
    from facepipe.aws.backfill import count_objects, estimate_cost

    counted = count_objects(aws.client("s3"), outputs.bucket_name, prefix)
    estimate = estimate_cost(counted.objects)
    where = f"s3://{outputs.bucket_name}/{prefix}"
    print(f"{counted.objects} objects ({size(counted.bytes)}) under {where}")
    print("estimated cost if none is recorded yet (us-east-1 list prices):")
    for service, cost in estimate.lines:
        print(f"  {service:<52} {usd(cost)}")
    print(f"  {'total':<52} {usd(estimate.total)}")
    print(f"if all are already recorded DETECTED: {usd(estimate.if_all_recorded)} (no Rekognition)")
    print("dry run: nothing was started")
    if outputs.backfill_state_machine_arn is None:
        print(
            f"note: stack {outputs.stack_name!r} has no backfill state machine yet (deployed "
            "before it existed): deploy it again to run this backfill",
            file=sys.stderr,
        )
    return EXIT_OK


def usd(amount: float) -> str:
    """Cents from a dollar up; below, enough digits that a small backfill is not $0.00."""
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.4f}"


def size(count: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def start(sfn: Any, outputs: Any, machine: str, args: argparse.Namespace) -> int:
    from facepipe.aws.backfill import start_backfill

    prefix = args.prefix or DEFAULT_PREFIX
    try:
        arn = start_backfill(sfn, machine, prefix=prefix, notify_each=args.notify_each)
    except KeyboardInterrupt:
        print(
            "\nfacepipe: interrupted before the backfill's ARN came back: "
            f"`facepipe aws backfill --status{_stack_arguments(args)}` shows whether it started",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    emails = "per-image emails and a summary" if args.notify_each else "one summary email"
    print(f"started backfill of s3://{outputs.bucket_name}/{prefix} ({emails}): {arn}")
    print(f"console: {outputs.execution_console_url(arn)}", flush=True)
    return follow(sfn, outputs, args, arn)


def follow(sfn: Any, outputs: Any, args: argparse.Namespace, arn: str) -> int:
    """Follow until the backfill stops; Ctrl-C leaves it running and says how to come back."""
    from botocore.exceptions import BotoCoreError, ClientError

    from facepipe.aws.errors import explain

    try:
        final, progress = follow_backfill(sfn, arn, sys.stderr, args.poll)
    except (ClientError, BotoCoreError) as error:  # e.g. expired credentials mid-way
        known = explain(error, args.stack, args.region)
        print(
            f"facepipe: error: {known or error}; the backfill keeps running in AWS: "
            f"facepipe aws backfill --follow {arn}{_stack_arguments(args)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(
            "stopped following; the backfill keeps running in AWS.\n"
            f"follow it again: facepipe aws backfill --follow {arn}{_stack_arguments(args)}\n"
            f"Step Functions console (its Map Run): {outputs.execution_console_url(arn)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    counts = (
        f"{progress.total} images: {progress.succeeded} succeeded, {progress.failed} failed"
        + (f", {progress.timed_out} timed out" if progress.timed_out else "")
        + (f", {progress.aborted} aborted" if progress.aborted else "")
        if progress
        else "no Map Run"
    )
    print(f"backfill {final}: {counts}")
    if final != "SUCCEEDED":
        print(f"redrive its failed items: facepipe aws redrive {arn}{_stack_arguments(args)}")
    return EXIT_OK if final == "SUCCEEDED" else EXIT_FAILED


def follow_backfill(
    sfn: Any,
    arn: str,
    out: TextIO,
    poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, Any]:
    """Poll DescribeExecution and the Map Run until the execution stops; draw the progress on
    ``out`` (one line redrawn on a terminal, a line per change of the counts otherwise)."""
    from facepipe.aws.backfill import map_run_progress

    terminal = out.isatty()
    shown: object = None
    try:
        while True:
            execution = str(sfn.describe_execution(executionArn=arn)["status"])
            progress = map_run_progress(sfn, arn)
            line = progress_line(progress)
            if terminal:
                out.write(f"\r\x1b[2K{line}")
                out.flush()
            elif _counts(progress) != shown:
                shown = _counts(progress)
                print(line, file=out, flush=True)
            if execution != "RUNNING":
                return execution, progress
            sleep(poll_seconds)
    finally:
        if terminal:
            out.write("\n")


def _counts(progress: Any) -> tuple[Any, ...] | None:
    if progress is None:
        return None
    return (progress.status, progress.total, progress.succeeded, progress.failed, progress.pending)


def progress_line(progress: Any) -> str:
    """``[#####-----] 400/908 succeeded 390 failed 10 pending 500 running 8 4.0/s ETA 2m07s``"""
    if progress is None:
        return "waiting for the Map Run to start (the backfill lists the bucket first)"
    total, done = progress.total, progress.finished
    filled = min(BAR_WIDTH, round(BAR_WIDTH * done / total)) if total else 0
    parts = [
        f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total}",
        f"succeeded {progress.succeeded}",
        f"failed {progress.failed}",
        f"pending {progress.pending}",
        f"running {progress.running}",
    ]
    if progress.timed_out:
        parts.append(f"timed out {progress.timed_out}")
    if progress.aborted:
        parts.append(f"aborted {progress.aborted}")
    parts.append(f"{progress.rate:.1f}/s" if progress.rate else "-/s")
    if progress.status == "RUNNING":
        eta = progress.eta_seconds
        parts.append(f"ETA {duration(eta)}" if eta is not None else "ETA -")
    else:
        parts.append(progress.status)
    return "  ".join(parts)


def duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02}m"
    return f"{minutes}m{secs:02}s" if minutes else f"{secs}s"


def status(sfn: Any, machine: str, limit: int) -> int:
    from facepipe.aws.backfill import latest_backfills, map_run_progress

    runs = latest_backfills(sfn, machine, limit)
    if not runs:
        print("(no backfills yet: `facepipe aws backfill --dry-run` counts and prices one)")
        return EXIT_OK
    header = f"{'STATUS':<10} {'STARTED':<25} {'STOPPED':<25} {'TOTAL':>7} {'SUCCEEDED':>9}"
    print(f"{header} {'FAILED':>7} {'PENDING':>7}  EXECUTION ARN")
    for run in runs:
        progress = map_run_progress(sfn, run.execution_arn)
        stopped = run.stopped.isoformat(timespec="seconds") if run.stopped else "-"
        counts = (
            (progress.total, progress.succeeded, progress.failed, progress.pending)
            if progress
            else ("-", "-", "-", "-")
        )
        print(
            f"{run.status:<10} {run.started.isoformat(timespec='seconds'):<25} {stopped:<25} "
            f"{counts[0]:>7} {counts[1]:>9} {counts[2]:>7} {counts[3]:>7}  {run.execution_arn}"
        )
    return EXIT_OK


def redrive_command(args: argparse.Namespace, session: Session) -> int:
    if (args.execution_arn is None) == (args.failed_since is None):
        raise UsageError(
            "give one EXECUTION_ARN or --failed-since DATE (not both, not neither): "
            "`facepipe aws executions --status FAILED` lists the failed executions"
        )
    from facepipe.aws.redrive import redrive

    aws = session(args)
    sfn = aws.client("stepfunctions")
    if args.execution_arn is not None:
        done = redrive(sfn, args.execution_arn)  # a refusal: one line, exit 2
        print(f"redriven {done.execution_arn} at {done.redrive_date.isoformat(timespec='seconds')}")
        return EXIT_OK
    return redrive_since(aws, sfn, args)


def redrive_since(aws: Any, sfn: Any, args: argparse.Namespace) -> int:
    """Every FAILED execution since the date, of the pipeline and of the backfill."""
    from facepipe.aws.executions import EXPRESS
    from facepipe.aws.redrive import redrive_failed_since
    from facepipe.aws.stack import read_stack_outputs

    outputs = read_stack_outputs(aws.client("cloudformation"), args.stack)
    machines = [outputs.state_machine_arn, outputs.backfill_state_machine_arn]
    outcomes = []
    for machine in filter(None, machines):
        if sfn.describe_state_machine(stateMachineArn=machine).get("type") == EXPRESS:
            print(
                f"skipped {machine}: an EXPRESS workflow (RedriveExecution supports Standard "
                "executions only)",
                file=sys.stderr,
            )
            continue
        outcomes += redrive_failed_since(sfn, machine, args.failed_since)
    since = args.failed_since.isoformat(timespec="seconds")
    if not outcomes:
        print(f"no FAILED executions stopped since {since}: nothing to redrive")
        return EXIT_OK
    for outcome in outcomes:
        if outcome.redriven:
            print(f"{outcome.execution_arn}: {outcome.message}")
        else:
            print(f"{outcome.execution_arn}: not redriven: {outcome.message}")
    redriven = sum(outcome.redriven for outcome in outcomes)
    print(f"{redriven} of {len(outcomes)} FAILED executions since {since} redriven")
    return EXIT_OK if redriven == len(outcomes) else EXIT_FAILED
