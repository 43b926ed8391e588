"""Real-shaped events and responses for the Lambda tests, built rather than stored.

Enumerations (landmark types, emotions) come from botocore's Rekognition model, so a
"100 faces with ALL attributes" response has every field the API can return.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote_plus

import botocore.session

ACCOUNT = "123456789012"
TABLE_NAME = "FaceRecords"
REGION = "eu-west-1"
BUCKET = "facepipe-uploads"
EXECUTION_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:FacePipeline:0f1e2d3c-test"

_model = botocore.session.get_session().get_service_model("rekognition")
LANDMARK_TYPES: list[str] = list(_model.shape_for("LandmarkType").enum)
EMOTION_TYPES: list[str] = list(_model.shape_for("EmotionName").enum)


def url_encoded(key: str) -> str:
    """The key as classic S3 notifications write it: form-encoded, a space as '+'."""
    return quote_plus(key, safe="/")


def object_created_event(
    key: str = "uploads/party.jpg",
    *,
    version_id: str | None = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    sequencer: str = "0062E99A88DC407460",
    size: int = 481_516,
    etag: str = "b1946ac92492d2347c6235b4d2611184",
    time: str = "2026-11-25T11:00:00Z",
    encode_key: bool = False,
) -> dict[str, Any]:
    """An EventBridge S3 "Object Created" event, as S3 sends it for a PutObject.

    The key unencoded, as EventBridge carries it; ``encode_key`` URL-encodes it, as a classic
    S3 notification would (the steps must find the object either way).
    """
    obj: dict[str, Any] = {
        "key": url_encoded(key) if encode_key else key,
        "size": size,
        "etag": etag,
    }
    if version_id is not None:
        obj["version-id"] = version_id
    obj["sequencer"] = sequencer
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "203.0.113.7",
            "reason": "PutObject",
        },
    }


def normalised_image(event: dict[str, Any]) -> dict[str, Any]:
    """What the state machine makes of ``event`` (mirrors the image in Detect's Arguments)."""
    obj = event["detail"]["object"]
    return {
        "bucket": event["detail"]["bucket"]["name"],
        "key": obj["key"],
        "versionId": obj.get("version-id", "null"),
        "etag": obj["etag"],
        "size": obj["size"],
        "sequencer": obj["sequencer"],
        "eventTime": event["time"],
    }


def step_payload(event: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A Lambda task's Payload: the normalised image, the execution ARN, and ``extra``."""
    return {"image": normalised_image(event), "executionArn": EXECUTION_ARN, **extra}


def _flag(rng: random.Random) -> dict[str, Any]:
    return {"Value": rng.random() > 0.5, "Confidence": rng.uniform(50, 100)}


def face_detail(
    rng: random.Random, attributes: str = "ALL", confidence: float | None = None
) -> dict[str, Any]:
    """One Rekognition FaceDetail with full-precision floats, as the API returns them."""
    left, top = rng.uniform(0, 0.9), rng.uniform(0, 0.9)
    face: dict[str, Any] = {
        "BoundingBox": {
            "Width": rng.uniform(0.01, 0.1),
            "Height": rng.uniform(0.01, 0.1),
            "Left": left,
            "Top": top,
        },
        "Landmarks": [
            {"Type": kind, "X": left + rng.uniform(0, 0.1), "Y": top + rng.uniform(0, 0.1)}
            for kind in LANDMARK_TYPES
        ],
        "Pose": {
            "Roll": rng.uniform(-180, 180),
            "Yaw": rng.uniform(-180, 180),
            "Pitch": rng.uniform(-180, 180),
        },
        "Quality": {"Brightness": rng.uniform(0, 100), "Sharpness": rng.uniform(0, 100)},
        "Confidence": confidence if confidence is not None else rng.uniform(90, 100),
    }
    if attributes == "ALL":
        low = rng.randint(1, 70)
        face.update(
            AgeRange={"Low": low, "High": low + rng.randint(2, 12)},
            Smile=_flag(rng),
            Eyeglasses=_flag(rng),
            Sunglasses=_flag(rng),
            Gender={"Value": rng.choice(["Male", "Female"]), "Confidence": rng.uniform(50, 100)},
            Beard=_flag(rng),
            Mustache=_flag(rng),
            EyesOpen=_flag(rng),
            MouthOpen=_flag(rng),
            Emotions=[{"Type": kind, "Confidence": rng.uniform(0, 100)} for kind in EMOTION_TYPES],
            FaceOccluded=_flag(rng),
            EyeDirection={
                "Yaw": rng.uniform(-180, 180),
                "Pitch": rng.uniform(-180, 180),
                "Confidence": rng.uniform(50, 100),
            },
        )
    return face


def detect_faces_response(count: int, attributes: str = "ALL", seed: int = 7) -> dict[str, Any]:
    """A DetectFaces response with ``count`` faces (Rekognition returns at most 100)."""
    rng = random.Random(seed)
    return {"FaceDetails": [face_detail(rng, attributes) for _ in range(count)]}
