"""The Notifier port offline: SMTP when configured, else a Maildir outbox in the data home.

The outbox holds real RFC 5322 messages; any mail client that reads Maildir can open it,
and ``facepipe.local.mail.outbox`` reads it back for ``facepipe outbox`` and the console.
"""

from __future__ import annotations

import mailbox
import os
import secrets
from collections.abc import Mapping
from email import policy
from pathlib import Path

from facepipe.local.faults import NO_FAULTS, FaultPlan
from facepipe.local.home import DataHome
from facepipe.local.mail.message import Addresses, Delivery, email_message, message_id
from facepipe.local.mail.outbox import maildir_name, message_files
from facepipe.local.mail.smtp import SmtpNotifier, SmtpSettings
from facepipe.local.mail.undelivered import CannotResend, NotifierFor
from lambdas.domain.model import Email
from lambdas.domain.ports import Notifier


class MaildirOutbox:
    """Delivers each email as a file in a Maildir; the same ``dedup_id`` is delivered once."""

    def __init__(
        self, folder: Path, addresses: Addresses, *, faults: FaultPlan = NO_FAULTS
    ) -> None:
        self.folder = folder
        self.addresses = addresses
        self._faults = faults
        # tmp/, new/, cur/ made here: Maildir(create=True) checks and then makes, so two
        # runners starting on a new data home at once could meet FileExistsError.
        for sub in ("tmp", "new", "cur"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(folder, create=False)

    @property
    def delivery(self) -> Delivery:
        return Delivery(self.addresses.sender, self.addresses.recipients, "maildir")

    @property
    def where(self) -> str:
        return f"outbox: {self.folder}"

    def send(self, email: Email) -> str:
        self._faults.check("smtp")
        name = maildir_name(email.dedup_id)
        if self._delivered(name):
            return message_id(email)
        message = email_message(email, self.addresses)
        temp = self.folder / "tmp" / f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            with open(temp, "xb") as out:
                out.write(message.as_bytes(policy=policy.SMTP))  # CRLF, per RFC 5322
                out.flush()
                os.fsync(out.fileno())
            # link() refuses to replace: of two racing senders exactly one delivers.
            os.link(temp, self.folder / "new" / name)
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
        return str(message["Message-ID"])

    def _delivered(self, name: str) -> bool:
        return bool(message_files(self.folder, name))


def check_mail_settings(environ: Mapping[str, str] | None = None) -> None:
    """Raise ConfigurationError for a bad email setting, as ``notifier_from_env`` would."""
    Addresses.from_env(environ)
    SmtpSettings.from_env(environ)


def notifier_from_env(
    home: DataHome,
    environ: Mapping[str, str] | None = None,
    *,
    faults: FaultPlan = NO_FAULTS,
) -> Notifier:
    """SMTP when ``FACEPIPE_SMTP_URL``/``FACEPIPE_SMTP_HOST`` is set, else the Maildir outbox."""
    addresses = Addresses.from_env(environ)
    settings = SmtpSettings.from_env(environ)
    if settings is not None:
        return SmtpNotifier(settings, addresses, home.smtp_sent, faults=faults)
    return MaildirOutbox(home.outbox, addresses, faults=faults)


def notifiers_for_kept_mail(
    home: DataHome, environ: Mapping[str, str] | None = None
) -> NotifierFor:
    """For ``facepipe outbox --retry``: the notifier that sends a kept email the way it was
    meant to go, to its own recipients; CannotResend when the settings now do not allow it
    (SMTP needs ``FACEPIPE_SMTP_URL`` naming the same server, for its password). One
    notifier per server, so a server that is down is tried once, not once per email."""
    cache: dict[Delivery, Notifier] = {}

    def notifier_for(delivery: Delivery | None) -> Notifier:
        if delivery is None:
            raise CannotResend(
                "kept by an older facepipe that did not note its recipient and transport"
            )
        if delivery not in cache:
            cache[delivery] = _notifier_for(home, delivery, environ)
        return cache[delivery]

    return notifier_for


def _notifier_for(
    home: DataHome, delivery: Delivery, environ: Mapping[str, str] | None
) -> Notifier:
    if delivery.transport != "smtp":
        return MaildirOutbox(home.outbox, delivery.addresses)
    settings = SmtpSettings.from_env(environ)
    meant = f"it was meant for {delivery.describe()}"
    if settings is None:
        raise CannotResend(f"{meant}; set FACEPIPE_SMTP_URL to that server to send it")
    now = f"{settings.host}:{settings.port}"
    if now != delivery.server or (settings.username or None) != delivery.username:
        raise CannotResend(
            f"{meant}, but FACEPIPE_SMTP_URL names {now}"
            + (f" (user {settings.username})" if settings.username else "")
            + "; set it to that server to send it"
        )
    return SmtpNotifier(settings, delivery.addresses, home.smtp_sent)
