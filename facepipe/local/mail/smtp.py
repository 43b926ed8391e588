"""Sending the face email by SMTP, when ``FACEPIPE_SMTP_URL`` or ``FACEPIPE_SMTP_HOST`` says so.

``smtp://user:pass@host:587?starttls=1`` (STARTTLS), ``smtps://user:pass@host:465`` (TLS from
the start), or ``smtp://host:25`` (plain, e.g. a local relay). A login without TLS is refused
unless the server is on this machine: it would send the password in clear text. Equivalent
separate variables: ``FACEPIPE_SMTP_HOST``, ``_PORT``, ``_STARTTLS``, ``_SSL``, ``_USER``,
``_PASSWORD``; ``FACEPIPE_SMTP_CA_FILE`` trusts a private CA.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from facepipe.local.faults import NO_FAULTS, FaultPlan
from facepipe.local.mail.message import TO_ENV_VAR, Addresses, Delivery, email_message, message_id
from lambdas.domain.errors import ConfigurationError, ServiceUnavailableError, StepError
from lambdas.domain.model import Email

URL_ENV_VAR = "FACEPIPE_SMTP_URL"
Security = Literal["none", "starttls", "ssl"]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DEFAULT_PORTS: dict[Security, int] = {"none": 25, "starttls": 587, "ssl": 465}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: Security = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.username and self.security == "none" and not _is_loopback(self.host):
            raise ConfigurationError(
                f"SMTP login to {self.host} without TLS would send the password in clear "
                "text: use smtps:// (port 465) or ?starttls=1 (FACEPIPE_SMTP_SSL or "
                "FACEPIPE_SMTP_STARTTLS), or a relay without login"
            )

    def __repr__(self) -> str:  # never show the password in logs or tracebacks
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r})"
        )

    @classmethod
    def from_url(cls, url: str, ca_file: str | None = None) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                f"{URL_ENV_VAR} must look like smtp://user:pass@host:587?starttls=1 "
                "or smtps://user:pass@host:465"
            )
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        starttls = _flag(query.get("starttls", ""), f"{URL_ENV_VAR} starttls")
        security: Security = "ssl" if parts.scheme == "smtps" else "none"
        if starttls:
            if security == "ssl":
                raise ConfigurationError(
                    f"{URL_ENV_VAR}: smtps:// and starttls=1 exclude each other"
                )
            security = "starttls"
        try:
            port = parts.port or _DEFAULT_PORTS[security]
        except ValueError:
            raise ConfigurationError(f"{URL_ENV_VAR} has a port that is not a number") from None
        return cls(
            host=parts.hostname,
            port=port,
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=_number(query.get("timeout", "10"), f"{URL_ENV_VAR} timeout"),
            ca_file=ca_file,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
        """The settings in the environment (URL first), or None when SMTP is not configured."""
        env = os.environ if environ is None else environ
        ca_file = env.get("FACEPIPE_SMTP_CA_FILE") or None
        if env.get(URL_ENV_VAR):
            return cls.from_url(env[URL_ENV_VAR], ca_file)
        host = env.get("FACEPIPE_SMTP_HOST")
        if not host:
            return None
        starttls = _flag(env.get("FACEPIPE_SMTP_STARTTLS", ""), "FACEPIPE_SMTP_STARTTLS")
        use_ssl = _flag(env.get("FACEPIPE_SMTP_SSL", ""), "FACEPIPE_SMTP_SSL")
        if starttls and use_ssl:
            raise ConfigurationError(
                "FACEPIPE_SMTP_STARTTLS and FACEPIPE_SMTP_SSL exclude each other"
            )
        security: Security = "ssl" if use_ssl else "starttls" if starttls else "none"
        port_text = env.get("FACEPIPE_SMTP_PORT") or str(_DEFAULT_PORTS[security])
        return cls(
            host=host,
            port=int(_number(port_text, "FACEPIPE_SMTP_PORT")),
            security=security,
            username=env.get("FACEPIPE_SMTP_USER") or None,
            password=env.get("FACEPIPE_SMTP_PASSWORD") or None,
            ca_file=ca_file,
        )


def _is_loopback(host: str) -> bool:
    """This machine only (a local relay): a clear-text login does not leave it."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _flag(text: str, where: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{where} must be 1 or 0 (or true/false), got {text!r}")


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"{where} must be a number, got {text!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{where} must be positive, got {text!r}")
    return value


class MailServerUnreachable(StepError):
    """The SMTP server could not be reached (refused, no route, timed out): not retried by
    the state machine; the email is kept (``facepipe outbox --retry``)."""


UNREACHABLE_PAUSE_SECONDS = 60.0
"""After the server could not be reached, how long sends fail at once without connecting:
a batch sent to a server that is down costs one connection attempt, not one per image."""


