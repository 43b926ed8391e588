"""What every local command starts from: the data home, the local pipeline, its bucket."""

from __future__ import annotations

import argparse
import logging
import os
import threading
from dataclasses import replace

from facepipe.cli.exits import UsageError
from facepipe.local.home import DataHome, resolve_home
from facepipe.local.runtime import (
    DEFAULT_BUCKET,
    LocalPipeline,
    PipelineOptions,
    prefix_refusal,
    route_step_logs,
)
from lambdas.detect.step import DetectConfig


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
    # As the detect Lambda reads its settings; a flag stands in for its variable.
    flags = {"MIN_CONFIDENCE": args.min_confidence, "FACE_ATTRIBUTES": args.attributes}
    environ = {name: value for name, value in os.environ.items() if flags.get(name) is None}
    detect = DetectConfig.from_env(environ)
    if args.min_confidence is not None:
        detect = replace(detect, min_confidence=args.min_confidence)
    if args.attributes is not None:
        detect = replace(detect, attributes=args.attributes)
    options = PipelineOptions(
        bucket=bucket_of(args),
        detector=args.detector,
        workers=args.workers,
        detect=detect,
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
