"""The FaceDetail shape: ratios clipped to the image, pose estimated from landmarks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facepipe.local.detection.face_details import FaceFinding, estimate_pose, to_face_detail

FRONTAL = ((40.0, 50.0), (60.0, 50.0), (50.0, 62.0), (42.0, 70.0), (58.0, 70.0))


def rotated(
    points: tuple[tuple[float, float], ...], degrees: float
) -> tuple[tuple[float, float], ...]:
    angle = math.radians(degrees)
    cx, cy = 50.0, 60.0
    return tuple(
        (
            cx + (x - cx) * math.cos(angle) - (y - cy) * math.sin(angle),
            cy + (x - cx) * math.sin(angle) + (y - cy) * math.cos(angle),
        )
        for x, y in points
    )


def test_frontal_face_has_no_pose() -> None:
    pose = estimate_pose(FRONTAL)

    assert pose == pytest.approx({"Roll": 0.0, "Yaw": 0.0, "Pitch": 0.0}, abs=1e-6)


def test_tilted_face_rolls_by_the_tilt_only() -> None:
    pose = estimate_pose(rotated(FRONTAL, 20.0))

    assert pose["Roll"] == pytest.approx(20.0, abs=1e-6)
    assert pose["Yaw"] == pytest.approx(0.0, abs=1e-6)
    assert pose["Pitch"] == pytest.approx(0.0, abs=1e-6)


def test_nose_beside_the_midline_means_yaw_and_above_means_pitch_up() -> None:
    (le, re, (nx, ny), ml, mr) = FRONTAL

    turned = estimate_pose((le, re, (nx + 5.0, ny), ml, mr))
    looking_up = estimate_pose((le, re, (nx, ny - 4.0), ml, mr))

    assert turned["Yaw"] == pytest.approx(math.degrees(math.atan2(5.0, 10.0)), abs=1e-3)
    assert looking_up["Pitch"] > 15.0 and abs(looking_up["Yaw"]) < 1e-6


def test_box_and_landmarks_are_ratios_clipped_to_the_image() -> None:
    gray = np.full((100, 200, 3), 128, dtype=np.uint8)
    finding = FaceFinding(
        left=-10.0,
        top=80.0,
        width=60.0,
        height=40.0,
        confidence=99.5,
        landmarks=((5.0, 90.0), (30.0, 90.0), (20.0, 95.0), (8.0, 99.0), (210.0, 120.0)),
    )

    detail = to_face_detail(finding, gray)

    assert detail["BoundingBox"] == {"Width": 0.25, "Height": 0.2, "Left": 0.0, "Top": 0.8}
    assert detail["Landmarks"][4] == {"Type": "mouthRight", "X": 1.0, "Y": 1.0}
    assert detail["Confidence"] == 99.5
    assert detail["Quality"]["Brightness"] == pytest.approx(128 / 255 * 100, abs=1e-3)
    assert detail["Quality"]["Sharpness"] == 0.0  # a flat grey patch has no edges
