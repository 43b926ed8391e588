"""YuNet / libfacedetection (``yuface``: BSD-3, weights compiled into the wheel).

About ten times faster than MTCNN with the same recall, but wheels exist only for CPython
<= 3.11 on Linux x86_64 and Windows, so it is an optional, platform-marked dependency and
``auto`` falls back to MTCNN where it is missing. Confidence is YuNet's own 0-100 score.
The native call is serialised by a lock: the library gives no thread-safety promise.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from facepipe.local.detection.face_details import FaceFinding

if TYPE_CHECKING:
    import numpy as np

NAME = "yunet"
# libfacedetection warns above 960 px and slows down sharply (270 ms at 1080p vs 18 ms at
# 640x480); Rekognition's 40 px minimum at 1920x1080 is 20 px here, above YuNet's 10 px.
WORKING_LONG_SIDE = 960
MIN_SCORE = 50  # the library's own default threshold, in its 0-100 units


def is_available() -> bool:
    from importlib.util import find_spec

    return find_spec("yuface") is not None


class YunetFinder:
    name = NAME
    working_long_side = WORKING_LONG_SIDE

    def __init__(self) -> None:
        from yuface.yuface import detect

        self._detect = detect
        self._lock = threading.Lock()

    def find_faces(self, rgb: np.ndarray) -> list[FaceFinding]:
        import numpy as np

        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        with self._lock:
            rows = self._detect(bgr)
        # Each row: score, x, y, w, h, then five (x, y) landmarks (eyes from the image's left).
        return [_finding(row) for row in rows.tolist() if row[0] >= MIN_SCORE]


def _finding(row: list[int]) -> FaceFinding:
    score, x, y, width, height = row[:5]
    coords = row[5:15]
    return FaceFinding(
        left=float(x),
        top=float(y),
        width=float(width),
        height=float(height),
        confidence=float(score),
        landmarks=tuple((float(coords[i]), float(coords[i + 1])) for i in range(0, 10, 2)),
    )
