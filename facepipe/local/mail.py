"""The email message itself and who it goes to, shared by the Maildir outbox and SMTP."""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses

from lambdas.common.errors import ConfigurationError
from lambdas.common.model import Email

FROM_ENV_VAR = "FACEPIPE_EMAIL_FROM"
TO_ENV_VAR = "FACEPIPE_EMAIL_TO"
DEFAULT_SENDER = "facepipe@localhost"
DEDUP_HEADER = "X-Facepipe-Dedup-Id"


@dataclass(frozen=True)
class Addresses:
    sender: str
    recipients: tuple[str, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Addresses:
        """``FACEPIPE_EMAIL_FROM`` / ``FACEPIPE_EMAIL_TO`` (comma-separated), else local users."""
        env = os.environ if environ is None else environ
        sender = env.get(FROM_ENV_VAR) or DEFAULT_SENDER
        to = env.get(TO_ENV_VAR) or f"{_local_user()}@localhost"
        senders = _parse_addresses(sender, FROM_ENV_VAR)
        if len(senders) != 1:
            raise ConfigurationError(f"{FROM_ENV_VAR} must name exactly one address")
        return cls(sender=senders[0], recipients=_parse_addresses(to, TO_ENV_VAR))


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "facepipe"


def _parse_addresses(text: str, where: str) -> tuple[str, ...]:
    addresses = tuple(address for _, address in getaddresses([text]) if address)
    bad = [a for a in addresses if a.count("@") != 1 or a.startswith("@") or a.endswith("@")]
    if not addresses or bad:
        raise ConfigurationError(
            f"{where}={text!r} is not a list of email addresses like name@example.com"
        )
    return addresses


def message_id(email: Email) -> str:
    """The same Message-ID for the same image version, so duplicates are recognisable."""
    digest = hashlib.sha256(email.dedup_id.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@facepipe.local>"


def email_message(email: Email, addresses: Addresses) -> EmailMessage:
    """A real RFC 5322 message (UTF-8 plain text) with the SNS email's subject and body."""
    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = addresses.sender
    message["To"] = ", ".join(addresses.recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(email)
    message[DEDUP_HEADER] = email.dedup_id
    message.set_content(email.body)
    return message
