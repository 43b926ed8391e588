"""The local Detector: Rekognition DetectFaces' answers and errors, from a packaged model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from facepipe.local.detection.face_details import FaceFinding, to_face_detail
from facepipe.local.detection.image_checks import check_byte_size, decode
from facepipe.local.detection.registry import AUTO, get_finder
from lambdas.domain.errors import InvalidParameterException

if TYPE_CHECKING:
    import numpy as np

    from lambdas.domain.model import ImageRef
    from lambdas.domain.ports import FaceAttributes, ObjectStore

FaceDetail = dict[str, Any]
ATTRIBUTE_CHOICES = ("DEFAULT", "ALL")
MAX_FACES = 100  # DetectFaces reports the 100 largest faces


def detect_faces_in_bytes(
    data: bytes, attributes: str = "DEFAULT", detector: str = AUTO
) -> list[FaceDetail]:
    """Faces in a JPEG/PNG, as DetectFaces' ``FaceDetails``; Rekognition's errors for bad input."""
    if attributes not in ATTRIBUTE_CHOICES:
        raise InvalidParameterException(
            f"attributes must be one of {', '.join(ATTRIBUTE_CHOICES)}, not {attributes!r}"
        )
    finder = get_finder(detector)
    image = decode(data, max_long_side=finder.working_long_side)
    working = _shrink(image.rgb, finder.working_long_side)
    findings = _largest(finder.find_faces(working), MAX_FACES)
    details = [to_face_detail(finding, working) for finding in findings]
    details.sort(key=lambda detail: (-detail["Confidence"], detail["BoundingBox"]["Left"]))
    return details


def _shrink(rgb: np.ndarray, long_side: int) -> np.ndarray:
    import cv2

    height, width = rgb.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _largest(findings: list[FaceFinding], limit: int) -> list[FaceFinding]:
    return sorted(findings, key=lambda f: f.width * f.height, reverse=True)[:limit]


class LocalDetector:
    """The Detector port offline: reads the image version from an ObjectStore, finds faces."""

    def __init__(self, object_store: ObjectStore, detector: str = AUTO) -> None:
        self._object_store = object_store
        self._detector = detector

    @property
    def detector_name(self) -> str:
        """The backend actually used (``auto`` resolved); loads it on first call."""
        return get_finder(self._detector).name

    def detect_faces(self, image: ImageRef, attributes: FaceAttributes) -> list[FaceDetail]:
        # Like Rekognition, refuse an oversized object from its size, without reading it.
        check_byte_size(image.size)
        data = self._object_store.get_bytes(image.bucket, image.key, image.version_id)
        return detect_faces_in_bytes(data, attributes, self._detector)
