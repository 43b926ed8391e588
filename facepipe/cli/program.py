"""The ``facepipe`` program: its parser, ``main()`` and the dispatch to each command's module.

Only argparse is imported up front; the engine, the stores, rich and the face model are
imported by the command that needs them, so ``facepipe --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from facepipe.cli.arguments import VersionAction, add_pipeline_options, positive_float, positive_int
from facepipe.cli.exits import EXIT_CODES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facepipe",
        description="The face-detection pipeline offline: the same state machine and step "
        "logic as in AWS, on a local bucket, engine, detector, SQLite and mail outbox.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action=VersionAction)
    parser.add_argument(
        "--home", help="data folder (default: $FACEPIPE_HOME, else ~/.facepipe)", default=None
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the steps' logs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="upload images and run the pipeline on each",
        description="Upload each file named and each file under the folders named (their "
        "subfolders too) and run the pipeline on it. A file's key is the prefix plus its "
        "path inside the folder named (a file named itself: its name); two files that would "
        "share a key get their parent folders too. A file run already, unchanged, is "
        "skipped (--force runs it again).",
        epilog=EXIT_CODES,
    )
    run.add_argument("paths", nargs="+", metavar="IMAGE_OR_DIR")
    add_pipeline_options(run)
    run.add_argument(
        "--annotate",
        metavar="DIR",
        help="write copies with the faces boxed into DIR (not a folder that holds an input; "
        "an existing file there is never replaced)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="run again files already run (e.g. with another --detector): a new version each",
    )
    run.add_argument("--json", action="store_true", help="print the results as JSON")

    watch = commands.add_parser(
        "watch",
        help="run each image that appears in a folder (or its subfolders)",
        description="Run each file that appears in the folder or its subfolders once it "
        "is completely written; its key is the prefix plus its path inside the folder. "
        "Hidden files (names starting with a dot, as downloads in progress) are left alone.",
        epilog=EXIT_CODES,
    )
    watch.add_argument("folder", metavar="DIR")
    add_pipeline_options(watch)
    watch.add_argument("--interval", type=positive_float, default=1.0, help="seconds (1)")
    watch.add_argument(
        "--settle",
        type=positive_float,
        default=2.0,
        help="seconds a file must stay unchanged before it is taken as complete (2)",
    )
    watch.add_argument(
        "--existing",
        action="store_true",
        help="also run the files already in the folder (those run already, unchanged, are "
        "skipped: use it to catch up after a restart)",
    )

    records = commands.add_parser("records", help="list the face records")
    records.add_argument("--faces-only", action="store_true", help="only images with faces")
    shown = records.add_mutually_exclusive_group()
    shown.add_argument(
        "--limit", type=positive_int, default=50, help="at most N records, newest first (50)"
    )
    shown.add_argument("--all", action="store_true", help="every record")
    records.add_argument("--json", action="store_true")

    show = commands.add_parser(
        "show", help="one image's record and execution history, or one execution by its ARN"
    )
    show.add_argument(
        "key",
        metavar="KEY_OR_ARN",
        help="object key, e.g. uploads/photo.jpg, or an execution ARN (a backfill's lists "
        "its Map Run and child executions)",
    )
    show.add_argument("--version", help="a version id (default: the latest upload)")
    show.add_argument("--json", action="store_true")

    outbox = commands.add_parser(
        "outbox", help="list the emails in the local outbox, and those not sent yet"
    )
    outbox.add_argument("--json", action="store_true")
    outbox.add_argument(
        "--retry", action="store_true", help="send the emails the mail server refused before"
    )

    resume = commands.add_parser(
        "resume", help="finish what a stopped or killed run left (run and watch do it first)"
    )
    add_pipeline_options(resume)

    detect = commands.add_parser("detect", help="the face detector alone, as DetectFaces answers")
    detect.add_argument("images", nargs="+", metavar="IMAGE")
    detect.add_argument("--detector", default="auto", help="auto, mtcnn, yunet or haar")
    detect.add_argument(
        "--attributes",
        choices=("DEFAULT", "ALL"),
        default="DEFAULT",
        help="offline, ALL gives the DEFAULT fields (no local model estimates age, emotions...)",
    )
    detect.add_argument("--json", action="store_true")
    from facepipe.cli.aws import add_aws_commands  # argparse only: stays cheap
    from facepipe.cli.backfill import add_backfill_commands
    from facepipe.cli.console import add_console_commands

    add_backfill_commands(commands)  # backfill and redrive
    add_console_commands(commands)  # console and aws ... each set args.run_command
    add_aws_commands(commands)
    _accept_global_options_after_the_command(commands)
    return parser


def _accept_global_options_after_the_command(commands: argparse._SubParsersAction) -> None:
    """``facepipe run x --home h`` as well as ``facepipe --home h run x``: each command takes
    the global options too, and sets them only when given (SUPPRESS keeps the global value)."""
    for command in commands.choices.values():
        command.add_argument("--home", default=argparse.SUPPRESS, help="as facepipe --home")
        command.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="as facepipe -v"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UsageError as error:
        print(f"facepipe: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a command that needs no cleanup on Ctrl-C
        print("\nfacepipe: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:
        known = _known_error_message(error)
        if known is None:
            raise
        print(f"facepipe: error: {known}", file=sys.stderr)
        return EXIT_USAGE


def _known_error_message(error: Exception) -> str | None:
    """A one-line message for the failures a person can fix; None for bugs."""
    from facepipe.local.database import SchemaTooNewError
    from facepipe.local.detection import DetectorUnavailableError
    from facepipe.local.events.bus import UploadRuleError
    from facepipe.local.intake import NoSuchPath
    from facepipe.local.objectstore import InvalidObjectName
    from lambdas.domain.errors import StepError

    if isinstance(error, StepError):
        return error.reason
    known = (
        DetectorUnavailableError,
        InvalidObjectName,
        NoSuchPath,
        SchemaTooNewError,
        UploadRuleError,
    )
    if isinstance(error, known):
        return str(error)
    if isinstance(error, OSError):  # e.g. the data home on a full or read-only disk
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return None


# Each command's module, imported only when that command runs.
_COMMAND_MODULES = {
    "run": "run",
    "watch": "run",
    "resume": "run",
    "records": "records",
    "show": "records",
    "outbox": "outbox",
    "detect": "detect",
}


def _dispatch(args: argparse.Namespace) -> int:
    if hasattr(args, "run_command"):
        return int(args.run_command(args))
    from importlib import import_module

    module = import_module(f"facepipe.cli.{_COMMAND_MODULES[args.command]}")
    return int(getattr(module, args.command)(args))


if __name__ == "__main__":
    sys.exit(main())
