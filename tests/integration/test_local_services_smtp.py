"""The SMTP notifier against a real SMTP server (aiosmtpd) on 127.0.0.1: plain, AUTH,
STARTTLS and TLS, a server that is down, and a refused login."""

from __future__ import annotations

import datetime
import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from facepipe.local.faults import FaultPlan
from facepipe.local.mail.message import DEDUP_HEADER, Addresses
from facepipe.local.mail.smtp import (
    UNREACHABLE_PAUSE_SECONDS,
    MailServerUnreachable,
    SmtpNotifier,
    SmtpSettings,
)
from lambdas.domain.errors import ConfigurationError, ServiceUnavailableError
from lambdas.domain.model import Email

EMAIL = Email(
    subject="2 faces found in uploads/été.jpg",
    body="2 faces found in uploads/été.jpg\n\nFaces:\n  1. 99.5% sure\n",
    dedup_id="faces-local/uploads/été.jpg#v1",
)
ADDRESSES = Addresses(sender="facepipe@example.com", recipients=("ops@example.com",))


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, trusted by the client through ca_file."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"fp", b"s3cret!")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int, dict[str, Any]]]:
    """Starts servers on demand: call start(**controller_options)."""
    inbox = Inbox()
    controllers: list[Controller] = []
    port = _free_port()
    options: dict[str, Any] = {}

    def start(**kwargs: Any) -> None:
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)

    options["start"] = start
    yield inbox, port, options
    for controller in controllers:
        controller.stop()


def _notifier(tmp_path: Path, **settings: Any) -> SmtpNotifier:
    return SmtpNotifier(SmtpSettings(**settings), ADDRESSES, tmp_path / "smtp-sent")


def test_plain_smtp_delivers_the_email_with_its_headers_and_body(smtp_server, tmp_path: Path):
    inbox, port, server = smtp_server
    server["start"]()

    message_id = _notifier(tmp_path, host="127.0.0.1", port=port).send(EMAIL)

    (received,) = inbox.messages
    assert received["Subject"] == EMAIL.subject
    assert received["From"] == "facepipe@example.com"
    assert received["To"] == "ops@example.com"
    assert received["Message-ID"] == message_id
    assert received[DEDUP_HEADER] == EMAIL.dedup_id
    assert received["Date"]
    assert received.get_content().replace("\r\n", "\n") == EMAIL.body  # CRLF on the wire
    assert inbox.envelopes[0].rcpt_tos == ["ops@example.com"]


def test_sending_the_same_email_twice_delivers_it_once(smtp_server, tmp_path: Path):
    inbox, port, server = smtp_server
    server["start"]()
    notifier = _notifier(tmp_path, host="127.0.0.1", port=port)

    first = notifier.send(EMAIL)
    second = notifier.send(EMAIL)
    notifier.send(Email(subject="other", body="b", dedup_id="faces-local/b.jpg#v1"))

    assert first == second
    assert [m["Subject"] for m in inbox.messages] == [EMAIL.subject, "other"]
    markers = sorted(p.name for p in (tmp_path / "smtp-sent").iterdir())
    assert len(markers) == 2 and not any(name.endswith(".tmp") for name in markers)


def _start_auth_over_starttls(server: dict[str, Any], certificate: Certificate) -> None:
    server["start"](
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=_check_login,
        auth_required=True,
    )


def test_starttls_login_then_send_as_configured_by_url(
    smtp_server, tmp_path: Path, certificate: Certificate
):
    inbox, port, server = smtp_server
    _start_auth_over_starttls(server, certificate)
    settings = SmtpSettings.from_url(
        f"smtp://fp:s3cret%21@127.0.0.1:{port}?starttls=1", ca_file=str(certificate.cert)
    )

    SmtpNotifier(settings, ADDRESSES, tmp_path / "smtp-sent").send(EMAIL)

    assert len(inbox.messages) == 1


def test_a_refused_login_is_a_configuration_error_naming_the_user(
    smtp_server, tmp_path: Path, certificate: Certificate
):
    inbox, port, server = smtp_server
    _start_auth_over_starttls(server, certificate)
    notifier = _notifier(
        tmp_path,
        host="127.0.0.1",
        port=port,
        security="starttls",
        ca_file=str(certificate.cert),
        username="fp",
        password="wrong",
    )

    with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port} refused the login of 'fp'"):
        notifier.send(EMAIL)
    assert inbox.messages == []


def test_starttls_with_a_private_ca(smtp_server, tmp_path: Path, certificate: Certificate):
    inbox, port, server = smtp_server
    server["start"](tls_context=certificate.server_context(), require_starttls=True)
    notifier = _notifier(
        tmp_path, host="127.0.0.1", port=port, security="starttls", ca_file=str(certificate.cert)
    )

    notifier.send(EMAIL)

    assert len(inbox.messages) == 1


