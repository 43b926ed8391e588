"""The Detector port on Amazon Rekognition DetectFaces."""

from __future__ import annotations

from typing import Any

from lambdas.aws.errors import named_aws_errors
from lambdas.domain.model import ImageRef
from lambdas.domain.ports import FaceAttributes


def s3_object_reference(image: ImageRef) -> dict[str, Any]:
    """Rekognition's S3Object for the image version; Rekognition reads it, we never download."""
    reference: dict[str, Any] = {"Bucket": image.bucket, "Name": image.key}
    # "null" is how S3 names the version of an object in an unversioned bucket.
    if image.version_id and image.version_id != "null":
        reference["Version"] = image.version_id
    return reference


class RekognitionDetector:
    """Finds faces with DetectFaces on a boto3 ``rekognition`` client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def detect_faces(self, image: ImageRef, attributes: FaceAttributes) -> list[dict[str, Any]]:
        with named_aws_errors(f"detecting faces in s3://{image.bucket}/{image.key}"):
            response = self._client.detect_faces(
                Image={"S3Object": s3_object_reference(image)}, Attributes=[attributes]
            )
        faces: list[dict[str, Any]] = response.get("FaceDetails", [])
        return faces
