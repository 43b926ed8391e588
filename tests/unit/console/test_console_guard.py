"""Foreign pages: DNS rebinding (a foreign Host) and cross-site uploads (a foreign Origin).

Each request goes over real HTTP to the console on loopback, with the headers a browser
would send for the page that made it.
"""

from __future__ import annotations

import argparse
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.datastructures import Headers

from facepipe.cli.console import add_console_commands, run_console
from facepipe.console.app import create_app
from facepipe.console.guard import allowed_hosts, cross_origin_refusal
from facepipe.console.server import BackgroundServer
from facepipe.console.source import ExecutionDetail, ExecutionItem, UploadReceipt

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
ARN = "arn:aws:states:eu-west-1:1:execution:FacePipeline:one"


class FakeSource:
    """A console source that keeps uploads in a list and serves one stored image."""

    title = "fake"
    definition: dict[str, Any] = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}

    def __init__(self) -> None:
        self.uploads: list[str] = []
        self.stored: bytes | None = JPEG

    def list_executions(self, status: str | None = None, limit: int = 100) -> list[ExecutionItem]:
        return [ExecutionItem(ARN, "one", "SUCCEEDED", "uploads/secret.jpg", None, None, None)]

    def execution(self, execution_arn: str) -> ExecutionDetail | None:
        if execution_arn != ARN:
            return None
        return ExecutionDetail(self.list_executions()[0], "bucket")

    def image(self, detail: ExecutionDetail) -> bytes | None:
        return self.stored

    def record(self, detail: ExecutionDetail) -> dict[str, Any] | None:
        return None

    def email(self, detail: ExecutionDetail) -> dict[str, str] | None:
        return None

    def upload(self, filename: str, data: bytes, content_type: str) -> UploadReceipt:
        self.uploads.append(filename)
        return UploadReceipt("bucket", f"uploads/{filename}", None)


class Console:
    def __init__(self, url: str, source: FakeSource) -> None:
        self.port = int(url.rsplit(":", 1)[1])
        self.source = source

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        named.setdefault("Host", f"127.0.0.1:{self.port}")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=named)
            answer = connection.getresponse()
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        finally:
            connection.close()

    def upload(self, **headers: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", "/api/uploads", JPEG, **headers)


@pytest.fixture
def console() -> Iterator[Console]:
    source = FakeSource()
    with BackgroundServer(create_app(source)) as server:
        yield Console(server.url, source)


def _error(body: bytes) -> str:
    return str(json.loads(body)["error"])


# ---- DNS rebinding: a page on attacker.example that resolves to 127.0.0.1 --------------------


@pytest.mark.parametrize("host", ["attacker.example:{port}", "attacker.example", "127.0.0.2"])
def test_a_request_under_a_foreign_host_name_is_refused(console: Console, host: str) -> None:
    status, _, body = console.request("GET", "/api/executions", Host=host.format(port=console.port))
    assert status == 400
    assert b"secret.jpg" not in body and b"executions" not in body
    status, _, body = console.request("GET", f"/api/image?arn={ARN}", Host="attacker.example")
    assert status == 400 and JPEG not in body


def test_the_reported_cross_site_upload_is_refused_and_stores_nothing(console: Console) -> None:
    # The reviewer's request: a simple (no preflight) POST from a page on evil.example.
    status, _, _ = console.upload(
        Content_Type="text/plain", Origin="http://evil.example", Host="evil.example"
    )
    assert status == 400
    status, headers, body = console.upload(Content_Type="text/plain", Origin="http://evil.example")
    assert status == 403 and headers["content-type"] == "application/json"
    assert _error(body).startswith(
        f"this console accepts changes only from its own page (http://127.0.0.1:{console.port});"
        " the browser says this request came from 'http://evil.example'"
    )
    assert console.source.uploads == []


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_the_loopback_names_are_answered(console: Console, host: str) -> None:
    status, _, body = console.request("GET", "/api/executions", Host=host.format(port=console.port))
    assert status == 200 and b"uploads/secret.jpg" in body


# ---- cross-site request forgery ------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",  # a sandboxed frame, a file: page, or a no-referrer form post
        "http://localhost:{port}",  # another origin, though the same machine and port
        "http://127.0.0.1:1",  # another service on this machine
        "https://127.0.0.1:{port}",
    ],
)
def test_an_upload_from_another_origin_is_refused(console: Console, origin: str) -> None:
    status, _, body = console.upload(X_Filename="a.jpg", Origin=origin.format(port=console.port))
    assert status == 403 and "accepts changes only from its own page" in _error(body)
    assert console.source.uploads == []


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_an_upload_without_origin_that_the_browser_marks_cross_site_is_refused(
    console: Console, site: str
) -> None:
    status, _, body = console.upload(X_Filename="a.jpg", Sec_Fetch_Site=site)
    assert status == 403 and f"came from another site ({site})" in _error(body)
    # An Origin that looks like ours does not outvote the browser's own fetch metadata.
    status, _, _ = console.upload(X_Filename="a.jpg", Origin=console.origin, Sec_Fetch_Site=site)
    assert status == 403
    assert console.source.uploads == []


def test_an_upload_with_only_a_foreign_referer_is_refused(console: Console) -> None:
    status, _, body = console.upload(X_Filename="a.jpg", Referer="http://evil.example/page")
    assert status == 403 and "'http://evil.example/page'" in _error(body)
    assert console.source.uploads == []


