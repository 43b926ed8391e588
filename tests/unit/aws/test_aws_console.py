"""`facepipe console --aws`: the same web app over a deployed (moto-held) stack."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest
from aws_histories import with_faces_history
from moto_stack import BUCKET, STACK, DeployedStack

from facepipe.aws.stack import read_stack_outputs
from facepipe.console.app import create_app
from facepipe.console.aws_source import AwsConsoleSource
from facepipe.console.server import BackgroundServer

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def test_the_console_lists_and_draws_the_stacks_executions(deployed_stack: DeployedStack) -> None:
    session = deployed_stack.session
    deployed_stack.next_history = with_faces_history
    session.client("s3").put_object(Bucket=BUCKET, Key="uploads/team <b>.jpg", Body=JPEG)
    deployed_stack.next_history = None  # the second upload's execution is still running
    session.client("s3").put_object(Bucket=BUCKET, Key="uploads/later.jpg", Body=JPEG)
    done, running = deployed_stack.started
    outputs = read_stack_outputs(session.client("cloudformation"), STACK)
    with BackgroundServer(create_app(AwsConsoleSource(session, outputs))) as server:
        listing = _get(server.url + "/api/executions")
        assert listing["title"] == f"AWS stack {STACK} (eu-west-1)"
        rows = {row["executionArn"]: row for row in listing["executions"]}
        assert rows[done]["status"] == "SUCCEEDED" and rows[done]["faceCount"] == 1
        assert rows[done]["imageKey"] == "uploads/team <b>.jpg"
        assert rows[running]["status"] == "RUNNING"
        only_running = _get(server.url + "/api/executions?status=RUNNING")["executions"]
        assert [row["executionArn"] for row in only_running] == [running]

        detail = _get(server.url + "/api/execution?arn=" + quote(done))
        assert detail["states"]["Detect"]["retries"] == 1
        assert detail["path"] == ["Detect", "Persist", "HasFaces", "Notify"]
        assert 'data-state="Notify"' in detail["graphSvg"]
        assert detail["record"]["status"] == "DETECTED"
        assert detail["email"]["to"].startswith("arn:aws:sns:")
        with urllib.request.urlopen(server.url + "/api/image?arn=" + quote(done)) as image:
            assert image.read() == JPEG

        other_stack = done.replace(":FacePipeline:", ":SomeoneElses:")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/api/execution?arn=" + quote(other_stack))
        assert refused.value.code == 404


def test_an_upload_through_the_aws_console_lands_under_the_prefix_and_starts_the_pipeline(
    deployed_stack: DeployedStack,
) -> None:
    session = deployed_stack.session
    outputs = read_stack_outputs(session.client("cloudformation"), STACK)
    with BackgroundServer(create_app(AwsConsoleSource(session, outputs))) as server:
        request = urllib.request.Request(
            server.url + "/api/uploads", data=JPEG, headers={"X-Filename": "crew.jpeg"}
        )
        with urllib.request.urlopen(request) as answer:
            receipt = json.load(answer)
    assert receipt["key"] == "uploads/crew.jpeg" and receipt["bucket"] == BUCKET
    stored = session.client("s3").get_object(
        Bucket=BUCKET, Key="uploads/crew.jpeg", VersionId=receipt["versionId"]
    )
    assert stored["Body"].read() == JPEG and stored["ContentType"] == "image/jpeg"
    assert len(deployed_stack.started) == 1


def _image_stored_as_svg(stack: DeployedStack, body: bytes) -> Any:
    """GET /api/image for an upload whose S3 metadata says image/svg+xml (the uploader's say)."""
    session = stack.session
    session.client("s3").put_object(
        Bucket=BUCKET, Key="uploads/drawing.jpg", Body=body, ContentType="image/svg+xml"
    )
    return _get_image(stack)


def _get_image(stack: DeployedStack) -> Any:
    session = stack.session
    (arn,) = stack.started
    outputs = read_stack_outputs(session.client("cloudformation"), STACK)
    with BackgroundServer(create_app(AwsConsoleSource(session, outputs))) as server:
        try:
            with urllib.request.urlopen(server.url + "/api/image?arn=" + quote(arn)) as answer:
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.headers, refused.read()


def test_an_svg_in_the_bucket_is_not_served_whatever_its_content_type(
    deployed_stack: DeployedStack,
) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    status, headers, body = _image_stored_as_svg(deployed_stack, svg)
    assert status == 415 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"].startswith("this execution's image is not a JPEG or PNG")


def test_a_jpeg_is_served_as_a_jpeg_whatever_its_content_type(
    deployed_stack: DeployedStack,
) -> None:
    status, headers, body = _image_stored_as_svg(deployed_stack, JPEG)
    assert status == 200 and body == JPEG and headers["Content-Type"] == "image/jpeg"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_image_over_what_the_pipeline_takes_is_not_read_into_memory(
    deployed_stack: DeployedStack,
) -> None:
    big = JPEG + bytes(15 * 1024 * 1024)  # over Rekognition's 15 MB: it failed anyway
    deployed_stack.session.client("s3").put_object(
        Bucket=BUCKET, Key="uploads/huge.jpg", Body=big, ContentType="image/jpeg"
    )
    status, _, body = _get_image(deployed_stack)
    assert status == 404 and b"image" in body
