"""``facepipe backfill`` and ``facepipe redrive``: the images already in the local bucket
through the pipeline (statemachine/backfill.asl.json on the local engine), and FAILED
executions run again the way Step Functions redrives them."""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from facepipe.cli.arguments import add_pipeline_options
from facepipe.cli.exits import EXIT_CODES, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from facepipe.engine import ExecutionResult
    from facepipe.local.runtime import LocalPipeline

PROGRESS_EVERY = 1.0  # seconds between two progress lines
STOPPING = (
    "\nfacepipe: stopping the backfill: steps already running finish, its Map Run is "
    "aborted. Ctrl-C again stops now.\n"
)
_DONE = ("DETECTED",)


def add_backfill_commands(commands: Any) -> None:
    """Register ``backfill`` and ``redrive`` (argparse only: cheap)."""
    backfill = commands.add_parser(
        "backfill",
        help="run the images already in the local bucket (a Distributed Map over a prefix)",
        description="Run statemachine/backfill.asl.json on the local engine over the local "
        "bucket: one child execution per object under --prefix. Versions already recorded "
        "DETECTED are skipped (not detected again, not emailed again); FAILED ones are "
        "tried again. One summary email at the end; none per image unless --notify-each. "
        "Ctrl-C stops it (its Map Run aborted): run it again to go on, done images are "
        "skipped.",
        epilog=EXIT_CODES,
    )
    add_pipeline_options(backfill)
    backfill.add_argument(
        "--dry-run",
        action="store_true",
        help="count the objects and what a run would do (and what it would cost on AWS)",
    )
    backfill.add_argument(
        "--notify-each", action="store_true", help="also one email per image with faces"
    )
    backfill.set_defaults(run_command=backfill_command)

    redrive = commands.add_parser(
        "redrive",
        help="run FAILED executions again from the state that failed (as RedriveExecution)",
        description="Redrive an execution (an upload's or a backfill's) as Step Functions' "
        "RedriveExecution does: the same execution, its history continued, from the state "
        "that did not succeed (a backfill's Map Run runs only its unsuccessful children).",
        epilog=EXIT_CODES,
    )
    which = redrive.add_mutually_exclusive_group(required=True)
    which.add_argument("execution_arn", nargs="?", metavar="EXECUTION_ARN")
    which.add_argument(
        "--failed-since",
        metavar="DATE",
        type=_since,
        help="every execution that FAILED since DATE (ISO 8601, e.g. 2026-12-01 or "
        "2026-12-01T10:00:00Z)",
    )
    redrive.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    redrive.add_argument("--detector", default="auto", help="auto, mtcnn, yunet or haar")
    redrive.add_argument("--bucket", default=None, help="local bucket name")
    redrive.set_defaults(run_command=redrive_command, min_confidence=None, attributes=None)


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (ISO 8601: 2026-12-01 or 2026-12-01T10:00:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- backfill --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Census:
    """What is under the prefix, by what the records say of each current version."""

    objects: int
    detected: int
    failed: int

    @property
    def new(self) -> int:
        return self.objects - self.detected - self.failed


def census(pipeline: LocalPipeline, prefix: str) -> Census:
    objects = detected = failed = 0
    for stored in pipeline.objects.list_objects(pipeline.options.bucket, prefix):
        objects += 1
        fields = pipeline.records.record_fields(stored.key, str(stored.version_id or "null"))
        status = fields["status"] if fields else None
        detected += status in _DONE
        failed += status == "FAILED"
    return Census(objects, detected, failed)


def _check_prefix(prefix: str) -> None:
    from facepipe.aws.backfill import BackfillError, check_prefix

    try:
        check_prefix(prefix)
    except BackfillError as refused:
        raise UsageError(str(refused)) from None


def backfill_command(args: argparse.Namespace) -> int:
    from facepipe.cli.context import local_pipeline
    from facepipe.cli.run import ctrl_c_flag
    from facepipe.local.backfill import BackfillRequest

    _check_prefix(args.prefix)
    with ctrl_c_flag(STOPPING) as stop, local_pipeline(args, stop) as pipeline:
        found = _census_or_refuse(pipeline, args.prefix)
        if args.dry_run:
            _print_dry_run(pipeline, args.prefix, found)
            return EXIT_OK
        request = BackfillRequest(prefix=args.prefix, notify_each=args.notify_each)
        arn = pipeline.backfill.start(request)
        print(f"backfill {arn}", file=sys.stderr)
        outcome: list[ExecutionResult] = []
        runner = threading.Thread(
            target=lambda: outcome.append(pipeline.backfill.run(arn, request)),
            name="facepipe-backfill",
            daemon=True,
        )
        runner.start()
        _follow(pipeline, arn, found.objects, runner)
        runner.join()
        result = outcome[0] if outcome else None
        if result is None:  # the runner raised: a bug, reported as such
            raise RuntimeError(f"the backfill {arn} ended without a result")
        return _report(pipeline, result, stop)


def _census_or_refuse(pipeline: LocalPipeline, prefix: str) -> Census:
    from lambdas.domain.errors import InvalidS3ObjectException

    bucket = pipeline.options.bucket
    try:
        found = census(pipeline, prefix)
    except InvalidS3ObjectException:
        raise UsageError(
            f"no bucket {bucket!r} here: nothing was uploaded to it (`facepipe run` uploads)"
        ) from None
    if found.objects == 0:
        raise UsageError(f"no objects under s3://{bucket}/{prefix}: nothing to backfill")
    return found


def _print_dry_run(pipeline: LocalPipeline, prefix: str, found: Census) -> None:
    from facepipe.aws.backfill import estimate_cost

    bucket = pipeline.options.bucket
    print(f"{found.objects} object(s) under s3://{bucket}/{prefix}")
    print(f"  {found.detected} already recorded DETECTED: skipped (no detection, no email)")
    print(f"  {found.failed} recorded FAILED: detected again")
    print(f"  {found.new} not recorded: detected")
    print(
        f"A run would detect {found.failed + found.new} image(s) and send one summary email "
        "(no email per image unless --notify-each). Nothing was run."
    )
    # On AWS, the images to detect at the new-image price, the others at the recorded one.
    to_detect = estimate_cost(found.failed + found.new)
    skipped = estimate_cost(found.detected)
    print("On AWS (facepipe/aws/prices.py, us-east-1 list prices), for reference:")
    for service, cost in to_detect.lines:
        print(f"  {service}: ${cost:,.4f}")
    print(f"  already recorded ({found.detected}): ${skipped.if_all_recorded:,.4f}")
    print(f"  total: ${to_detect.total + skipped.if_all_recorded:,.4f}")


class _EngineSfn:
    """The engine's Map Run API under the boto3 names facepipe.aws.backfill reads."""

    def __init__(self, pipeline: LocalPipeline) -> None:
        self._machine = pipeline.backfill.machine

    def list_map_runs(self, *, executionArn: str) -> dict[str, Any]:
        return self._machine.list_map_runs(executionArn)

    def describe_map_run(self, *, mapRunArn: str) -> dict[str, Any]:
        return self._machine.describe_map_run(mapRunArn)


def progress_line(pipeline: LocalPipeline, arn: str, objects: int) -> str | None:
    """succeeded, failed, pending, rate and ETA from DescribeMapRun; None before it starts."""
    from facepipe.aws.backfill import map_run_progress

    progress = map_run_progress(_EngineSfn(pipeline), arn)
    if progress is None:
        return None
    total = max(progress.total, objects)
    pending = total - progress.finished - progress.running
    rate = f"{progress.rate:.1f}/s" if progress.rate else "-"
    eta = "-"
    if progress.rate:
        eta = f"{max(total - progress.finished, 0) / progress.rate:.0f}s"
    return (
        f"backfill: {progress.finished}/{total} done, {progress.succeeded} succeeded, "
        f"{progress.failed} failed, {progress.running} running, {pending} pending, "
        f"{rate}, ETA {eta}"
    )


def _follow(pipeline: LocalPipeline, arn: str, objects: int, runner: threading.Thread) -> None:
    last = ""
    while runner.is_alive():
        runner.join(PROGRESS_EVERY)
        line = progress_line(pipeline, arn, objects)
        if line is not None and line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
    line = progress_line(pipeline, arn, objects)
    if line is not None and line != last:
        print(line, file=sys.stderr, flush=True)


def _report(pipeline: LocalPipeline, result: ExecutionResult, stop: threading.Event) -> int:
    from facepipe.cli.run import _report_unsent

    output = result.output if isinstance(result.output, dict) else {}
    items = output.get("items") or {}
    if result.status == "SUCCEEDED":
        print(
            f"backfill {result.name} SUCCEEDED: {items.get('Total', 0)} image(s), "
            f"{items.get('Succeeded', 0)} succeeded, {items.get('Failed', 0)} failed; "
            "a summary email was sent"
        )
    elif result.status == "ABORTED" or stop.is_set():
        print(
            f"backfill {result.name} stopped (Ctrl-C): its Map Run was aborted. Run "
            "`facepipe backfill` again to go on: the images done are skipped "
            f"(or `facepipe redrive {result.execution_arn}`).",
            file=sys.stderr,
        )
        _report_unsent(pipeline)
        return EXIT_INTERRUPTED
    else:
        print(
            f"backfill {result.name} {result.status}: {result.error}: {result.cause}. "
            f"`facepipe show {result.execution_arn}` lists its Map Run; `facepipe backfill` "
            "again skips the images done and tries the FAILED ones again.",
        )
    _report_unsent(pipeline)
    return EXIT_OK if result.status == "SUCCEEDED" else EXIT_FAILED


# --- redrive ---------------------------------------------------------------------------------
def redrive_command(args: argparse.Namespace) -> int:
    from facepipe.cli.context import existing_home, local_pipeline
    from facepipe.cli.run import ctrl_c_flag
    from facepipe.engine import ApiError
    from facepipe.local.backfill import redrivable_since

    existing_home(args)
    args.workers = args.workers or 2
    args.prefix = "uploads/"
    with ctrl_c_flag() as stop, local_pipeline(args, stop) as pipeline:
        if args.execution_arn is not None:
            arns = [args.execution_arn]
        else:
            arns = [found.execution_arn for found in redrivable_since(pipeline, args.failed_since)]
            if not arns:
                print(f"no execution FAILED since {args.failed_since.isoformat()}")
                return EXIT_OK
        failed = False
        for arn in arns:
            if stop.is_set():
                break
            try:
                result = pipeline.redrive(arn)
            except ApiError as refused:
                if args.execution_arn is not None:
                    raise UsageError(f"{refused.code}: {refused.message}") from None
                print(f"{arn}: not redriven: {refused.code}: {refused.message}", file=sys.stderr)
                failed = True
                continue
            said = f"{arn}: redriven ({result.redrive_count}): {result.status}"
            if result.status != "SUCCEEDED":
                said += f": {result.error}: {result.cause}"
                failed = True
            print(said)
    if stop.is_set():
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK
