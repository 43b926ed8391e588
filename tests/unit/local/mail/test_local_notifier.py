"""The Maildir outbox, the SMTP settings, and which notifier the environment picks."""

from __future__ import annotations

import mailbox
import threading
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from facepipe.local.faults import FaultPlan
from facepipe.local.home import DataHome
from facepipe.local.mail.message import DEDUP_HEADER, Addresses, dedup_id_from_header
from facepipe.local.mail.notifier import MaildirOutbox, notifier_from_env
from facepipe.local.mail.outbox import list_outbox
from facepipe.local.mail.smtp import SmtpNotifier, SmtpSettings
from lambdas.domain.errors import ConfigurationError, ServiceUnavailableError
from lambdas.domain.model import Email

ADDRESSES = Addresses(sender="facepipe@localhost", recipients=("me@localhost",))


def email(n: int = 1) -> Email:
    return Email(
        subject=f"{n} faces found in uploads/photo {n}.jpg",
        body=f"{n} faces found in uploads/photo {n}.jpg\n\nFaces:\n  1. 99.1% sure — ünïcode\n",
        dedup_id=f"faces-local/uploads/photo {n}.jpg#v{n}",
    )


def _files(folder: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur", "tmp") for p in (folder / sub).iterdir())


def test_outbox_writes_a_real_rfc5322_message(tmp_path: Path):
    outbox = MaildirOutbox(tmp_path / "outbox", ADDRESSES)

    message_id = outbox.send(email())

    (path,) = _files(tmp_path / "outbox")
    assert path.parent.name == "new"
    raw = path.read_bytes()
    assert b"\r\n" in raw  # CRLF line ends, as RFC 5322 has them
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Subject"] == email().subject
    assert parsed["From"] == "facepipe@localhost"
    assert parsed["To"] == "me@localhost"
    assert parsed["Message-ID"] == message_id
    assert parsed[DEDUP_HEADER] == email().dedup_id
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().replace("\r\n", "\n") == email().body


def test_any_key_makes_a_valid_message_whose_dedup_header_gives_the_key_back(tmp_path: Path):
    odd = Email(
        subject="1 face found in uploads/a b .jpg",
        body="body",
        dedup_id="faces-local/uploads/a\r\nb\x00%41 é.jpg#v1",
    )
    outbox = MaildirOutbox(tmp_path / "outbox", ADDRESSES)

    outbox.send(odd)

    (path,) = _files(tmp_path / "outbox")
    raw = path.read_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert all(b"\x00" not in line and b"\n" not in line for line in headers)
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert dedup_id_from_header(str(parsed[DEDUP_HEADER])) == odd.dedup_id


def test_the_same_email_is_delivered_once_even_after_a_client_read_it(tmp_path: Path):
    outbox = MaildirOutbox(tmp_path / "outbox", ADDRESSES)
    first = outbox.send(email())
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    (key,) = box.keys()
    message = box[key]
    message.set_subdir("cur")
    message.add_flag("S")  # what a mail client does when it shows the message
    box[key] = message

    assert outbox.send(email()) == first
    assert len(_files(tmp_path / "outbox")) == 1
    outbox.send(email(2))
    assert len(_files(tmp_path / "outbox")) == 2


def test_racing_senders_deliver_one_message_and_leave_no_temp_files(tmp_path: Path):
    outbox = MaildirOutbox(tmp_path / "outbox", ADDRESSES)
    start = threading.Barrier(6)

    def send() -> None:
        start.wait()
        outbox.send(email())

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [p.parent.name for p in _files(tmp_path / "outbox")] == ["new"]


def test_list_outbox_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    outbox = MaildirOutbox(tmp_path / "outbox", ADDRESSES)
    dates = iter(["Tue, 24 Nov 2026 10:00:00 GMT", "Wed, 25 Nov 2026 10:00:00 GMT"])
    monkeypatch.setattr("facepipe.local.mail.message.formatdate", lambda usegmt: next(dates))
    older_id = outbox.send(email(1))
    newer_id = outbox.send(email(2))

    listed = list_outbox(tmp_path / "outbox")

    assert [(m.message_id, m.subject, m.to) for m in listed] == [
        (newer_id, email(2).subject, "me@localhost"),
        (older_id, email(1).subject, "me@localhost"),
    ]
    assert listed[0].date.year == 2026 and listed[0].date.day == 25
    assert list_outbox(tmp_path / "no-outbox-yet") == []


def test_an_injected_outage_raises_the_retryable_error_and_writes_nothing(tmp_path: Path):
    outbox = MaildirOutbox(
        tmp_path / "outbox", ADDRESSES, faults=FaultPlan(smtp_down_for=60, clock=lambda: 0.0)
    )

    with pytest.raises(ServiceUnavailableError, match="SMTP server is down"):
        outbox.send(email())
    assert _files(tmp_path / "outbox") == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://user:p%40ss@mail.example.com:587?starttls=1",
            SmtpSettings("mail.example.com", 587, "starttls", "user", "p@ss"),
        ),
        ("smtps://u:p@mail.example.com", SmtpSettings("mail.example.com", 465, "ssl", "u", "p")),
        ("smtp://localhost", SmtpSettings("localhost", 25)),
        ("smtp://localhost:2525?timeout=3", SmtpSettings("localhost", 2525, timeout=3.0)),
        ("smtp://relay?starttls=true", SmtpSettings("relay", 587, "starttls")),
        # A login without TLS stays on this machine only.
        ("smtp://u:p@127.0.0.1:2525", SmtpSettings("127.0.0.1", 2525, username="u", password="p")),
    ],
)
def test_smtp_urls(url: str, expected: SmtpSettings):
    assert SmtpSettings.from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.com", "must look like smtp://"),
        ("smtp://", "must look like smtp://"),
        ("smtp://host:port", "port that is not a number"),
        ("smtps://host?starttls=1", "exclude each other"),
        ("smtp://host?starttls=maybe", "must be 1 or 0"),
        ("smtp://host?timeout=-1", "must be positive"),
        ("smtp://user:pass@mail.example.com:587", "password in clear text"),
    ],
)
def test_bad_smtp_urls_say_what_is_wrong(url: str, message: str):
    with pytest.raises(ConfigurationError, match=message):
        SmtpSettings.from_url(url)


