"""``facepipe console``: the web console, over the local pipeline or the deployed stack."""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from typing import Any

from facepipe.cli.arguments import positive_int, tcp_port
from facepipe.cli.aws import add_stack_options
from facepipe.cli.exits import EXIT_USAGE

DEFAULT_PORT = 8765


def add_console_commands(commands: Any) -> None:
    """Add ``console`` to the ``facepipe`` subparsers; it sets ``run_command``."""
    console = commands.add_parser("console", help="the web console on http://127.0.0.1:8765")
    console.add_argument(
        "--port", type=tcp_port, default=DEFAULT_PORT, help=f"({DEFAULT_PORT}; 0: any free port)"
    )
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
    console.add_argument(
        "--workers", type=positive_int, default=None, help="offline execution threads"
    )
    console.add_argument("--detector", default="auto", help="auto, mtcnn, yunet or haar")
    add_stack_options(console)
    console.set_defaults(run_command=run_console)


def run_console(args: argparse.Namespace) -> int:
    from facepipe.console.guard import LOOPBACK_HOSTS, WILDCARD_ADDRESSES, allowed_hosts, host_name

    try:
        hosts = allowed_hosts(args.host, args.allow_host)
    except ValueError as error:
        print(f"facepipe: error: --allow-host {error}", file=sys.stderr)
        return EXIT_USAGE
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
    try:
        listening = listen(args.host, args.port)
    except ValueError as error:
        print(f"facepipe: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    with listening:
        if args.aws:
            return _serve_aws(args, hosts, listening)
        return _serve_local(args, hosts, listening)


def _serve_local(args: argparse.Namespace, hosts: list[str], listening: socket.socket) -> int:
    from facepipe.console.app import create_app
    from facepipe.console.local_source import LocalConsoleSource
    from facepipe.console.server import serve
    from facepipe.local.home import resolve_home
    from facepipe.local.runtime import LocalPipeline, PipelineOptions, route_step_logs

    route_step_logs()
    options = PipelineOptions(detector=args.detector)
    if args.workers:
        options = PipelineOptions(detector=args.detector, workers=args.workers)
    with LocalPipeline(resolve_home(getattr(args, "home", None)), options) as pipeline:
        print(f"facepipe console: {_url(args, listening)} (Ctrl-C stops)", flush=True)
        app = create_app(LocalConsoleSource(pipeline), allowed_hosts=hosts)
        serve(app, listening)
        # Executions waiting to retry are left to `facepipe resume`, not waited for.
        pipeline.cancel_pending()
    return 0


def listen(host: str, port: int) -> socket.socket:
    """The console's listening socket, bound before anything is printed; ValueError (one
    line saying what to change) when the port is taken or the address is not this host's."""
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ValueError(
                f"port {port} on {host} is in use (another facepipe console?): "
                "choose another with --port, or 0 for any free one"
            ) from None
        if error.errno == errno.EACCES:
            raise ValueError(f"not allowed to listen on port {port}: use one above 1023") from None
        raise ValueError(
            f"cannot listen on {host}:{port}: {error.strerror or error} (is --host an address "
            "of this machine?)"
        ) from None
    return sock


def _serve_aws(args: argparse.Namespace, hosts: list[str], listening: socket.socket) -> int:
    from facepipe.aws.errors import explain
    from facepipe.aws.executions import ExpressWorkflowError, describe_standard_state_machine
    from facepipe.aws.stack import read_stack_outputs
    from facepipe.cli.aws import session
    from facepipe.console.app import create_app
    from facepipe.console.aws_source import AwsConsoleSource
    from facepipe.console.server import serve

    try:
        aws = session(args)
        outputs = read_stack_outputs(aws.client("cloudformation"), args.stack)
        # Express workflows keep no execution history: say so now, not on every page.
        describe_standard_state_machine(
            aws.client("stepfunctions"), outputs.state_machine_arn, "console --aws"
        )
    except ExpressWorkflowError as error:
        print(f"facepipe: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:
        known = explain(error, args.stack, getattr(args, "region", None))
        if known is None:
            raise
        print(f"facepipe: error: {known}", file=sys.stderr)
        return EXIT_USAGE
    print(f"facepipe console ({outputs.stack_name}): {_url(args, listening)}", flush=True)
    serve(create_app(AwsConsoleSource(aws, outputs), allowed_hosts=hosts), listening)
    return 0


def _url(args: argparse.Namespace, listening: socket.socket) -> str:
    """The address to open: one the console answers (a wildcard address is not a name)."""
    from facepipe.console.guard import WILDCARD_ADDRESSES, host_name

    host = "127.0.0.1" if args.host in WILDCARD_ADDRESSES else host_name(args.host)
    return f"http://{host}:{listening.getsockname()[1]}/"
