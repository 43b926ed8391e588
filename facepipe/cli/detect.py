"""``facepipe detect``: the local face detector alone, answering as DetectFaces does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from facepipe.cli import views
from facepipe.cli.exits import EXIT_FAILED, EXIT_OK, UsageError


def detect(args: argparse.Namespace) -> int:
    from facepipe.local.detection import get_finder

    files = [Path(name) for name in args.images]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    get_finder(args.detector)  # an unknown or missing detector is a usage error, up front
    answers = [detect_file(f, args.attributes, args.detector) for f in files]
    if args.json:
        views.print_json(answers)
    else:
        views.stdout_console().print(views.detect_table(answers))
    return EXIT_FAILED if any("error" in answer for answer in answers) else EXIT_OK


def detect_file(file: Path, attributes: str, detector: str) -> dict[str, Any]:
    """DetectFaces' answer for one file plus the ``file`` as given, or the error Rekognition
    would give."""
    from facepipe.local.detection import detect_faces_in_bytes
    from lambdas.domain.errors import StepError

    try:
        data = file.read_bytes()
    except OSError as error:  # gone or unreadable meanwhile: this file's answer, not a crash
        return {"file": str(file), "error": {"Code": "UnreadableFile", "Message": str(error)}}
    try:
        faces = detect_faces_in_bytes(data, attributes, detector)
    except StepError as error:
        return {"file": str(file), "error": {"Code": type(error).__name__, "Message": error.reason}}
    return {"file": str(file), "FaceDetails": faces}
