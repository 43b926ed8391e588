"""Issue 10's findings 3 and 9 through the real ``facepipe`` process, with a real SMTP server
(aiosmtpd) on loopback: a kept email goes only the way it was meant; permanent refusals fail
at once; a server that is down costs one connection; Ctrl-C is quick, twice is now.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cli_harness import (
    FAST_DETECTOR,
    clean_env,
    executions_of,
    facepipe_process,
    outbox_files,
    started,
)
from histories import task_attempts

from facepipe.local.executions import ExecutionStore
from facepipe.samples import GROUP, PORTRAIT


class MailServer:
    """What an SMTP server on loopback was sent; ``answer`` decides its reply to DATA."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.data_seen = threading.Event()
        self.answer = "250 accepted"
        self.stall_seconds = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_seen.set()
        if self.stall_seconds:  # a stalled email never goes through
            await asyncio.sleep(self.stall_seconds)
            return "451 4.4.2 too slow"
        if self.answer.startswith("250"):
            self.envelopes.append(envelope)
        return self.answer


@pytest.fixture
def mail_server() -> Iterator[tuple[MailServer, int]]:
    handler = MailServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def free_port() -> int:
    """A port nothing listens on now (aiosmtpd checks its server by connecting to it, so
    port 0 will not do)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def face_photos(samples: dict[str, Path], folder: Path, count: int) -> Path:
    folder.mkdir()
    for index in range(count):
        shutil.copy(samples[GROUP if index % 2 else PORTRAIT], folder / f"face{index}.jpg")
    return folder


def outbox_json(home: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    return list(json.loads(facepipe_process(home, "outbox", "--json", env=env).stdout))


# --- 3. a kept email is sent the way it was meant, or not at all ---------------------------
def test_a_kept_email_goes_only_to_its_recipient_through_its_server(
    samples: dict[str, Path], tmp_path: Path
):
    home = tmp_path / "home"
    port = free_port()
    url = f"smtp://127.0.0.1:{port}"  # nothing listens there yet: the server is down
    meant = clean_env(tmp_path, FACEPIPE_SMTP_URL=url, FACEPIPE_EMAIL_TO="me@example.test")

    run = facepipe_process(home, "run", str(samples[PORTRAIT]), *FAST_DETECTOR, env=meant)
    plain_shell = facepipe_process(home, "outbox", "--retry", env=clean_env(tmp_path))

    assert run.returncode == 1 and "1 email(s) could not be sent and are kept" in run.stderr
    assert plain_shell.returncode == 1
    assert f"not sent: it was meant for SMTP server 127.0.0.1:{port} (no TLS)" in plain_shell.stdout
    assert "set FACEPIPE_SMTP_URL to that server" in plain_shell.stdout
    assert outbox_files(home) == []  # not into the local Maildir instead
    [kept] = outbox_json(home, clean_env(tmp_path))
    assert (kept["status"], kept["to"]) == ("UNSENT", ["me@example.test"])

    handler = MailServer()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # The server is back; the shell names it, with another FACEPIPE_EMAIL_TO.
        resent = facepipe_process(
            home, "outbox", "--retry", env=clean_env(tmp_path, FACEPIPE_SMTP_URL=url)
        )
    finally:
        controller.stop()

    assert resent.returncode == 0, resent.stdout + resent.stderr
    assert "sent to me@example.test" in resent.stdout
    assert [envelope.rcpt_tos for envelope in handler.envelopes] == [["me@example.test"]]
    records = json.loads(facepipe_process(home, "records", "--json", env=meant).stdout)
    assert records[0]["notified_at"]
    assert outbox_json(home, meant) == []  # nothing kept, nothing in the Maildir


# --- 9. permanent refusals at once, one connection to a server that is down ----------------
def test_a_server_without_starttls_fails_each_email_at_once_and_keeps_it(
    samples: dict[str, Path], tmp_path: Path, mail_server: tuple[MailServer, int]
):
    _, port = mail_server  # offers no STARTTLS
    home = tmp_path / "home"
    env = clean_env(tmp_path, FACEPIPE_SMTP_URL=f"smtp://127.0.0.1:{port}?starttls=1")

    done = facepipe_process(
        home, "run", str(face_photos(samples, tmp_path / "in", 2)), *FAST_DETECTOR, "--json",
        env=env,
    )  # fmt: skip

    assert done.returncode == 1
    results = json.loads(done.stdout)
    assert {(r["status"], r["error"]) for r in results} == {("FAILED", "ConfigurationError")}
    assert all("STARTTLS extension not supported" in r["cause"] for r in results)
    for execution in executions_of(home):
        store = ExecutionStore(home / "executions.sqlite3")
        assert task_attempts(store.history(execution.execution_arn), "Notify") == 1
        store.close()
    assert len(outbox_json(home, env)) == 2  # both kept


def test_a_server_that_does_not_answer_costs_one_connection_for_the_batch(
    samples: dict[str, Path], tmp_path: Path
):
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])  # and never say hello
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    home = tmp_path / "home"
    env = clean_env(
        tmp_path, FACEPIPE_SMTP_URL=f"smtp://127.0.0.1:{listener.getsockname()[1]}?timeout=1"
    )
    try:
        done = facepipe_process(
            home, "run", str(face_photos(samples, tmp_path / "in", 4)), *FAST_DETECTOR,
            "--json", env=env,
        )  # fmt: skip
    finally:
        listener.close()
        for connection in accepted:
            connection.close()

    assert done.returncode == 1
    results = json.loads(done.stdout)
    assert {(r["status"], r["error"]) for r in results} == {("FAILED", "MailServerUnreachable")}
    assert len(accepted) == 1
    assert len(outbox_json(home, env)) == 4
    assert "4 email(s) could not be sent and are kept" in done.stderr


# --- 9. Ctrl-C: said at once, waits handed to resume; twice: now ---------------------------
def ctrl_c_once_emailing(
    home: Path, photo: Path, server: MailServer, env: dict[str, str], *, times: int, timeout: float
) -> tuple[subprocess.Popen[str], str]:
    """`facepipe run PHOTO`, sent Ctrl-C ``times`` (half a second apart) once the server has
    been sent the email; the process and its stderr, once it ended within ``timeout``."""
    runner = started(home, "run", str(photo), *FAST_DETECTOR, env=env)
    try:
        assert server.data_seen.wait(120), "the email was never tried"
        for press in range(times):
            time.sleep(0.5 * press)
            runner.send_signal(signal.SIGINT)
        _, err = runner.communicate(timeout=timeout)
    finally:
        if runner.poll() is None:
            runner.kill()
    return runner, err


def test_ctrl_c_while_an_email_waits_to_be_retried_hands_it_to_resume(
    samples: dict[str, Path], tmp_path: Path, mail_server: tuple[MailServer, int]
):
    server, port = mail_server
    server.answer = "451 4.3.0 try again later"  # temporary: Notify retries, 2 s and up
    home = tmp_path / "home"
    env = clean_env(tmp_path, FACEPIPE_SMTP_URL=f"smtp://127.0.0.1:{port}")
    # Within a minute: not the minutes the retries would take.
    runner, err = ctrl_c_once_emailing(home, samples[PORTRAIT], server, env, times=1, timeout=60)

    assert runner.returncode == 130, err
    assert "facepipe: stopping:" in err and "Ctrl-C again stops now" in err
    assert "interrupted: 0 execution(s) finished; 1 left to `facepipe resume`" in err
    [execution] = executions_of(home)
    assert execution.status == "ABORTED" and "Ctrl-C" in (execution.cause or "")

    server.answer = "250 accepted"
    resumed = facepipe_process(home, "resume", *FAST_DETECTOR, env=env)

    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("resumed 1 executions")
    assert len(server.envelopes) == 1
    assert sorted(e.status for e in executions_of(home)) == ["ABORTED", "SUCCEEDED"]


def test_a_second_ctrl_c_stops_now_and_resume_finishes(
    samples: dict[str, Path], tmp_path: Path, mail_server: tuple[MailServer, int]
):
    server, port = mail_server
    server.stall_seconds = 30  # the Notify step is inside the SMTP conversation
    home = tmp_path / "home"
    env = clean_env(tmp_path, FACEPIPE_SMTP_URL=f"smtp://127.0.0.1:{port}?timeout=60")
    # Within 20 s: not the 30 s the server stalls.
    runner, err = ctrl_c_once_emailing(home, samples[PORTRAIT], server, env, times=2, timeout=20)

    assert runner.returncode == 130
    assert "facepipe: stopping:" in err and "facepipe: stopped now;" in err
    assert "Traceback" not in err

    server.stall_seconds, server.envelopes = 0, []
    resumed = facepipe_process(home, "resume", *FAST_DETECTOR, env=env)

    assert resumed.returncode == 0, resumed.stderr
    assert "1 interrupted mid-run, now ABORTED" in resumed.stdout
    assert len(server.envelopes) == 1
