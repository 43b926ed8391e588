"""The data that flows between steps and into the record store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

# What the pipeline takes, by name: Rekognition reads JPEG and PNG only.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def named_as_image(key: str) -> bool:
    """Whether the object key ends in .jpg, .jpeg or .png, in any letter case."""
    return key.lower().endswith(IMAGE_SUFFIXES)


def utc_now() -> datetime:
    """The steps' default clock (their configs take another in tests)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ImageRef:
    """One S3 object version, as the state machine's Detect Arguments describe it.

    ``key`` is the object key as the event delivered it. EventBridge's S3 events carry keys
    unencoded (classic S3 notifications URL-encode them, a space as ``+``; see
    lambdas/README.md for the evidence), so that is the key to read first;
    ``key_candidates`` adds the form-decoded key for an event that was encoded after all,
    and Detect keeps whichever names the object.
    """

    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    sequencer: str
    event_time: str

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> ImageRef:
        """Build from the state's ``{bucket, key, versionId, etag, size, sequencer, eventTime}``."""
        return cls(
            bucket=data["bucket"],
            key=data["key"],
            version_id=data.get("versionId"),
            etag=data.get("etag", ""),
            size=int(data.get("size", 0)),
            sequencer=data.get("sequencer", ""),
            event_time=data.get("eventTime", ""),
        )

    @property
    def record_version_id(self) -> str:
        """The version id records are stored under; "null" as S3 names unversioned objects."""
        return self.version_id or "null"

    def key_candidates(self) -> tuple[str, ...]:
        """The keys this event may mean: as delivered, then URL-decoded when that differs."""
        decoded = unquote_plus(self.key)
        return (self.key,) if decoded == self.key else (self.key, decoded)

    def to_state(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "versionId": self.version_id,
            "etag": self.etag,
            "size": self.size,
            "sequencer": self.sequencer,
            "eventTime": self.event_time,
        }


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    content_type: str | None = None


@dataclass
class FaceRecord:
    """What persist stores per image version (DynamoDB item / SQLite row)."""

    bucket: str
    key: str
    version_id: str
    etag: str
    size: int
    sequencer: str
    status: str  # "DETECTED" or "FAILED"
    face_count: int = 0
    faces: list[dict[str, Any]] = field(default_factory=list)
    detected_at: str = ""
    execution_arn: str = ""
    error: str | None = None
    reason: str | None = None
    event_time: str = ""
    notified_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Email:
    """A plain-text email about one image version; ``dedup_id`` names that version."""

    subject: str
    body: str
    dedup_id: str
