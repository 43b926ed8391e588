"""The console over HTTP on loopback: upload checks, path traversal, escaping, headers."""

from __future__ import annotations

import argparse
import http.client
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from facepipe.cli.console import add_console_commands
from facepipe.console.app import create_app
from facepipe.console.local_source import LocalConsoleSource
from facepipe.console.server import BackgroundServer
from facepipe.local.home import DataHome
from facepipe.local.runtime import LocalPipeline, PipelineOptions

LIMIT = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class Console:
    def __init__(self, url: str, pipeline: LocalPipeline) -> None:
        self.host, self.port = urlsplit(url).hostname or "", urlsplit(url).port or 0
        self.pipeline = pipeline

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            connection.close()

    def stored_keys(self) -> list[str]:
        from lambdas.domain.errors import InvalidS3ObjectException

        try:
            found = self.pipeline.objects.list_objects(self.pipeline.options.bucket)
        except InvalidS3ObjectException:  # no upload has created the bucket yet
            return []
        return [stored.key for stored in found]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = DataHome(tmp_path_factory.mktemp("console-http"))
    # haar: the lightest detector; these tests are about the web layer, not detection.
    options = PipelineOptions(workers=1, detector="haar")
    with (
        LocalPipeline(home, options, environ={}) as pipeline,
        BackgroundServer(create_app(LocalConsoleSource(pipeline), max_upload_bytes=LIMIT)) as s,
    ):
        yield Console(s.url, pipeline)


def _error(body: bytes) -> str:
    return str(json.loads(body)["error"])


def test_it_listens_on_loopback_by_default(console: Console) -> None:
    assert console.host == "127.0.0.1"
    commands: Any = argparse.ArgumentParser().add_subparsers()
    add_console_commands(commands)
    args = commands.choices["console"].parse_args([])
    assert args.host == "127.0.0.1" and args.port == 8765 and not args.aws


def test_an_oversized_upload_is_refused_from_its_content_length_alone(console: Console) -> None:
    connection = http.client.HTTPConnection(console.host, console.port, timeout=10)
    connection.putrequest("POST", "/api/uploads")
    connection.putheader("Content-Length", str(10 * 1024 * 1024 * 1024))  # 10 GiB, never sent
    connection.putheader("X-Filename", "big.jpg")
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413
    assert "the image is 10240.0 MiB; the limit is 64.0 KiB" in _error(answer.read())
    connection.close()
    assert console.stored_keys() == []


def test_a_body_longer_than_the_limit_without_content_length_is_cut_off(console: Console) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"\xff\xd8\xff\xe0"
        for _ in range(20):
            yield bytes(8 * 1024)

    connection = http.client.HTTPConnection(console.host, console.port, timeout=10)
    connection.request(
        "POST", "/api/uploads", chunks(), {"X-Filename": "a.jpg"}, encode_chunked=True
    )
    answer = connection.getresponse()
    assert answer.status == 413 and "larger than the limit of 64.0 KiB" in _error(answer.read())
    connection.close()
    assert console.stored_keys() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"GIF89a" + bytes(20), "is not a JPEG or PNG image"),
        (b"<html><script>alert(1)</script></html>", "is not a JPEG or PNG image"),
        (b"", "is empty"),
    ],
)
def test_content_is_checked_by_its_first_bytes_not_its_name(
    console: Console, content: bytes, message: str
) -> None:
    status, _, body = console.request("POST", "/api/uploads", content, {"X-Filename": "photo.jpg"})
    assert status in (400, 415) and message in _error(body)
    assert console.stored_keys() == []


def test_a_png_keeps_its_name_under_the_upload_prefix_without_folders(console: Console) -> None:
    name = quote("../../etc/<b>holiday</b> ü.png")
    status, _, body = console.request("POST", "/api/uploads", PNG, {"X-Filename": name})
    assert status == 201
    key = json.loads(body)["key"]
    assert key == "uploads/b> ü.png"  # the name after its last "/", nothing of the folders
    assert key in console.stored_keys()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/..%2f..%2f..%2fpyproject.toml",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
    ],
)
def test_no_file_outside_the_static_folder_is_served(console: Console, path: str) -> None:
    status, _, body = console.request("GET", path)
    assert status == 404, (path, body[:80])
    assert b"[project]" not in body and b"root:" not in body