def test_uploads_from_the_consoles_own_page_are_accepted(console: Console) -> None:
    own = console.origin
    assert console.upload(X_Filename="a.jpg", Origin=own, Sec_Fetch_Site="same-origin")[0] == 201
    assert console.upload(X_Filename="b.jpg", Sec_Fetch_Site="same-origin")[0] == 201
    assert console.upload(X_Filename="c.jpg", Referer=own + "/")[0] == 201
    localhost = f"localhost:{console.port}"  # the page opened as http://localhost:PORT/
    status, _, _ = console.upload(X_Filename="d.jpg", Origin=f"http://{localhost}", Host=localhost)
    assert status == 201
    assert console.upload(X_Filename="e.jpg")[0] == 201  # curl and scripts send no Origin
    assert console.source.uploads == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]


def test_a_foreign_preflight_gets_no_cors_permission(console: Console) -> None:
    # The page's own script sends X-Filename, which makes a foreign page's fetch preflight.
    status, headers, _ = console.request(
        "OPTIONS",
        "/api/uploads",
        Origin="http://evil.example",
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="x-filename",
    )
    assert status >= 400
    assert not [name for name in headers if name.startswith("access-control-")]


def test_reads_carry_no_cors_permission_and_cannot_be_embedded(console: Console) -> None:
    status, headers, _ = console.request(
        "GET", f"/api/image?arn={ARN}", Origin="http://evil.example"
    )
    assert status == 200 and "access-control-allow-origin" not in headers
    assert headers["cross-origin-resource-policy"] == "same-origin"


def test_the_decision_reads_origin_then_fetch_metadata_then_referer() -> None:
    def refusal(**headers: str) -> str | None:
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        return cross_origin_refusal("http", Headers({"host": "localhost:8765", **named}))

    assert refusal(Origin="http://localhost:8765") is None
    assert refusal(Origin="HTTP://LOCALHOST:8765") is None
    assert refusal(Sec_Fetch_Site="same-origin", Referer="http://evil.example/") is None
    assert refusal(Sec_Fetch_Site="none") is None
    assert refusal() is None
    assert refusal(Origin="http://localhost") is not None  # port 80 is another origin
    assert refusal(Origin="http://localhost:notaport") is not None
    assert refusal(Referer="http://localhost:8765.evil.example/") is not None


# ---- which host names ------------------------------------------------------------------------


def test_allowed_hosts_are_loopback_the_chosen_address_and_the_named_ones() -> None:
    assert allowed_hosts() == ["127.0.0.1", "localhost", "[::1]"]
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "[::1]"]
    assert allowed_hosts("192.168.1.20")[-1] == "192.168.1.20"
    assert allowed_hosts("::1") == ["127.0.0.1", "localhost", "[::1]"]
    assert allowed_hosts("fe80::2")[-1] == "[fe80::2]"
    assert allowed_hosts("0.0.0.0") == allowed_hosts("::") == allowed_hosts()
    assert allowed_hosts("0.0.0.0", ["Laptop.lan"])[-1] == "laptop.lan"
    with pytest.raises(ValueError, match="not patterns"):
        allowed_hosts("0.0.0.0", ["*"])


def test_a_chosen_host_name_is_answered() -> None:
    source = FakeSource()
    app = create_app(source, allowed_hosts=allowed_hosts("0.0.0.0", ["laptop.lan"]))
    with BackgroundServer(app) as server:
        console = Console(server.url, source)
        host = f"laptop.lan:{console.port}"
        assert console.request("GET", "/api/executions", Host=host)[0] == 200
        assert console.upload(Origin=f"http://{host}", Host=host)[0] == 201
        assert console.request("GET", "/api/executions", Host="evil.example")[0] == 400


def test_the_cli_takes_extra_host_names_and_refuses_a_wildcard(
    capsys: pytest.CaptureFixture[str],
) -> None:
    commands: Any = argparse.ArgumentParser().add_subparsers()
    add_console_commands(commands)
    parser = commands.choices["console"]
    args = parser.parse_args(["--host", "0.0.0.0", "--allow-host", "a.lan", "--allow-host", "b"])
    assert args.allow_host == ["a.lan", "b"]
    assert parser.parse_args([]).allow_host == []
    assert run_console(parser.parse_args(["--allow-host", "*"])) == 2
    assert "give host names, not patterns" in capsys.readouterr().err


# ---- the image: only JPEG and PNG, whatever the stored content type says ----------------------


@pytest.mark.parametrize(
    ("data", "stored_type"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        (b"<html><script>alert(1)</script></html>", "image/png"),
        (b"GIF89a" + bytes(16), "image/gif"),
        (b"", "image/jpeg"),
    ],
)
def test_an_image_that_is_not_jpeg_or_png_is_not_served(
    console: Console, data: bytes, stored_type: str
) -> None:
    console.source.stored = data  # whatever type the uploader declared (``stored_type``)
    status, headers, body = console.request("GET", f"/api/image?arn={ARN}")
    assert status == 415 and headers["content-type"] == "application/json"
    assert _error(body).startswith("this execution's image is not a JPEG or PNG")
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("data", "served_type"),
    [(JPEG, "image/jpeg"), (b"\x89PNG\r\n\x1a\n" + bytes(16), "image/png")],
)
def test_an_image_is_served_as_what_its_bytes_are(
    console: Console, data: bytes, served_type: str
) -> None:
    console.source.stored = data  # S3 metadata may say image/svg+xml: the bytes decide
    status, headers, body = console.request("GET", f"/api/image?arn={ARN}")
    assert status == 200 and body == data
    assert headers["content-type"] == served_type
    assert headers["x-content-type-options"] == "nosniff"
