"""Issue 10's finding 7 through the real ``facepipe`` process: a mistake in the AWS settings
(a profile, an endpoint, a region) or an answer that is not AWS's ends in one line (exit 2),
and ``aws upload --timeout`` is honoured. Nothing leaves the machine: the endpoints are on
loopback, or moto in the process (moto_facepipe.py)."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

FACEPIPE = Path(sys.executable).parent / "facepipe"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_MAX_ATTEMPTS": "1",  # one try: the point is the message, not botocore's retries
}


def aws_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No AWS settings from this machine: empty config and credentials files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FACEPIPE_"))}
    for name in ("config", "credentials"):
        (tmp_path / name).touch()
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        **extra,
    )
    return env


def facepipe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FACEPIPE), *args], env=env, capture_output=True, text=True, timeout=120
    )


def one_line_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("facepipe: error: ") and done.stderr.count("\n") == 1
    assert message in done.stderr


@pytest.fixture
def refused_endpoint() -> Iterator[str]:
    """A loopback port that refuses connections (bound, never listening)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{closed.getsockname()[1]}"


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    """An HTTP server that answers every request with a web page, as a proxy might."""

    class Portal(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b"<html><body>Please sign in to the network</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_profile_that_does_not_exist(tmp_path: Path) -> None:
    done = facepipe("aws", "executions", "--profile", "nosuch", env=aws_env(tmp_path))

    one_line_error(done, "The config profile (nosuch) could not be found: name one from")


def test_a_region_that_is_not_one(tmp_path: Path) -> None:
    env = aws_env(tmp_path, **FAKE_CREDENTIALS)

    done = facepipe("aws", "executions", "--region", "not a region", env=env)

    one_line_error(done, "region_name 'not a region' doesn't match a supported format")


@pytest.mark.parametrize("command", [["aws", "executions"], ["console", "--aws", "--port", "0"]])
def test_an_endpoint_that_cannot_be_reached(
    tmp_path: Path, refused_endpoint: str, command: list[str]
) -> None:
    env = aws_env(tmp_path, AWS_ENDPOINT_URL=refused_endpoint, **FAKE_CREDENTIALS)

    done = facepipe(*command, env=env)

    one_line_error(
        done,
        f'AWS could not be reached: Could not connect to the endpoint URL: "{refused_endpoint}/"',
    )
    assert done.stdout == ""  # no console banner either


def test_an_answer_that_is_not_aws(tmp_path: Path, html_endpoint: str) -> None:
    env = aws_env(tmp_path, AWS_ENDPOINT_URL=html_endpoint, **FAKE_CREDENTIALS)

    done = facepipe("aws", "executions", env=env)

    one_line_error(done, "the answer from the AWS endpoint could not be read (is it really AWS?")


def test_upload_honours_its_timeout_and_says_when_the_bucket_is_not_versioned(
    tmp_path: Path,
) -> None:
    from facepipe.samples import PORTRAIT, sample_images

    [image] = [p for p in sample_images(tmp_path / "samples") if p.name == PORTRAIT]
    env = aws_env(tmp_path, **FAKE_CREDENTIALS)

    done = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "moto_facepipe.py"), "aws", "upload",
         str(image), "--timeout", "2"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert "version none: the bucket is not versioned" in done.stdout
    assert "(None)" not in done.stdout
    one_line_error(done, "no execution started for uploads/portrait.jpg (unversioned) within 2 s")
