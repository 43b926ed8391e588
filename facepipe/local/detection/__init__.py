"""Local face detection answering like Rekognition DetectFaces (shape, limits, errors).

Importing this package loads no model and no OpenCV/NumPy/Pillow: those come on first use.
"""

from facepipe.local.detection.detector import (
    LocalDetector,
    detect_faces_in_bytes,
)
from facepipe.local.detection.registry import (
    DETECTOR_NAMES,
    DetectorUnavailableError,
    available_detectors,
    get_finder,
)

__all__ = [
    "DETECTOR_NAMES",
    "DetectorUnavailableError",
    "LocalDetector",
    "available_detectors",
    "detect_faces_in_bytes",
    "get_finder",
]
