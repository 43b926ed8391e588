"""`python -m facepipe.engine`: one JSON object out, clear errors, cheap imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _engine(tmp_path, definition, execution_input=None, *extra, env=None):
    definition_file = tmp_path / "definition.json"
    definition_file.write_text(
        definition if isinstance(definition, str) else json.dumps(definition)
    )
    argv = [sys.executable, "-m", "facepipe.engine", "--definition", str(definition_file)]
    if execution_input is not None:
        input_file = tmp_path / "input.json"
        input_file.write_text(json.dumps(execution_input))
        argv += ["--input", str(input_file)]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [*argv, *extra], capture_output=True, text=True, timeout=60, env=environment
    )


PASS = {
    "StartAt": "P",
    "States": {"P": {"Type": "Pass", "Result": {"r": 1}, "ResultPath": "$.out", "End": True}},
}


def test_prints_the_succeeded_result(tmp_path):
    done = _engine(tmp_path, PASS, {"a": 1})
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"status": "SUCCEEDED", "output": {"a": 1, "out": {"r": 1}}}


def test_prints_the_failed_result(tmp_path):
    fail = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}
    assert json.loads(_engine(tmp_path, fail, {}).stdout) == {
        "status": "FAILED",
        "error": "E",
        "cause": "C",
    }


def test_history_flag_adds_the_events(tmp_path):
    printed = json.loads(_engine(tmp_path, PASS, {}, "--history").stdout)
    assert [e["type"] for e in printed["history"]] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert printed["history"][0]["timestamp"].endswith("+00:00")


def test_task_without_a_handler_fails_like_an_unknown_function(tmp_path):
    task = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${Fn}"},
                "End": True,
            }
        },
    }
    printed = json.loads(_engine(tmp_path, task, {}, "--substitution", "Fn=detect").stdout)
    assert printed["status"] == "FAILED"
    assert printed["error"] == "Lambda.ResourceNotFoundException"
    assert "function:detect" in printed["cause"]


def test_handler_option_serves_a_function(tmp_path):
    (tmp_path / "local_handlers.py").write_text(
        "def echo(event, context):\n    return {'got': event, 'function': context.function_name}\n"
    )
    invoke = {"FunctionName": "echo", "Payload.$": "$"}
    task = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": invoke,
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    done = _engine(
        tmp_path,
        task,
        [1],
        "--handler",
        "echo=local_handlers:echo",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert json.loads(done.stdout) == {
        "status": "SUCCEEDED",
        "output": {"got": [1], "function": "echo"},
    }


def test_unloadable_handler_is_explained(tmp_path):
    done = _engine(tmp_path, PASS, {}, "--handler", "f=no_such_module:f")
    assert done.returncode == 2 and "cannot load handler 'no_such_module:f'" in done.stderr


def test_invalid_definition_exits_2_with_the_reason(tmp_path):
    bad = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Nowhere"}}}
    done = _engine(tmp_path, bad, {})
    assert done.returncode == 2 and done.stdout == ""
    assert "State 'P'" in done.stderr and "Nowhere" in done.stderr


@pytest.mark.parametrize("text", ["{broken", ""])
def test_unreadable_definition_is_explained(tmp_path, text):
    done = _engine(tmp_path, text, {})
    assert done.returncode == 2 and "not valid JSON" in done.stderr


def test_missing_input_file_is_explained(tmp_path):
    definition_file = tmp_path / "d.json"
    definition_file.write_text(json.dumps(PASS))
    done = subprocess.run(
        [sys.executable, "-m", "facepipe.engine", "--definition", str(definition_file), "--input", str(tmp_path / "nope.json")],  # noqa: E501
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "cannot read the input file" in done.stderr


def test_importing_the_engine_loads_nothing_heavy():
    probe = (
        "import sys, facepipe.engine; "
        "heavy = {'cv2', 'numpy', 'boto3', 'aws_cdk', 'PIL', 'facepipe.local', 'jlens'}; "
        "heavy &= set(sys.modules); "
        "print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]"


def test_bucket_root_backs_the_item_reader_and_result_writer(tmp_path):
    """--bucket-root DIR: each sub-folder a bucket (ItemReader getObject, ResultWriter putObject
    as https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html)."""
    (tmp_path / "b" / "in").mkdir(parents=True)
    (tmp_path / "b" / "in" / "x.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "run").mkdir()
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                       "Parameters": {"Bucket": "b", "Key": "in/x.csv"}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Parameters": {"Bucket": "b", "Prefix": "out"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}  # fmt: skip
    done = _engine(tmp_path / "run", definition, {}, "--bucket-root", str(tmp_path))
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)["output"]
    manifest = tmp_path / "b" / output["ResultWriterDetails"]["Key"]
    (succeeded,) = json.loads(manifest.read_text())["ResultFiles"]["SUCCEEDED"]
    entries = json.loads((tmp_path / "b" / succeeded["Key"]).read_text())
    assert sorted(json.loads(e["Output"])["a"] for e in entries) == ["1", "3"]
    missing = _engine(tmp_path / "run", definition, {}, "--bucket-root", str(tmp_path / "no"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    assert "Traceback" not in missing.stderr
