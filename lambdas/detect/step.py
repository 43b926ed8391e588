"""Detect step logic: find faces in the uploaded image version and summarise them compactly.

Payload in: ``{"image": {bucket, key, versionId, etag, size, sequencer, eventTime},
"executionArn"}``. Out: ``{"faceCount", "faces", "attributes", "minConfidence",
"detectedAt", "objectKey"}`` (the key the object was found under). Rekognition's errors
surface under their own names (see lambdas/README.md). The Lambda's AWS wiring is
``handler.py`` beside this; the local runtime imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from lambdas.domain.errors import InvalidImageFormatException, InvalidS3ObjectException
from lambdas.domain.faces import summarize_faces
from lambdas.domain.model import ImageRef, named_as_image, utc_now
from lambdas.domain.ports import Detector, FaceAttributes
from lambdas.runtime.config import choice_env, number_env
from lambdas.runtime.observability import (
    StepHandler,
    correlate_with_execution,
    logger,
)
from lambdas.runtime.step_input import read_execution_arn, read_image


@dataclass(frozen=True)
class DetectConfig:
    attributes: FaceAttributes = "DEFAULT"
    min_confidence: float = 90.0
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DetectConfig:
        """FACE_ATTRIBUTES (DEFAULT|ALL, default DEFAULT), MIN_CONFIDENCE (0-100, default 90)."""
        attributes = choice_env(environ, "FACE_ATTRIBUTES", "DEFAULT", ("DEFAULT", "ALL"))
        return cls(
            attributes=cast(FaceAttributes, attributes),
            min_confidence=number_env(environ, "MIN_CONFIDENCE", 90.0, 0.0, 100.0),
        )


def create_handler(detector: Detector, config: DetectConfig) -> StepHandler:
    """The detect step on any Detector (Rekognition in AWS, a local model offline)."""

    def detect(event: dict[str, Any], context: Any) -> dict[str, Any]:
        image = read_image(event)
        correlate_with_execution(read_execution_arn(event))
        # The upload rule takes every key under uploads/ (EventBridge cannot AND a prefix
        # with a case-insensitive suffix without wildcards); the refusal is made here, so
        # it is recorded FAILED with its reason like any other image that cannot be read.
        if not named_as_image(image.key):
            raise InvalidImageFormatException(
                f"{image.key!r} is not named as a JPEG or PNG image (.jpg, .jpeg or .png, "
                "in any letter case); no other file is processed"
            )
        image, found = _detect_under_either_key(detector, image, config.attributes)
        faces = summarize_faces(found, config.attributes, config.min_confidence)
        logger.info(
            "faces detected",
            extra={"face_count": len(faces), "faces_below_threshold": len(found) - len(faces)},
        )
        return {
            "faceCount": len(faces),
            "faces": faces,
            "attributes": config.attributes,
            "minConfidence": config.min_confidence,
            "detectedAt": config.clock().isoformat(timespec="seconds"),
            "objectKey": image.key,
        }

    return detect


def _detect_under_either_key(
    detector: Detector, image: ImageRef, attributes: FaceAttributes
) -> tuple[ImageRef, list[dict[str, Any]]]:
    """Faces in the object the event names: the key as delivered, else its decoded form.

    A second DetectFaces call happens only when the first key names no object (Rekognition's
    InvalidS3ObjectException) and decoding changes it; if neither names one, the first
    error is the one raised.
    """
    first_error: InvalidS3ObjectException | None = None
    for key in image.key_candidates():
        candidate = replace(image, key=key)
        try:
            return candidate, detector.detect_faces(candidate, attributes)
        except InvalidS3ObjectException as error:
            first_error = first_error or error
    assert first_error is not None
    raise first_error