def test_the_password_never_shows_in_the_settings_repr():
    settings = SmtpSettings.from_url("smtps://user:hunter2@host")
    assert "hunter2" not in repr(settings)


def test_separate_variables_are_the_same_as_a_url():
    env = {
        "FACEPIPE_SMTP_HOST": "mail.example.com",
        "FACEPIPE_SMTP_STARTTLS": "1",
        "FACEPIPE_SMTP_USER": "user",
        "FACEPIPE_SMTP_PASSWORD": "p@ss",
    }
    assert SmtpSettings.from_env(env) == SmtpSettings.from_url(
        "smtp://user:p%40ss@mail.example.com:587?starttls=1"
    )
    assert SmtpSettings.from_env({}) is None
    with pytest.raises(ConfigurationError, match="FACEPIPE_SMTP_PORT must be a number"):
        SmtpSettings.from_env({"FACEPIPE_SMTP_HOST": "h", "FACEPIPE_SMTP_PORT": "smtp"})
    with pytest.raises(ConfigurationError, match="password in clear text"):
        SmtpSettings.from_env({"FACEPIPE_SMTP_HOST": "mail.example.com", "FACEPIPE_SMTP_USER": "u"})


def test_addresses_from_env_with_defaults_and_errors():
    assert Addresses.from_env({"FACEPIPE_EMAIL_TO": "a@x.org, B <b@y.org>"}) == Addresses(
        "facepipe@localhost", ("a@x.org", "b@y.org")
    )
    assert Addresses.from_env({}).recipients[0].endswith("@localhost")
    with pytest.raises(ConfigurationError, match="FACEPIPE_EMAIL_TO='nobody'"):
        Addresses.from_env({"FACEPIPE_EMAIL_TO": "nobody"})
    with pytest.raises(ConfigurationError, match="exactly one address"):
        Addresses.from_env({"FACEPIPE_EMAIL_FROM": "a@x.org, b@x.org"})


def test_the_environment_picks_smtp_or_the_outbox(tmp_path: Path):
    home = DataHome(tmp_path)

    outbox = notifier_from_env(home, {})
    smtp = notifier_from_env(home, {"FACEPIPE_SMTP_URL": "smtp://localhost:2525"})

    assert isinstance(outbox, MaildirOutbox) and outbox.folder == home.outbox
    assert isinstance(smtp, SmtpNotifier) and smtp.settings.port == 2525
