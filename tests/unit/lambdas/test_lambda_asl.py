"""The state machine definition: retries, catches and substitutions the pipeline relies on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lambdas.domain.errors import PERMANENT_IMAGE_ERRORS, TRANSIENT_ERRORS

ASL_PATH = Path(__file__).parents[3] / "statemachine" / "face_pipeline.asl.json"
SUBSTITUTIONS = {"${DetectFunctionArn}", "${PersistFunctionArn}", "${NotifyFunctionArn}"}
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
# A function that ran out of time: what lambda:invoke reports (Lambda.Unknown in older docs).
FUNCTION_TIMEOUTS = {"Sandbox.Timedout", "Lambda.Unknown"}
TRANSIENT = {cls.__name__ for cls in TRANSIENT_ERRORS}
PERMANENT = {cls.__name__ for cls in PERMANENT_IMAGE_ERRORS}


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text(encoding="utf-8"))


def tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}


def test_every_task_retries_transient_errors_with_capped_jittered_backoff(definition):
    assert set(tasks(definition)) == {"Detect", "Persist", "Notify", "RecordFailure"}
    for name, task in tasks(definition).items():
        retried: set[str] = set()
        for retrier in task["Retry"]:
            assert retrier["BackoffRate"] > 1, name
            assert retrier["MaxDelaySeconds"] >= retrier["IntervalSeconds"], name
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["MaxAttempts"] >= 2, name
            retried |= set(retrier["ErrorEquals"])
        assert retried >= LAMBDA_SERVICE_ERRORS | TRANSIENT | FUNCTION_TIMEOUTS, name


def test_permanent_image_errors_are_caught_to_record_failure_and_never_retried(definition):
    for name, task in tasks(definition).items():
        retried = {error for retrier in task["Retry"] for error in retrier["ErrorEquals"]}
        assert not retried & (PERMANENT | {"States.ALL"}), name
    detect_catchers = tasks(definition)["Detect"]["Catch"]
    first = detect_catchers[0]
    assert set(first["ErrorEquals"]) == PERMANENT
    assert first["Next"] == "RecordFailure"
    assert first["ResultPath"] == "$.error"  # keeps $.image for RecordFailure


def test_record_failure_reuses_persist_and_ends_failed_with_the_caught_error(definition):
    states = definition["States"]
    record_failure = states["RecordFailure"]
    assert record_failure["Parameters"]["FunctionName"] == "${PersistFunctionArn}"
    assert record_failure["Parameters"]["Payload"]["error.$"] == "$.error"
    failed = states[record_failure["Next"]]
    assert failed["Type"] == "Fail"
    result_path = record_failure["ResultPath"]
    assert failed["ErrorPath"] == f"{result_path}.error"
    assert failed["CausePath"] == f"{result_path}.reason"


def test_tasks_invoke_lambda_and_take_the_payload(definition):
    for name, task in tasks(definition).items():
        assert task["Resource"] == "arn:aws:states:::lambda:invoke", name
        assert set(task["Parameters"]) == {"FunctionName", "Payload"}, name
        assert task["Parameters"]["Payload"]["executionArn.$"] == "$$.Execution.Id", name
        assert all(path.startswith("$.Payload.") for path in task["ResultSelector"].values()), name


def test_only_the_three_function_substitutions_are_used(definition):
    found = set(re.findall(r"\$\{[^}]*\}", ASL_PATH.read_text(encoding="utf-8")))
    assert found == SUBSTITUTIONS


def test_flow_detect_persist_has_faces_notify(definition):
    states = definition["States"]
    assert states["Normalise"]["Next"] == "Detect"
    assert states["Detect"]["Next"] == "Persist"
    has_faces = states["HasFaces"]
    assert has_faces["Choices"][0]["Variable"] == "$.detection.faceCount"
    assert has_faces["Choices"][0]["Next"] == "Notify"
    assert states[has_faces["Default"]]["Type"] == "Succeed"
    image = states["Normalise"]["Parameters"]["image"]
    assert {name.removesuffix(".$") for name in image} == {
        "bucket",
        "key",
        "versionId",
        "etag",
        "size",
        "sequencer",
        "eventTime",
    }
