"""Reading the payload the state machine passes to each step, with clear errors."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lambdas.domain.errors import StepInputError
from lambdas.domain.model import ImageRef

IMAGE_FIELDS = ("bucket", "key", "versionId", "etag", "size", "sequencer", "eventTime")


def read_image(event: Any) -> ImageRef:
    """The ``image`` of the payload (built by Detect's Arguments from the event) as an ImageRef.

    After Detect, the key is the one Detect found the object under (``detection.objectKey``),
    so Persist and Notify record and email the key that names the object.
    """
    image = event.get("image") if isinstance(event, dict) else None
    if not isinstance(image, dict):
        raise StepInputError(
            "the step input has no 'image' object; expected the image Detect's Arguments build: "
            f"{{{', '.join(IMAGE_FIELDS)}}}"
        )
    missing = [name for name in ("bucket", "key") if not image.get(name)]
    if missing:
        raise StepInputError(f"the step input's image lacks {', '.join(missing)}")
    try:
        found = ImageRef.from_state(image)
    except (TypeError, ValueError) as error:
        raise StepInputError(f"the step input's image is malformed: {error}") from error
    detection = event.get("detection")
    object_key = detection.get("objectKey") if isinstance(detection, dict) else None
    return replace(found, key=object_key) if isinstance(object_key, str) and object_key else found


def read_object(event: dict[str, Any], name: str) -> dict[str, Any]:
    """A required object field of the payload, e.g. ``detection``."""
    value = event.get(name)
    if not isinstance(value, dict):
        raise StepInputError(f"the step input has no {name!r} object")
    return value


def read_execution_arn(event: dict[str, Any]) -> str:
    """The execution ARN the state machine passes from ``$$.Execution.Id`` (may be absent)."""
    return str(event.get("executionArn") or "")
