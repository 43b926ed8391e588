"""`facepipe aws ...` against a moto-held stack: upload, find, follow, record, messages."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from aws_histories import caught_failure_history, with_faces_history
from botocore.exceptions import ClientError, NoCredentialsError
from moto_stack import BUCKET, PREFIX, STACK, DeployedStack
from rich.console import Console

from facepipe.aws.errors import explain
from facepipe.aws.executions import ExecutionNotFound, find_execution_for, uploaded_object
from facepipe.aws.stack import outputs_from_stack, read_stack_outputs
from facepipe.cli.aws import add_aws_commands, upload_and_follow
from facepipe.cli.console import add_console_commands

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facepipe")
    commands = parser.add_subparsers(dest="command", required=True)
    add_console_commands(commands)
    add_aws_commands(commands)
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return int(args.run_command(args))


def _image(tmp_path: Path, name: str = "party photo.jpg") -> Path:
    path = tmp_path / name
    path.write_bytes(JPEG)
    return path


def _recording_console() -> Console:
    return Console(file=io.StringIO(), width=160, force_terminal=False, record=True)


def test_stack_outputs_come_from_describe_stacks(deployed_stack: DeployedStack) -> None:
    outputs = read_stack_outputs(deployed_stack.session.client("cloudformation"), STACK)
    assert outputs.bucket_name == BUCKET and outputs.upload_prefix == PREFIX
    assert outputs.state_machine_arn == deployed_stack.state_machine_arn
    assert outputs.region == "eu-west-1"
    url = outputs.execution_console_url("arn:aws:states:eu-west-1:1:execution:M:e")
    assert url.startswith("https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1")
    assert url.endswith("#/v2/executions/details/arn:aws:states:eu-west-1:1:execution:M:e")


def test_a_stack_without_our_outputs_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"stack 'Other' has no output BucketName.*TableName"):
        outputs_from_stack({"StackName": "Other", "StackStatus": "CREATE_COMPLETE"})


def test_upload_finds_and_follows_its_execution_then_prints_record_email_and_link(
    deployed_stack: DeployedStack, tmp_path: Path
) -> None:
    deployed_stack.next_history = with_faces_history
    session = deployed_stack.session
    outputs = read_stack_outputs(session.client("cloudformation"), STACK)
    definition = json.loads(
        session.client("stepfunctions").describe_state_machine(
            stateMachineArn=outputs.state_machine_arn
        )["definition"]
    )
    console = _recording_console()

    status = upload_and_follow(session, outputs, definition, _image(tmp_path), console, 30, 0)

    assert status == "SUCCEEDED"
    (arn,) = deployed_stack.started
    text = console.export_text()
    assert f"uploaded s3://{BUCKET}/uploads/party photo.jpg" in text
    assert "✔ Detect (Task)" in text and "retried 1x" in text
    assert "✔ Notify (Task)" in text and "· NoFaces (Succeed)" in text
    assert "record: DETECTED, 1 face(s)" in text
    assert "email sent: yes, at 2026-11-25T12:00:01+00:00" in text
    assert f"#/v2/executions/details/{arn}" in text


def test_a_caught_failure_draws_red_and_the_command_exits_non_zero(
    deployed_stack: DeployedStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed_stack.next_history = caught_failure_history
    assert _run(["aws", "upload", str(_image(tmp_path, "broken.jpg")), "--stack", STACK]) == 1
    out = capsys.readouterr().out
    assert "↯ Detect (Task)" in out and "InvalidImageFormatException" in out
    assert "✘ Failed (Fail)" in out
    assert "record: FAILED" in out and "email sent: no" in out


def test_the_execution_is_matched_by_key_and_version_not_just_by_time(
    deployed_stack: DeployedStack,
) -> None:
    s3 = deployed_stack.session.client("s3")
    first = s3.put_object(Bucket=BUCKET, Key="uploads/a.jpg", Body=JPEG)["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="uploads/b.jpg", Body=JPEG)
    s3.put_object(Bucket=BUCKET, Key="uploads/a.jpg", Body=JPEG)  # a newer version, same key
    sfn = deployed_stack.session.client("stepfunctions")
    from datetime import UTC, datetime, timedelta

    since = datetime.now(UTC) - timedelta(minutes=1)
    found = find_execution_for(
        sfn, deployed_stack.state_machine_arn, "uploads/a.jpg", first, started_after=since
    )
    assert found == deployed_stack.started[0]
    with pytest.raises(ExecutionNotFound, match=r"no execution started for uploads/c.jpg"):
        find_execution_for(
            sfn, deployed_stack.state_machine_arn, "uploads/c.jpg", "v", started_after=since,
            timeout=0, sleep=lambda _: None,
        )  # fmt: skip


def test_uploaded_object_is_the_key_as_the_event_carries_it() -> None:
    event = {"detail": {"object": {"key": "uploads/c++ photoé.jpg", "version-id": "v1"}}}
    assert uploaded_object(json.dumps(event)) == ("uploads/c++ photoé.jpg", "v1")
    assert uploaded_object("not json") is None
    assert uploaded_object(json.dumps({"detail": {}})) is None


def test_executions_lists_newest_first(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed_stack.next_history = with_faces_history
    s3 = deployed_stack.session.client("s3")
    for name in ("one.jpg", "two.jpg"):
        s3.put_object(Bucket=BUCKET, Key=PREFIX + name, Body=JPEG)
    assert _run(["aws", "executions", "--stack", STACK]) == 0
    out = capsys.readouterr().out
    first, second = deployed_stack.started
    assert out.index(second.rsplit(":", 1)[1]) < out.index(first.rsplit(":", 1)[1])
    assert out.count("SUCCEEDED") == 2


def test_show_draws_an_execution_from_its_history(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed_stack.next_history = with_faces_history
    deployed_stack.session.client("s3").put_object(Bucket=BUCKET, Key="uploads/x.png", Body=JPEG)
    (arn,) = deployed_stack.started
    assert _run(["aws", "show", arn]) == 0
    out = capsys.readouterr().out
    assert "SUCCEEDED" in out and "✔ HasFaces (Choice)" in out and "retried 1x" in out


def test_a_missing_stack_is_said_plainly(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["aws", "executions", "--stack", "NoSuchStack"]) == 2
    err = capsys.readouterr().err
    assert "stack 'NoSuchStack' does not exist in this account and region" in err
    assert "Traceback" not in err


def test_missing_credentials_are_said_plainly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask the network
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert _run(["aws", "executions"]) == 2
    assert "no AWS credentials were found" in capsys.readouterr().err


def test_aws_failures_are_explained_and_bugs_are_not() -> None:
    assert explain(NoCredentialsError()) is not None
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListX")
    assert "access denied for ListX" in str(explain(denied))
    assert not explain(denied).answered  # type: ignore[union-attr]
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "ListX"
    )
    said = explain(throttled)
    assert said is not None and said.answered
    assert str(said) == (
        "AWS refused ListX: ThrottlingException: Rate exceeded (AWS is busy or briefly "
        "unavailable: try again in a moment)"
    )
    odd = ClientError({"Error": {"Code": "SomethingNew", "Message": "m"}}, "GetY")
    assert str(explain(odd)) == "AWS refused GetY: SomethingNew: m"
    assert explain(KeyError("bug")) is None


def test_a_throttled_aws_call_is_one_line_and_exit_1(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Step Functions throttles ListExecutions ("ThrottlingException: Rate exceeded", its
    API's documented error): `facepipe aws executions` says so in one line, no traceback."""
    from unittest import mock

    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "ListExecutions"
    )
    with mock.patch("facepipe.aws.executions.list_executions", side_effect=throttled):
        assert _run(["aws", "executions"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "facepipe: error: AWS refused ListExecutions: ThrottlingException: Rate exceeded "
        "(AWS is busy or briefly unavailable: try again in a moment)"
    )


def test_an_unknown_execution_or_a_file_the_rule_skips_is_said_plainly(
    deployed_stack: DeployedStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = deployed_stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":gone"
    assert _run(["aws", "show", missing]) == 2
    assert "`facepipe aws executions` lists the executions" in capsys.readouterr().err
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert _run(["aws", "upload", str(notes)]) == 2
    err = capsys.readouterr().err
    assert "only .jpg, .jpeg and .png files are processed by the pipeline" in err
    assert deployed_stack.started == []
