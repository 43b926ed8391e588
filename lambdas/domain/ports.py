"""The four ports between the step logic and the services it uses.

Each has an AWS adapter (in ``lambdas``) and a local adapter (in ``facepipe.local``);
the step logic sees only these protocols, so it is written once and wired twice.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from lambdas.domain.model import Email, FaceRecord, ImageRef, ObjectInfo

FaceAttributes = Literal["DEFAULT", "ALL"]


class Detector(Protocol):
    """Finds faces in an image, answering in Rekognition DetectFaces' ``FaceDetails`` shape.

    Raises the errors of ``lambdas.domain.errors`` under the names Rekognition uses.
    """

    def detect_faces(self, image: ImageRef, attributes: FaceAttributes) -> list[dict[str, Any]]: ...


class RecordStore(Protocol):
    """One record per image version; idempotent and order-safe by S3 sequencer."""

    def put_if_newer(self, record: FaceRecord) -> bool:
        """Write unless a record with the same or a newer sequencer is stored.

        Returns True when this call wrote, False when it was a duplicate or stale event.
        """
        ...

    def get(self, key: str, version_id: str) -> FaceRecord | None: ...

    def claim_notification(
        self,
        key: str,
        version_id: str,
        claimant: str | None = None,
        sequencer: str | None = None,
    ) -> bool:
        """Atomically mark the version as being notified; True only for the claim that may send.

        ``claimant`` (the execution ARN) is remembered with the claim. The same claimant may
        claim again while no email is recorded as sent (a retry of the same execution, after
        a send that failed or a Lambda that timed out); any other claimant is refused.
        ``sequencer`` (the event's S3 sequencer) restricts the claim to the record of that
        upload: an older upload's step cannot claim a newer upload's record (unversioned
        objects share the version id "null").
        """
        ...

    def mark_notification_sent(
        self, key: str, version_id: str, message_id: str, claimant: str | None = None
    ) -> bool:
        """Record that the claimed email was sent (``sentAt``, ``messageId``).

        After this neither a release nor the claimant itself can take the claim again.
        With ``claimant``, only a claim that claimant holds is marked; False when none is.
        """
        ...

    def release_notification(self, key: str, version_id: str, claimant: str | None = None) -> None:
        """Undo a claim whose email could not be sent, so a retry may send it.

        With ``claimant``, only a claim that claimant holds is released. A claim marked
        sent is never released.
        """
        ...


class Notifier(Protocol):
    """Delivers the email about an image with faces (SNS in AWS, SMTP or Maildir offline)."""

    def send(self, email: Email) -> str:
        """Send and return a message id."""
        ...


class ObjectStore(Protocol):
    """Where uploaded images live (S3 in AWS, a local bucket folder offline)."""

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo: ...

    def get_bytes(self, bucket: str, key: str, version_id: str | None = None) -> bytes: ...
