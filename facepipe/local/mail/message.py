"""The email message itself and who it goes to, shared by the Maildir outbox and SMTP."""

from __future__ import annotations

import getpass
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import Any
from urllib.parse import quote, unquote

from lambdas.domain.errors import ConfigurationError
from lambdas.domain.model import Email

FROM_ENV_VAR = "FACEPIPE_EMAIL_FROM"
TO_ENV_VAR = "FACEPIPE_EMAIL_TO"
DEFAULT_SENDER = "facepipe@localhost"
DEDUP_HEADER = "X-Facepipe-Dedup-Id"
# Escaped in the dedup header: '%' (the escape itself) and control characters.
_HEADER_UNSAFE = re.compile(r"[%\x00-\x1f\x7f-\x9f]")


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


@dataclass(frozen=True)
class Delivery:
    """How an email was to go out: from whom, to whom, and by which transport (the SMTP
    server by name, never its password), so a kept email is sent later the same way."""

    sender: str
    recipients: tuple[str, ...]
    transport: str  # "maildir" or "smtp"
    server: str | None = None  # smtp: host:port
    security: str | None = None  # smtp: none, starttls or ssl
    username: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recipients": list(self.recipients)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Delivery:
        return cls(
            sender=str(data["sender"]),
            recipients=tuple(str(r) for r in data["recipients"]),
            transport=str(data["transport"]),
            server=data.get("server"),
            security=data.get("security"),
            username=data.get("username"),
        )

    @property
    def addresses(self) -> Addresses:
        return Addresses(sender=self.sender, recipients=self.recipients)

    def describe(self) -> str:
        if self.transport != "smtp":
            return "the Maildir outbox"
        login = f", user {self.username}" if self.username else ""
        tls = {"starttls": "STARTTLS", "ssl": "TLS"}.get(self.security or "", "no TLS")
        return f"SMTP server {self.server} ({tls}{login})"


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
    message[DEDUP_HEADER] = dedup_header_value(email.dedup_id)
    message.set_content(email.body)
    return message


def dedup_header_value(dedup_id: str) -> str:
    """The image version as a header value for any key: control characters (a key may hold
    CR, LF or NUL) and '%' percent-encoded, so the header stays one line."""
    return _HEADER_UNSAFE.sub(lambda found: quote(found.group(), safe=""), dedup_id)


def dedup_id_from_header(value: str) -> str:
    return unquote(value)
