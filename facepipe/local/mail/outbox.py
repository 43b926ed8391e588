"""The Maildir outbox read back: one reader for ``facepipe outbox``, the demo and the console.

Each email is one file named by its image version (:func:`maildir_name`), in ``new/`` until
a mail client reads it, then in ``cur/`` with ``:2,<flags>`` added to the name.
"""

from __future__ import annotations

import hashlib
import mailbox
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path


def maildir_name(dedup_id: str) -> str:
    """A deterministic Maildir file name (no '/' or ':') for one image version's email."""
    return "facepipe-" + hashlib.sha256(dedup_id.encode("utf-8")).hexdigest()[:40]


def message_files(folder: Path, name: str) -> list[Path]:
    """The files of the message called ``name``: in new/ (unread), else in cur/ (read)."""
    unread = folder / "new" / name
    return [unread] if unread.exists() else sorted((folder / "cur").glob(f"{name}:*"))


def message_path(folder: Path, name: str) -> Path:
    """Where the Maildir keeps a message (new/ when it is in neither)."""
    found = message_files(folder, name)
    return found[0] if found else folder / "new" / name


def read_email(folder: Path, dedup_id: str) -> dict[str, str] | None:
    """The subject, recipients, date and text of one image version's email, if it is there."""
    for path in message_files(folder, maildir_name(dedup_id)):
        if path.is_file():
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            body = message.get_body(preferencelist=("plain",))
            return {
                "subject": str(message["Subject"] or ""),
                "to": str(message["To"] or ""),
                "date": str(message["Date"] or ""),
                "body": body.get_content() if body is not None else "",
            }
    return None


@dataclass(frozen=True)
class OutboxMessage:
    id: str  # the Maildir key
    date: datetime
    subject: str
    to: str
    message_id: str


def list_outbox(folder: Path) -> list[OutboxMessage]:
    """The messages in a Maildir outbox, newest first (empty if there is no outbox yet)."""
    if not (folder / "new").is_dir():
        return []
    box = mailbox.Maildir(folder, factory=None, create=False)
    found: list[OutboxMessage] = []
    for key in box.iterkeys():  # (iterating a Mailbox itself yields messages)
        try:
            parsed = BytesParser(policy=policy.default).parsebytes(box.get_bytes(key))
        except (KeyError, FileNotFoundError):  # moved or removed by a mail client meanwhile
            continue
        found.append(_summary(key, parsed))
    return sorted(found, key=lambda m: (m.date, m.id), reverse=True)


def _summary(key: str, message: Message) -> OutboxMessage:
    try:
        date = parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        date = datetime.fromtimestamp(0, UTC)  # an undated message sorts last
    return OutboxMessage(
        id=key,
        date=date,
        subject=str(message["Subject"] or ""),
        to=str(message["To"] or ""),
        message_id=str(message["Message-ID"] or ""),
    )
