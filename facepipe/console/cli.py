"""``facepipe console`` (and the ``aws`` commands): registered on the main parser by one call."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from facepipe.aws.cli import add_aws_commands, add_stack_options

DEFAULT_PORT = 8765


def add_console_commands(commands: Any) -> None:
    """Add ``console`` and ``aws`` to the ``facepipe`` subparsers; each sets ``run_command``."""
    console = commands.add_parser("console", help="the web console on http://127.0.0.1:8765")
    console.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"({DEFAULT_PORT})")
    console.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (127.0.0.1); anything else exposes your images",
    )
    console.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to NAME (the name or address others type in"
        " their browser); besides 127.0.0.1, localhost, [::1] and --host (repeatable)",
    )
    console.add_argument("--aws", action="store_true", help="show the deployed stack instead")
    console.add_argument("--workers", type=int, default=None, help="offline execution threads")
    console.add_argument("--detector", default="auto", help="auto, mtcnn, yunet or haar")
    add_stack_options(console)
    console.set_defaults(run_command=run_console)
    add_aws_commands(commands)


def run_console(args: argparse.Namespace) -> int:
    from facepipe.console.app import create_app
    from facepipe.console.guard import LOOPBACK_HOSTS, WILDCARD_ADDRESSES, allowed_hosts, host_name
    from facepipe.console.server import serve

    try:
        hosts = allowed_hosts(args.host, args.allow_host)
    except ValueError as error:
        print(f"facepipe: error: --allow-host {error}", file=sys.stderr)
        return 2
    if host_name(args.host) not in LOOPBACK_HOSTS:
        print(
            f"facepipe: warning: serving on {args.host}: anyone who can reach it can upload",
            file=sys.stderr,
        )
    if args.host in WILDCARD_ADDRESSES or args.allow_host:
        print(
            f"facepipe: the console answers requests addressed to {', '.join(hosts)}"
            " only; add the names others use with --allow-host NAME",
            file=sys.stderr,
        )
    if args.aws:
        return _serve_aws(args, hosts)
    from facepipe.console.local_source import LocalConsoleSource
    from facepipe.local.home import resolve_home
    from facepipe.local.runtime import LocalPipeline, PipelineOptions, route_step_logs

    route_step_logs()
    options = PipelineOptions(detector=args.detector)
    if args.workers:
        options = PipelineOptions(detector=args.detector, workers=args.workers)
    with LocalPipeline(resolve_home(getattr(args, "home", None)), options) as pipeline:
        print(f"facepipe console: {_url(args)} (Ctrl-C stops)")
        app = create_app(LocalConsoleSource(pipeline), allowed_hosts=hosts)
        serve(app, args.host, args.port)
    return 0


def _serve_aws(args: argparse.Namespace, hosts: list[str]) -> int:
    from facepipe.aws.cli import session
    from facepipe.aws.errors import explain
    from facepipe.aws.executions import ExpressWorkflowError, describe_standard_state_machine
    from facepipe.aws.stack import read_stack_outputs
    from facepipe.console.app import create_app
    from facepipe.console.aws_source import AwsConsoleSource
    from facepipe.console.server import serve

    aws = session(args)
    try:
        outputs = read_stack_outputs(aws.client("cloudformation"), args.stack)
        # Express workflows keep no execution history: say so now, not on every page.
        describe_standard_state_machine(
            aws.client("stepfunctions"), outputs.state_machine_arn, "console --aws"
        )
    except ExpressWorkflowError as error:
        print(f"facepipe: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        known = explain(error, args.stack)
        if known is None:
            raise
        print(f"facepipe: error: {known}", file=sys.stderr)
        return 2
    print(f"facepipe console ({outputs.stack_name}): {_url(args)}")
    serve(create_app(AwsConsoleSource(aws, outputs), allowed_hosts=hosts), args.host, args.port)
    return 0


def _url(args: argparse.Namespace) -> str:
    """The address to open: one the console answers (a wildcard address is not a name)."""
    from facepipe.console.guard import WILDCARD_ADDRESSES, host_name

    host = "127.0.0.1" if args.host in WILDCARD_ADDRESSES else host_name(args.host)
    return f"http://{host}:{args.port}/"
