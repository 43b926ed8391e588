"""Turn a detector's pixel-space finding into Rekognition's ``FaceDetail`` shape.

What is measured and what is estimated, honestly:

- ``BoundingBox`` and ``Landmarks`` are the detector's own, as ratios of the displayed
  image's width and height, clipped to [0, 1] (Rekognition may return values slightly
  outside; a local consumer is simpler without them).
- ``Confidence`` is the detector's face score on a 0-100 scale (see each backend).
- ``Pose`` is *estimated* from the five landmarks with a simple head model (nose tip about
  half an eye-distance in front of the eyes); expect errors of 10-15 degrees. Roll is the
  tilt of the eye line, positive clockwise on screen; Yaw is positive when the face turns
  toward the image's right; Pitch is positive when the face looks up. Detectors without
  landmarks (Haar) give neither ``Landmarks`` points nor ``Pose``.
- ``Quality`` is *estimated* from the face's pixels: Brightness is the mean luma (0-100),
  Sharpness maps the variance of the Laplacian of the face resized to 64x64 onto 0-100.
- ``attributes="ALL"`` returns the same fields: age, emotions, glasses, beard etc. need
  models that do not ship in a package here, and a made-up value would be worse than none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
REFERENCE_NOSE_POSITION = 0.6  # nose tip, as a share of the eye-to-mouth distance, frontal
NOSE_DEPTH = 0.5  # nose tip in front of the eye plane, in eye distances
SHARPNESS_SCALE = 150.0  # Laplacian variance at which Sharpness reaches about 63


@dataclass(frozen=True)
class FaceFinding:
    """One face as a backend found it, in pixels of the image it was given.

    ``landmarks`` are (x, y) in LANDMARK_TYPES order (eyeLeft is the eye on the image's
    left, as in Rekognition), or None when the backend has no landmark model.
    """

    left: float
    top: float
    width: float
    height: float
    confidence: float  # 0-100
    landmarks: tuple[tuple[float, float], ...] | None = None


def to_face_detail(finding: FaceFinding, rgb: np.ndarray) -> dict[str, Any]:
    """Rekognition ``FaceDetail`` for a finding on ``rgb`` (the image the backend saw)."""
    height, width = rgb.shape[:2]
    detail: dict[str, Any] = {
        "BoundingBox": _bounding_box(finding, width, height),
        "Landmarks": _landmarks(finding, width, height),
    }
    if finding.landmarks is not None:
        detail["Pose"] = estimate_pose(finding.landmarks)
    detail["Quality"] = estimate_quality(rgb, finding)
    detail["Confidence"] = round(min(100.0, max(0.0, float(finding.confidence))), 4)
    return detail


def _ratio(value: float, size: int) -> float:
    return round(min(1.0, max(0.0, value / size)), 6)


def _bounding_box(finding: FaceFinding, width: int, height: int) -> dict[str, float]:
    left = min(max(finding.left, 0.0), width)
    top = min(max(finding.top, 0.0), height)
    right = min(max(finding.left + finding.width, 0.0), width)
    bottom = min(max(finding.top + finding.height, 0.0), height)
    return {
        "Width": _ratio(right - left, width),
        "Height": _ratio(bottom - top, height),
        "Left": _ratio(left, width),
        "Top": _ratio(top, height),
    }


def _landmarks(finding: FaceFinding, width: int, height: int) -> list[dict[str, Any]]:
    if finding.landmarks is None:
        return []
    return [
        {"Type": kind, "X": _ratio(x, width), "Y": _ratio(y, height)}
        for kind, (x, y) in zip(LANDMARK_TYPES, finding.landmarks, strict=True)
    ]


def estimate_pose(points: tuple[tuple[float, float], ...]) -> dict[str, float]:
    """Roll/Yaw/Pitch in degrees from five landmarks (see the module docstring)."""
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = points
    roll = math.atan2(ry - ly, rx - lx)
    eye_distance = math.hypot(rx - lx, ry - ly) or 1.0
    # Work in the face's own frame: undo the roll around the eyes' midpoint.
    cos_r, sin_r = math.cos(-roll), math.sin(-roll)
    eye_mid = ((lx + rx) / 2, (ly + ry) / 2)

    def upright(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - eye_mid[0], y - eye_mid[1]
        return dx * cos_r - dy * sin_r, dx * sin_r + dy * cos_r

    nose = upright(nx, ny)
    mouth = upright((mlx + mrx) / 2, (mly + mry) / 2)
    depth = NOSE_DEPTH * eye_distance
    eye_to_mouth = mouth[1] or 1.0
    nose_position = nose[1] / eye_to_mouth
    # The face's midline runs from the eyes' midpoint to the mouth's: how far the nose tip
    # sits beside it gives yaw, how far above or below its frontal place gives pitch.
    midline_x = mouth[0] * nose_position
    yaw = math.atan2(nose[0] - midline_x, depth)
    pitch = math.atan2((REFERENCE_NOSE_POSITION - nose_position) * eye_to_mouth, depth)
    return {
        "Roll": round(math.degrees(roll), 4),
        "Yaw": round(math.degrees(yaw), 4),
        "Pitch": round(math.degrees(pitch), 4),
    }


def estimate_quality(rgb: np.ndarray, finding: FaceFinding) -> dict[str, float]:
    """Brightness and Sharpness (0-100) of the face's pixels (see the module docstring)."""
    import cv2
    import numpy as np

    height, width = rgb.shape[:2]
    x0, y0 = max(0, int(finding.left)), max(0, int(finding.top))
    x1 = min(width, math.ceil(finding.left + finding.width))
    y1 = min(height, math.ceil(finding.top + finding.height))
    if x1 <= x0 or y1 <= y0:
        return {"Brightness": 0.0, "Sharpness": 0.0}
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    brightness = float(gray.mean()) * 100.0 / 255.0
    face64 = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA)
    variance = float(cv2.Laplacian(face64, cv2.CV_64F).var())
    sharpness = 100.0 * (1.0 - math.exp(-variance / SHARPNESS_SCALE))
    return {"Brightness": round(brightness, 4), "Sharpness": round(sharpness, 4)}