@pytest.mark.parametrize(
    "arn", ["../../records.sqlite3", "/etc/passwd", "arn:aws:states:x:1:execution:m:none"]
)
def test_images_are_served_only_for_known_executions(console: Console, arn: str) -> None:
    status, _, body = console.request("GET", "/api/image?arn=" + quote(arn))
    assert status == 404 and _error(body) == "no image for this execution"


def test_pages_forbid_inline_and_foreign_scripts(console: Console) -> None:
    status, headers, body = console.request("GET", "/")
    assert status == 200 and b'<script src="/static/console.js"' in body
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"


def test_every_asset_comes_from_the_package(console: Console) -> None:
    for page in ("/", "/execution"):
        _, _, html = console.request("GET", page)
        assert b"http://" not in html and b"https://" not in html
    static = Path(__file__).resolve().parents[3] / "facepipe" / "console" / "static"
    for asset in static.iterdir():
        status, _, body = console.request("GET", f"/static/{asset.name}")
        assert status == 200 and body == asset.read_bytes()
        assert b"https://" not in body and b"http://" not in body


def test_an_unknown_status_filter_says_which_are_known(console: Console) -> None:
    status, _, body = console.request("GET", "/api/executions?status=<b>DONE")
    assert status == 400
    assert _error(body).startswith("unknown status '<b>DONE'; use one of RUNNING, SUCCEEDED")


def test_an_image_over_what_the_pipeline_takes_is_not_served(console: Console) -> None:
    big = b"\xff\xd8\xff\xe0" + bytes(15 * 1024 * 1024)  # over Rekognition's 15 MB
    upload = console.pipeline.upload(big, "uploads/huge.jpg")
    assert upload.execution is not None
    outcome = upload.execution.result(timeout=60)
    assert outcome.error == "ImageTooLargeException"

    status, _, body = console.request("GET", "/api/image?arn=" + quote(outcome.execution_arn))

    assert status == 404 and _error(body) == "no image for this execution"


def test_the_same_image_uploaded_again_is_not_run_again(console: Console, tmp_path: Path) -> None:
    """The console's upload goes through the intake, as `facepipe run` does."""
    from PIL import Image

    from facepipe.samples import NO_FACES, sample_images

    [photo] = [p for p in sample_images(tmp_path) if p.name == NO_FACES]
    small = io.BytesIO()
    Image.open(photo).resize((160, 120)).save(small, "JPEG")  # under this console's limit
    data, headers = small.getvalue(), {"X-Filename": quote("twice\n.jpg")}
    status, _, body = console.request("POST", "/api/uploads", data, headers)
    assert status == 201
    first = json.loads(body)
    assert first["key"] == "uploads/twice_.jpg"  # a newline becomes "_", as in the CLI
    # The upload answers once the event is queued; its execution starts on a worker a
    # moment later, so wait (bounded) for it to be recorded and then to finish.
    deadline = time.monotonic() + 30
    while not (executions := console.pipeline.executions.for_image(first["key"])) or any(
        e.status == "RUNNING" for e in executions
    ):
        assert time.monotonic() < deadline, "the upload's execution never finished"
        time.sleep(0.05)
    [execution] = executions
    assert execution.status == "SUCCEEDED"

    status, _, body = console.request("POST", "/api/uploads", data, headers)

    assert status == 200
    again = json.loads(body)
    assert again["skipped"].startswith(f"already run: this file is version {first['versionId']}")
    assert again["versionId"] is None
    versions = console.pipeline.objects.list_versions(console.pipeline.options.bucket, first["key"])
    assert len(versions) == 1
