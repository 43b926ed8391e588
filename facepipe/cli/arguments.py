"""Argument types and options shared by ``facepipe`` commands (argparse only: cheap)."""

from __future__ import annotations

import argparse
import os


def _parsed(text: str, kind: type[int] | type[float], what: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_int(text: str) -> int:
    value = int(_parsed(text, int, "a whole number"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _parsed(text, float, "a number")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number more than 0, got {text}")
    return value


def percentage(text: str) -> float:
    value = _parsed(text, float, "a number")
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {text}")
    return value


def tcp_port(text: str) -> int:
    value = int(_parsed(text, int, "a port number"))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535 (0: any free port), got {value}")
    return value


class VersionAction(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("facepipe")
        except PackageNotFoundError:  # run from a source tree that was never installed
            found = "unknown (not installed)"
        print(f"facepipe {found}")
        parser.exit()


def add_pipeline_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--prefix", default="uploads/", help="folder of the object keys in the bucket (uploads/)"
    )
    command.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    command.add_argument("--detector", default="auto", help="auto, mtcnn, yunet or haar")
    command.add_argument("--bucket", default=None, help="local bucket name")
    command.add_argument(
        "--min-confidence",
        type=percentage,
        default=None,
        help="faces below this confidence are left out (default: $MIN_CONFIDENCE, else 90)",
    )
    command.add_argument(
        "--attributes",
        choices=("DEFAULT", "ALL"),
        default=None,
        help="DetectFaces attributes (default: $FACE_ATTRIBUTES, else DEFAULT); offline, ALL "
        "gives the DEFAULT fields: no local model estimates age, emotions and the like",
    )