class SmtpNotifier:
    """The Notifier port over SMTP; one message per ``Email.dedup_id``.

    A marker file per sent email (written after the server accepted it) makes a second
    ``send`` of the same email a no-op; concurrent sends are kept apart upstream by the
    record store's notification claim.

    Only a temporary refusal (a 4xx reply, a connection dropped mid-way) is retryable
    (ServiceUnavailableError). A permanent one (a 5xx reply, a refused login, a server
    without STARTTLS, a TLS handshake or certificate that fails) is a ConfigurationError;
    a server that cannot be reached is MailServerUnreachable, and for
    ``UNREACHABLE_PAUSE_SECONDS`` later sends fail the same way without connecting.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        addresses: Addresses,
        sent_markers: Path,
        *,
        faults: FaultPlan = NO_FAULTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.addresses = addresses
        self._sent_markers = sent_markers
        self._faults = faults
        self._clock = clock
        self._unreachable: tuple[float, str] | None = None  # (since, why)
        self._lock = threading.Lock()
        self._connecting = threading.Lock()

    @property
    def delivery(self) -> Delivery:
        s = self.settings
        return Delivery(
            sender=self.addresses.sender,
            recipients=self.addresses.recipients,
            transport="smtp",
            server=f"{s.host}:{s.port}",
            security=s.security,
            username=s.username,
        )

    @property
    def where(self) -> str:
        return f"SMTP server {self.settings.host}:{self.settings.port}"

    def send(self, email: Email) -> str:
        marker = self._sent_markers / hashlib.sha256(email.dedup_id.encode("utf-8")).hexdigest()
        if marker.exists():
            return message_id(email)
        self._faults.check("smtp")
        message = email_message(email, self.addresses)
        self._deliver(message)
        self._remember_sent(marker, str(message["Message-ID"]))
        return str(message["Message-ID"])

    def _refuse_while_unreachable(self) -> None:
        with self._lock:
            if self._unreachable is None:
                return
            since, why = self._unreachable
            waited = self._clock() - since
            if waited >= UNREACHABLE_PAUSE_SECONDS:
                self._unreachable = None  # try once more
                return
        raise MailServerUnreachable(
            f"{self.where} could not be reached {waited:.0f} s ago ({why}); not tried "
            f"again for {UNREACHABLE_PAUSE_SECONDS - waited:.0f} s"
        )

    def _now_unreachable(self, why: str) -> MailServerUnreachable:
        with self._lock:
            self._unreachable = (self._clock(), why)
        return MailServerUnreachable(f"could not connect to {self.where}: {why}")

    def _remember_sent(self, marker: Path, sent_id: str) -> None:
        """Write the marker atomically: a half-written one must not pass for a sent email."""
        self._sent_markers.mkdir(parents=True, exist_ok=True)
        temp = marker.with_name(f"{marker.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temp.write_text(sent_id + "\n", encoding="ascii")
        os.replace(temp, marker)

    def _deliver(self, message: EmailMessage) -> None:
        s = self.settings
        # One connection attempt at a time: when the server is down, the workers waiting
        # here learn it from the first attempt instead of each making their own.
        with self._connecting:
            self._refuse_while_unreachable()
            try:
                client = self._connect()
            except smtplib.SMTPServerDisconnected as exc:
                # Closed or silent before it said hello: as good as down.
                raise self._now_unreachable(f"no greeting: {exc}") from None
            except (smtplib.SMTPException, ssl.SSLError) as exc:
                raise _refusal(exc, self.where) from None
            except OSError as exc:  # refused, no route, no such host, timed out
                raise self._now_unreachable(
                    exc.strerror or str(exc) or type(exc).__name__
                ) from None
        try:
            with client:
                if s.username:
                    client.login(s.username, s.password or "")
                client.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigurationError(
                f"{self.where} refused the login of {s.username!r}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, ssl.SSLError) as exc:
            raise _refusal(exc, self.where) from None
        except OSError as exc:  # the connection broke mid-way: worth another try
            raise ServiceUnavailableError(
                f"the connection to {self.where} broke: {exc.strerror or exc}"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file)
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            try:
                client.starttls(context=context)
            except BaseException:
                client.close()
                raise
        return client


def _refusal(error: Exception, where: str) -> StepError:
    """A server's refusal: retryable when it says to try later (4xx), else permanent."""
    if isinstance(error, ssl.SSLError):
        return ConfigurationError(
            f"TLS with {where} failed: {error.reason or error} (check smtps:// or "
            "?starttls=1 and FACEPIPE_SMTP_CA_FILE)"
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return ConfigurationError(f"{where} does not support it: {error}")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        refused = ", ".join(
            f"{rcpt} ({code} {_text(text)})" for rcpt, (code, text) in error.recipients.items()
        )
        if codes and all(400 <= code < 500 for code in codes):
            return ServiceUnavailableError(f"{where} refused for now: {refused}")
        return ConfigurationError(f"{where} refused the recipient(s) {refused} ({TO_ENV_VAR})")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return ServiceUnavailableError(f"{where} closed the connection: {error}")
    code = getattr(error, "smtp_code", None)
    text = _text(getattr(error, "smtp_error", str(error)))
    if isinstance(code, int) and 400 <= code < 500:
        return ServiceUnavailableError(f"{where} said to try later: {code} {text}")
    if isinstance(code, int) and code >= 500:
        return ConfigurationError(f"{where} refused the email: {code} {text}")
    return ServiceUnavailableError(f"could not send the email through {where}: {error}")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
