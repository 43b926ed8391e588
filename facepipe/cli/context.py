"""What every local command starts from: the data home, the local pipeline, its bucket."""

from __future__ import annotations

import argparse
import logging
import threading

from facepipe.cli.exits import UsageError
from facepipe.local.home import DataHome, resolve_home
from facepipe.local.intake import prefix_refusal
from facepipe.local.runtime import (
    DEFAULT_BUCKET,
    LocalPipeline,
    PipelineOptions,
    detect_config,
    route_step_logs,
)


def home_of(args: argparse.Namespace) -> DataHome:
    return resolve_home(args.home)


def existing_home(args: argparse.Namespace) -> DataHome:
    """The data home to read; a typo in --home is an error, not an empty listing."""
    home = home_of(args)
    if not home.root.is_dir():
        raise UsageError(
            f"no data home at {home.root}: nothing has run there (check --home or "
            "FACEPIPE_HOME; `facepipe run IMAGE` starts one)"
        )
    return home


def local_pipeline(args: argparse.Namespace, stop: threading.Event | None = None) -> LocalPipeline:
    from facepipe.local.detection import get_finder

    route_step_logs(logging.INFO if args.verbose else logging.WARNING)
    get_finder(args.detector)  # an unknown or missing detector is a usage error, up front
    options = PipelineOptions(
        bucket=bucket_of(args),
        detector=args.detector,
        workers=args.workers,
        detect=detect_config(args.min_confidence, args.attributes),
    )
    return LocalPipeline(home_of(args), options, stop=stop)


def bucket_of(args: argparse.Namespace) -> str:
    from facepipe.local.objectstore import validate_bucket_name

    bucket = str(args.bucket or DEFAULT_BUCKET)
    validate_bucket_name(bucket)
    return bucket


def check_prefix(args: argparse.Namespace) -> None:
    refusal = prefix_refusal(bucket_of(args), args.prefix)
    if refusal is not None:
        raise UsageError(refusal)
