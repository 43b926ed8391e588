"""The state machine definition: retries, catches and substitutions the pipeline relies on.

The definition is JSONata throughout (`"QueryLanguage": "JSONata"`), held to the rules of
https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html: a JSONata state
has Arguments and Output instead of the five JSONPath fields (InputPath, Parameters,
ResultSelector, ResultPath, OutputPath), a Choice rule a Condition, a Fail state Error and
Cause, a Catch Output (and Assign); expressions are whole strings `{% ... %}`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from lambda_factories import normalised_image, object_created_event

from facepipe.engine import FakeClock, StateMachine
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


ERROR_OUTPUT = "{% $states.errorOutput %}"
EXECUTION_ID = "{% $states.context.Execution.Id %}"
# Fields a JSONata state (or its Catch) may not have: AWS's definition check refuses them.
JSONPATH_ONLY = {
    "InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "Result",
    "ItemsPath", "ErrorPath", "CausePath", "SecondsPath", "TimestampPath", "Variable",
}  # fmt: skip
IMAGE_FIELDS = {"bucket", "key", "versionId", "etag", "size", "sequencer", "eventTime"}


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_keys(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys(item) for item in node))
    return set()


def test_every_state_is_jsonata_without_jsonpath_fields(definition):
    assert definition["QueryLanguage"] == "JSONata"
    for name, state in definition["States"].items():
        assert state.get("QueryLanguage", "JSONata") == "JSONata", name
        # Payload keys are the step's own; the state's fields, rules and catchers are ASL's.
        asl = {key: value for key, value in state.items() if key != "Arguments"}
        assert not _keys(asl) & JSONPATH_ONLY, name
        assert not any(key.endswith(".$") for key in _keys(state)), name


def test_permanent_image_errors_are_caught_to_record_failure_and_never_retried(definition):
    for name, task in tasks(definition).items():
        retried = {error for retrier in task["Retry"] for error in retrier["ErrorEquals"]}
        assert not retried & (PERMANENT | {"States.ALL"}), name
    detect_catchers = tasks(definition)["Detect"]["Catch"]
    first = detect_catchers[0]
    assert set(first["ErrorEquals"]) == PERMANENT
    assert first["Next"] == "RecordFailure"


def test_every_catch_hands_record_failure_the_image_and_the_error(definition):
    payload = definition["States"]["RecordFailure"]["Arguments"]["Payload"]
    assert payload["image"] == "{% $states.input.image %}"
    assert payload["error"] == "{% $states.input.error %}"
    for name in ("Detect", "Persist", "Notify"):
        catchers = definition["States"][name]["Catch"]
        assert catchers[-1]["ErrorEquals"] == ["States.ALL"], name
        for catcher in catchers:
            assert catcher["Next"] == "RecordFailure", name
            assert catcher["Output"]["error"] == ERROR_OUTPUT, name
            assert "image" in catcher["Output"], name


def test_record_failure_reuses_persist_and_ends_failed_with_the_caught_error(definition):
    states = definition["States"]
    record_failure = states["RecordFailure"]
    assert record_failure["Arguments"]["FunctionName"] == "${PersistFunctionArn}"
    assert "'failure': {'error': $states.result.Payload.error" in record_failure["Output"]
    failed = states[record_failure["Next"]]
    assert failed["Type"] == "Fail"
    assert failed["Error"] == "{% $states.input.failure.error %}"
    assert failed["Cause"] == "{% $states.input.failure.reason %}"


def test_tasks_invoke_lambda_and_take_the_payload(definition):
    for name, task in tasks(definition).items():
        assert task["Resource"] == "arn:aws:states:::lambda:invoke", name
        assert set(task["Arguments"]) == {"FunctionName", "Payload"}, name
        assert task["Arguments"]["Payload"]["executionArn"] == EXECUTION_ID, name
        assert "$states.result.Payload." in json.dumps(task["Output"]), name
        assert "$states.result" not in json.dumps(task["Arguments"]), name


def test_only_the_three_function_substitutions_are_used(definition):
    found = set(re.findall(r"\$\{[^}]*\}", ASL_PATH.read_text(encoding="utf-8")))
    assert found == SUBSTITUTIONS


def test_flow_detect_persist_has_faces_notify(definition):
    states = definition["States"]
    assert definition["StartAt"] == "Detect"
    assert states["Detect"]["Next"] == "Persist"
    assert states["Persist"]["Next"] == "HasFaces"
    has_faces = states["HasFaces"]
    superseded, with_faces = has_faces["Choices"]
    assert superseded == {
        "Condition": "{% $states.input.record.outcome = 'STALE' %}",
        "Next": "Superseded",
    }
    assert with_faces == {
        "Condition": "{% $states.input.detection.faceCount > 0 %}",
        "Next": "Notify",
    }
    assert states[has_faces["Default"]]["Type"] == "Succeed"
    assert states["Superseded"]["Type"] == "Succeed"
    assert states["Notify"]["End"] is True


def test_detect_builds_the_image_from_the_event_once_the_same_way_everywhere(definition):
    """Detect's Arguments make the event the steps' image; its Output and each Catch's Output
    carry the same image on (a state's Output cannot read its Arguments, only $states.input,
    .result, .errorOutput and .context)."""
    detect = definition["States"]["Detect"]
    image = detect["Arguments"]["Payload"]["image"]
    assert set(image) == IMAGE_FIELDS
    assert detect["Output"]["image"] == image
    assert all(catcher["Output"]["image"] == image for catcher in detect["Catch"])
    assert image["versionId"] == (
        "{% $exists($states.input.detail.object.`version-id`) ? "
        "$states.input.detail.object.`version-id` : 'null' %}"
    )
    for name in ("Persist", "Notify"):
        assert definition["States"][name]["Arguments"]["Payload"]["image"] == (
            "{% $states.input.image %}"
        )


@pytest.mark.parametrize("version_id", ["3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", None])
def test_the_factories_image_is_the_one_the_definition_builds(version_id):
    """The unit tests' payloads (lambda_factories.normalised_image) are the ASL's own."""
    event = object_created_event("uploads/team photo+1.jpg", version_id=version_id)
    sent: list[Any] = []

    def detect(payload: Any, context: Any) -> dict[str, Any]:
        sent.append(payload["image"])
        key = payload["image"]["key"]
        return {"faceCount": 0, "faces": [], "attributes": "DEFAULT", "minConfidence": 90,
                "detectedAt": "2026-11-25T11:00:01Z", "objectKey": key}  # fmt: skip

    def persist(payload: Any, context: Any) -> dict[str, Any]:
        return {"status": "DETECTED", "outcome": "WRITTEN", "faceCount": 0}

    functions = {name.strip("${}"): f"arn:aws:lambda:eu-west-1:1:function:{name.strip('${}')}"
                 for name in SUBSTITUTIONS}  # fmt: skip
    machine = StateMachine(ASL_PATH.read_text(encoding="utf-8"), functions)
    resolver = {functions["DetectFunctionArn"]: detect, functions["PersistFunctionArn"]: persist}
    result = machine.run(event, resolver=resolver, clock=FakeClock())
    assert result.status == "SUCCEEDED", result.cause
    assert sent == [normalised_image(event)]
