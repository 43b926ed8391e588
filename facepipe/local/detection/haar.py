"""OpenCV's Haar cascade (``haarcascade_frontalface_default.xml`` ships in OpenCV 4.x wheels).

A baseline: no landmarks (so no Pose either) and lower recall on group photos. Haar gives
no probability; Confidence here is ``100 * n / (n + MIN_NEIGHBORS)`` where ``n`` is how many
overlapping raw detections were merged into the face: a monotone score, not a probability.
``CascadeClassifier`` is not documented as thread-safe, so calls share a lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from facepipe.local.detection.face_details import FaceFinding

if TYPE_CHECKING:
    import numpy as np

NAME = "haar"
WORKING_LONG_SIDE = 960  # with MIN_FACE_PX, Rekognition's 40 px at 1920x1080 (see mtcnn)
MIN_NEIGHBORS = 5
MIN_FACE_PX = 20


def is_available() -> bool:
    from importlib.util import find_spec

    return find_spec("cv2") is not None


class HaarFinder:
    name = NAME
    working_long_side = WORKING_LONG_SIDE

    def __init__(self) -> None:
        import cv2

        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"OpenCV could not load its Haar cascade from {path}")
        self._lock = threading.Lock()

    def find_faces(self, rgb: np.ndarray) -> list[FaceFinding]:
        import cv2

        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        with self._lock:
            boxes, counts = self._cascade.detectMultiScale2(
                gray,
                scaleFactor=1.1,
                minNeighbors=MIN_NEIGHBORS,
                minSize=(MIN_FACE_PX, MIN_FACE_PX),
            )
        return [
            FaceFinding(
                left=float(x),
                top=float(y),
                width=float(w),
                height=float(h),
                confidence=100.0 * int(n) / (int(n) + MIN_NEIGHBORS),
            )
            for (x, y, w, h), n in zip(list(boxes), list(counts), strict=True)
        ]