def test_starttls_refuses_a_certificate_it_cannot_verify(
    smtp_server, tmp_path: Path, certificate: Certificate
):
    inbox, port, server = smtp_server
    server["start"](tls_context=certificate.server_context(), require_starttls=True)
    notifier = _notifier(tmp_path, host="127.0.0.1", port=port, security="starttls")

    # Permanent: no retry would make the certificate trusted.
    with pytest.raises(ConfigurationError, match="CERTIFICATE_VERIFY_FAILED"):
        notifier.send(EMAIL)
    assert inbox.messages == []


def test_smtps_from_the_first_byte(smtp_server, tmp_path: Path, certificate: Certificate):
    inbox, port, server = smtp_server
    server["start"](ssl_context=certificate.server_context())
    notifier = _notifier(
        tmp_path, host="127.0.0.1", port=port, security="ssl", ca_file=str(certificate.cert)
    )

    notifier.send(EMAIL)

    assert len(inbox.messages) == 1


def test_a_server_that_is_down_is_not_tried_again_for_a_while_then_is(smtp_server, tmp_path: Path):
    inbox, port, server = smtp_server
    now = [0.0]
    notifier = SmtpNotifier(
        SmtpSettings(host="127.0.0.1", port=port, timeout=5),
        ADDRESSES,
        tmp_path / "smtp-sent",
        clock=lambda: now[0],
    )

    with pytest.raises(MailServerUnreachable, match=f"connect to SMTP server 127.0.0.1:{port}"):
        notifier.send(EMAIL)
    server["start"]()  # back, but within the pause nothing connects
    with pytest.raises(MailServerUnreachable, match="not tried again for 60 s"):
        notifier.send(EMAIL)
    assert inbox.messages == []

    now[0] = UNREACHABLE_PAUSE_SECONDS
    notifier.send(EMAIL)
    assert len(inbox.messages) == 1


def test_a_server_that_never_answers_costs_one_connection_for_many_sends(tmp_path: Path):
    """Ten sends from four threads to a server that accepts and never greets: one attempt."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    notifier = _notifier(tmp_path, host="127.0.0.1", port=listener.getsockname()[1], timeout=0.5)
    emails = [Email(subject=f"s{n}", body="b", dedup_id=f"b/k{n}#v") for n in range(10)]

    def send(email: Email) -> str:
        try:
            notifier.send(email)
        except MailServerUnreachable as error:
            return str(error)
        return "sent"

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, emails))
    listener.close()

    assert len(accepted) == 1
    assert all("SMTP server 127.0.0.1" in answer for answer in answers)
    for connection in accepted:
        connection.close()


class Refusing(Inbox):
    """A server that refuses at RCPT (with ``code``), or answers DATA with ``data_code``."""

    def __init__(self, rcpt_code: int | None = None, data_code: int | None = None) -> None:
        super().__init__()
        self.rcpt_code, self.data_code = rcpt_code, data_code

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_code:
            return f"{self.rcpt_code} 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_code:
            return f"{self.data_code} try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize(
    ("handler", "error", "message"),
    [
        (Refusing(rcpt_code=550), ConfigurationError, "refused the recipient(s) ops@example.com"),
        (Refusing(rcpt_code=450), ServiceUnavailableError, "refused for now"),
        (Refusing(data_code=451), ServiceUnavailableError, "said to try later: 451"),
        (Refusing(data_code=554), ConfigurationError, "refused the email: 554"),
    ],
)
def test_permanent_refusals_are_configuration_errors_and_temporary_ones_retryable(
    tmp_path: Path, handler: Refusing, error: type[Exception], message: str
):
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        notifier = _notifier(tmp_path, host="127.0.0.1", port=controller.port)
        with pytest.raises(error, match=re.escape(message)):
            notifier.send(EMAIL)
    finally:
        controller.stop()


@pytest.mark.parametrize(
    ("security", "message"),
    [("starttls", "STARTTLS extension not supported"), ("ssl", "TLS with SMTP server")],
)
def test_tls_asked_of_a_plain_server_is_a_permanent_error(
    smtp_server, tmp_path: Path, security: str, message: str
):
    _, port, server = smtp_server
    server["start"]()  # no TLS at all: no STARTTLS offered, no TLS handshake
    notifier = _notifier(tmp_path, host="127.0.0.1", port=port, security=security)

    with pytest.raises(ConfigurationError, match=message):
        notifier.send(EMAIL)


def test_an_injected_outage_is_a_temporary_refusal(smtp_server, tmp_path: Path):
    inbox, port, server = smtp_server
    server["start"]()
    now = [0.0]
    notifier = SmtpNotifier(
        SmtpSettings(host="127.0.0.1", port=port),
        ADDRESSES,
        tmp_path / "smtp-sent",
        faults=FaultPlan(smtp_down_for=10, clock=lambda: now[0]),
    )

    with pytest.raises(ServiceUnavailableError, match="injected fault"):
        notifier.send(EMAIL)
    now[0] = 10.0
    notifier.send(EMAIL)
    assert len(inbox.messages) == 1
