"""The real detectors on real photos: faces found, boxes and landmarks where the faces are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facepipe.local.detection import available_detectors, detect_faces_in_bytes
from facepipe.samples import FACE_COUNTS, GROUP, NO_FACES, PORTRAIT

LANDMARK_DETECTORS = [name for name in available_detectors() if name != "haar"]
RATIO_KEYS = ("Width", "Height", "Left", "Top")


def assert_sane(face: dict[str, Any]) -> None:
    box = face["BoundingBox"]
    assert all(0.0 <= box[key] <= 1.0 for key in RATIO_KEYS)
    assert box["Width"] > 0.02 and box["Height"] > 0.02
    assert box["Left"] + box["Width"] <= 1.0 + 1e-6 and box["Top"] + box["Height"] <= 1.0 + 1e-6
    assert 0.0 <= face["Confidence"] <= 100.0
    assert 0.0 <= face["Quality"]["Brightness"] <= 100.0
    assert 0.0 <= face["Quality"]["Sharpness"] <= 100.0


def assert_landmarks_in_box(face: dict[str, Any]) -> None:
    box = face["BoundingBox"]
    kinds = [point["Type"] for point in face["Landmarks"]]
    assert kinds == ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"]
    slack = 0.1 * box["Width"]
    for point in face["Landmarks"]:
        assert box["Left"] - slack <= point["X"] <= box["Left"] + box["Width"] + slack
        assert box["Top"] - slack <= point["Y"] <= box["Top"] + box["Height"] + slack
    points = {point["Type"]: point for point in face["Landmarks"]}
    assert points["eyeLeft"]["X"] < points["eyeRight"]["X"]  # eyeLeft is on the image's left
    assert points["eyeLeft"]["Y"] < points["mouthLeft"]["Y"]  # eyes above the mouth
    assert set(face["Pose"]) == {"Roll", "Yaw", "Pitch"}
    assert all(-90.0 <= angle <= 90.0 for angle in face["Pose"].values())


@pytest.mark.parametrize("detector", LANDMARK_DETECTORS)
@pytest.mark.parametrize("sample", [PORTRAIT, GROUP, NO_FACES])
def test_finds_every_face_of_the_samples(
    samples: dict[str, Path], sample: str, detector: str
) -> None:
    faces = detect_faces_in_bytes(samples[sample].read_bytes(), detector=detector)

    assert len(faces) == FACE_COUNTS[sample]
    for face in faces:
        assert_sane(face)
        assert_landmarks_in_box(face)


def test_portrait_face_box_is_where_the_face_is(samples: dict[str, Path]) -> None:
    # Eileen Collins' face in the 512x512 astronaut photo spans about x 178-268, y 60-175.
    [face] = detect_faces_in_bytes(samples[PORTRAIT].read_bytes(), detector="mtcnn")

    box = face["BoundingBox"]
    assert box["Left"] == pytest.approx(178 / 512, abs=0.03)
    assert box["Top"] == pytest.approx(62 / 512, abs=0.04)
    assert box["Width"] == pytest.approx(90 / 512, abs=0.03)
    assert face["Confidence"] > 99.0
    assert abs(face["Pose"]["Roll"]) < 10 and abs(face["Pose"]["Yaw"]) < 15


def test_group_faces_fill_the_four_tiles(samples: dict[str, Path]) -> None:
    faces = detect_faces_in_bytes(samples[GROUP].read_bytes())

    tiles = {
        (face["BoundingBox"]["Left"] >= 0.5, face["BoundingBox"]["Top"] >= 0.5) for face in faces
    }
    assert tiles == {(False, False), (True, False), (False, True), (True, True)}


def test_haar_finds_the_portrait_without_landmarks(samples: dict[str, Path]) -> None:
    [face] = detect_faces_in_bytes(samples[PORTRAIT].read_bytes(), detector="haar")

    assert_sane(face)
    assert face["Landmarks"] == []
    assert "Pose" not in face  # no landmarks, no honest pose


def test_all_attributes_adds_nothing_it_cannot_measure(samples: dict[str, Path]) -> None:
    data = samples[PORTRAIT].read_bytes()

    assert detect_faces_in_bytes(data, "ALL") == detect_faces_in_bytes(data, "DEFAULT")
