"""The email a person gets when faces are found: subject and plain-text body, built once.

The subject follows SNS's rules for email subjects (ASCII, no line breaks, under 100
characters), so the same text works for SNS in AWS and for SMTP or a Maildir offline.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from lambdas.domain.model import Email, ImageRef

SUBJECT_LIMIT = 99
FACES_LISTED = 10


def _region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def step_functions_console_url(execution_arn: str) -> str:
    """A Standard execution's page in the Step Functions console of the region in its ARN."""
    region = _region(execution_arn)
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{quote(execution_arn, safe=':/')}"
    )


def cloudwatch_log_group_url(region: str, log_group: str) -> str:
    """A log group's page in the CloudWatch console.

    This is the console's own URL form (not a documented API): the group name is
    percent-encoded twice and then ``%`` written as ``$``, so ``/`` becomes ``$252F``.
    """
    encoded = quote(quote(log_group, safe=""), safe="").replace("%", "$")
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{encoded}"
    )


def express_execution_reference(log_group: str) -> Callable[[str], str]:
    """Where a person can look at an EXPRESS execution: Step Functions keeps no history or
    execution page for Express workflows, so the execution's events are in the state
    machine's CloudWatch Logs group; the reference names the ARN to search for there."""

    def reference(execution_arn: str) -> str:
        url = cloudwatch_log_group_url(_region(execution_arn), log_group)
        indent = "\n" + " " * len("Execution:  ")
        return indent.join(
            [
                execution_arn,
                "An Express workflow: Step Functions keeps no page for it. Its events are in",
                f"the CloudWatch Logs group {log_group}; search it for the ARN above:",
                url,
            ]
        )

    return reference


def ascii_subject(text: str) -> str:
    """``text`` as SNS accepts a subject: accents dropped, other letters as '?', control
    characters as spaces, one line."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    ascii_text = plain.encode("ascii", "replace").decode("ascii")
    # SNS refuses a subject with line breaks or control characters (a key may hold any).
    printable = "".join(" " if unicodedata.category(c) == "Cc" else c for c in ascii_text)
    one_line = " ".join(printable.split())
    if len(one_line) > SUBJECT_LIMIT:
        one_line = one_line[: SUBJECT_LIMIT - 3] + "..."
    return one_line


def _faces_phrase(count: int) -> str:
    return "1 face" if count == 1 else f"{count} faces"


def _face_line(number: int, face: dict[str, Any]) -> str:
    box = face.get("box", {})
    return (
        f"  {number}. {face.get('confidence', 0):.1f}% sure; "
        f"{box.get('left', 0) * 100:.0f}% from the left, "
        f"{box.get('top', 0) * 100:.0f}% from the top, "
        f"{box.get('width', 0) * 100:.0f}% x {box.get('height', 0) * 100:.0f}% of the picture"
    )


def _body(image: ImageRef, detection: dict[str, Any], execution_url: str) -> str:
    faces: list[dict[str, Any]] = detection.get("faces", [])
    count = int(detection.get("faceCount", len(faces)))
    confidences = [float(face.get("confidence", 0.0)) for face in faces]
    lines = [
        f"{_faces_phrase(count)} found in {image.key}",
        "",
        f"Where:      bucket {image.bucket}, key {image.key}, version {image.version_id or 'none'}",
        f"Uploaded:   {image.event_time or 'unknown'}",
        f"Detected:   {detection.get('detectedAt', 'unknown')}",
    ]
    if confidences:
        lines.append(
            f"Confidence: {max(confidences):.1f}% highest, {min(confidences):.1f}% lowest "
            f"(faces under {float(detection.get('minConfidence', 0)):.0f}% are not counted)"
        )
    lines += ["", "Faces:"] + [
        _face_line(i, face) for i, face in enumerate(faces[:FACES_LISTED], 1)
    ]
    if len(faces) > FACES_LISTED:
        lines.append(f"  ... and {len(faces) - FACES_LISTED} more")
    lines += ["", f"Execution:  {execution_url}", ""]
    return "\n".join(lines)


def build_face_email(image: ImageRef, detection: dict[str, Any], execution_url: str) -> Email:
    """The email about one image version; ``detection`` is the detect step's output."""
    count = int(detection.get("faceCount", len(detection.get("faces", []))))
    return Email(
        subject=ascii_subject(f"{_faces_phrase(count)} found in {image.key}"),
        body=_body(image, detection, execution_url),
        dedup_id=email_dedup_id(image.bucket, image.key, image.version_id),
    )


def email_dedup_id(bucket: str, key: str, version_id: str | None) -> str:
    """``bucket/key#version`` (``null`` for an unversioned object): the one email per image
    version, by which every notifier sends it once."""
    return f"{bucket}/{key}#{version_id or 'null'}"


def image_version_of(dedup_id: str) -> tuple[str, str]:
    """The ``(key, version)`` an :func:`email_dedup_id` names."""
    bucket_and_key, _, version = dedup_id.rpartition("#")
    return bucket_and_key.partition("/")[2], version
