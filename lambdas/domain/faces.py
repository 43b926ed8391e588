"""The compact face summary that travels in the state and is stored per image version.

Rekognition's FaceDetails for 100 faces with ALL attributes is far over Step Functions'
256 KB payload limit (every landmark is ``{"Type", "X", "Y"}`` with 17-digit floats). The
summary keeps every fact but rounds to what a person or a drawing can use (coordinates to
1e-4 of the image, angles and scores to 0.1) and writes landmarks as ``name: [x, y]``.
"""

from __future__ import annotations

from typing import Any

from lambdas.domain.ports import FaceAttributes

# Yes/no attributes Rekognition returns with ALL, as (FaceDetail field, summary field).
_BOOLEAN_ATTRIBUTES = (
    ("Smile", "smile"),
    ("Eyeglasses", "eyeglasses"),
    ("Sunglasses", "sunglasses"),
    ("Beard", "beard"),
    ("Mustache", "mustache"),
    ("EyesOpen", "eyesOpen"),
    ("MouthOpen", "mouthOpen"),
    ("FaceOccluded", "faceOccluded"),
)


def _coordinate(value: Any) -> float:
    return round(float(value), 4)


def _score(value: Any) -> float:
    return round(float(value), 1)


def _default_attributes(face: dict[str, Any]) -> dict[str, Any]:
    box = face.get("BoundingBox", {})
    pose = face.get("Pose", {})
    quality = face.get("Quality", {})
    return {
        "confidence": round(float(face.get("Confidence", 0.0)), 2),
        "box": {
            "left": _coordinate(box.get("Left", 0.0)),
            "top": _coordinate(box.get("Top", 0.0)),
            "width": _coordinate(box.get("Width", 0.0)),
            "height": _coordinate(box.get("Height", 0.0)),
        },
        "landmarks": {
            mark["Type"]: [_coordinate(mark["X"]), _coordinate(mark["Y"])]
            for mark in face.get("Landmarks", [])
        },
        "pose": {
            name.lower(): _score(pose[name]) for name in ("Roll", "Yaw", "Pitch") if name in pose
        },
        "quality": {
            name.lower(): _score(quality[name])
            for name in ("Brightness", "Sharpness")
            if name in quality
        },
    }


def _all_attributes(face: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if "AgeRange" in face:
        extra["ageRange"] = [int(face["AgeRange"]["Low"]), int(face["AgeRange"]["High"])]
    if "Gender" in face:
        extra["gender"] = {
            "value": face["Gender"]["Value"],
            "confidence": _score(face["Gender"]["Confidence"]),
        }
    for source, target in _BOOLEAN_ATTRIBUTES:
        if source in face:
            extra[target] = {
                "value": bool(face[source]["Value"]),
                "confidence": _score(face[source]["Confidence"]),
            }
    if "Emotions" in face:
        extra["emotions"] = {e["Type"]: _score(e["Confidence"]) for e in face["Emotions"]}
    if "EyeDirection" in face:
        eyes = face["EyeDirection"]
        extra["eyeDirection"] = {
            "yaw": _score(eyes["Yaw"]),
            "pitch": _score(eyes["Pitch"]),
            "confidence": _score(eyes["Confidence"]),
        }
    return extra


def summarize_face(face: dict[str, Any], attributes: FaceAttributes) -> dict[str, Any]:
    """One Rekognition FaceDetail as a compact summary; extra attributes only with ALL."""
    summary = _default_attributes(face)
    if attributes == "ALL":
        summary.update(_all_attributes(face))
    return summary


def summarize_faces(
    faces: list[dict[str, Any]], attributes: FaceAttributes, min_confidence: float
) -> list[dict[str, Any]]:
    """Faces at or above ``min_confidence`` percent, most confident first, summarised."""
    kept = [face for face in faces if float(face.get("Confidence", 0.0)) >= min_confidence]
    kept.sort(key=lambda face: float(face.get("Confidence", 0.0)), reverse=True)
    return [summarize_face(face, attributes) for face in kept]
