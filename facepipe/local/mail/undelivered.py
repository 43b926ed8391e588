"""Emails that could not be sent, kept until they are: the notifier's dead-letter folder.

When the mail server refuses an email, the notifier keeps it here (one JSON file per image
version, named by ``Email.dedup_id``) before the failure goes back to the state machine. A
later successful send of the same email removes it; if the retries run out it stays, and
``facepipe outbox`` lists it and ``facepipe outbox --retry`` sends it. Nothing is dropped.

A kept email remembers how it was to go out (``Delivery``: its sender, recipients and
transport), and is sent again that way or not at all: a retry from a shell with other mail
settings must not deliver it to someone else, or into the local outbox instead of SMTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from facepipe.local.mail.message import Delivery
from lambdas.domain.model import Email
from lambdas.domain.ports import Notifier


@dataclass(frozen=True)
class UnsentEmail:
    email: Email
    reason: str  # the last refusal, e.g. "could not send the email through SMTP server ..."
    attempts: int
    first_failed_at: str
    last_failed_at: str
    delivery: Delivery | None = None  # None: kept by a facepipe that did not record it


class UndeliveredMail:
    """The dead-letter folder: one file per unsent image-version email, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keep(self, email: Email, reason: str, delivery: Delivery | None = None) -> None:
        previous = self._read(self._path(email))
        if delivery is None and previous is not None:
            delivery = previous.delivery
        now = datetime.now(UTC).isoformat(timespec="seconds")
        record = {
            "subject": email.subject,
            "body": email.body,
            "dedupId": email.dedup_id,
            "reason": reason,
            "attempts": (previous.attempts if previous else 0) + 1,
            "firstFailedAt": previous.first_failed_at if previous else now,
            "lastFailedAt": now,
            "delivery": delivery.to_dict() if delivery is not None else None,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(email)
        temp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        temp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(temp, path)  # a reader sees the old file or the new one, never half

    def forget(self, email: Email) -> None:
        self._path(email).unlink(missing_ok=True)

    def unsent(self) -> list[UnsentEmail]:
        """The kept emails, oldest failure first (empty when the folder does not exist)."""
        if not self.folder.is_dir():
            return []
        found = [self._read(path) for path in self.folder.glob("*.json")]
        return sorted((u for u in found if u is not None), key=lambda u: u.first_failed_at)

    def _path(self, email: Email) -> Path:
        return self.folder / (hashlib.sha256(email.dedup_id.encode()).hexdigest()[:40] + ".json")

    @staticmethod
    def _read(path: Path) -> UnsentEmail | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:  # sent and forgotten meanwhile
            return None
        email = Email(subject=data["subject"], body=data["body"], dedup_id=data["dedupId"])
        delivery = data.get("delivery")
        return UnsentEmail(
            email,
            data["reason"],
            data["attempts"],
            data["firstFailedAt"],
            data["lastFailedAt"],
            Delivery.from_dict(delivery) if delivery else None,
        )


class KeepingUnsent:
    """A Notifier that keeps each email it could not send in the dead-letter folder."""

    def __init__(self, notifier: Notifier, undelivered: UndeliveredMail) -> None:
        self.notifier = notifier
        self.undelivered = undelivered

    @property
    def where(self) -> str:
        """Where the emails go, for people: the outbox folder or the SMTP server."""
        return str(getattr(self.notifier, "where", type(self.notifier).__name__))

    def send(self, email: Email) -> str:
        try:
            sent_id = self.notifier.send(email)
        except Exception as error:
            delivery = getattr(self.notifier, "delivery", None)
            self.undelivered.keep(email, str(error) or type(error).__name__, delivery)
            raise
        self.undelivered.forget(email)
        return sent_id


@dataclass(frozen=True)
class ResendResult:
    unsent: UnsentEmail
    message_id: str | None
    error: str | None
    refused: bool = False  # not tried: it cannot be sent the way it was meant to go


class CannotResend(Exception):
    """A kept email cannot be sent the way it was meant to go (the message says what to set)."""


NotifierFor = Callable[[Delivery | None], Notifier]  # raises CannotResend


def resend_undelivered(
    undelivered: UndeliveredMail, notifier_for: NotifierFor
) -> list[ResendResult]:
    """Try each kept email once more, the way it was meant to go; those sent leave the folder,
    the others stay (a refused one unchanged: it was not tried)."""
    results = []
    for unsent in undelivered.unsent():
        try:
            notifier = notifier_for(unsent.delivery)
        except CannotResend as refused:
            results.append(ResendResult(unsent, None, str(refused), refused=True))
            continue
        try:
            sent_id = notifier.send(unsent.email)
        except Exception as error:
            undelivered.keep(unsent.email, str(error) or type(error).__name__, unsent.delivery)
            results.append(ResendResult(unsent, None, str(error)))
            continue
        undelivered.forget(unsent.email)
        results.append(ResendResult(unsent, sent_id, None))
    return results
