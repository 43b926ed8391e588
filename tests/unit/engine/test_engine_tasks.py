"""Task resources: resolver lookup, lambda:invoke's result shape, errors as Lambda reports them."""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger
from engine_helpers import event_types, output_of, run

INVOKE = "arn:aws:states:::lambda:invoke"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:detect"


def _invoke_task(**fields):
    parameters = {"FunctionName": ARN, "Payload": {"image.$": "$.image"}}
    return {
        "T": {"Type": "Task", "Resource": INVOKE, "Parameters": parameters, "End": True, **fields}
    }


def test_lambda_invoke_result_has_the_aws_shape():
    result = output_of(
        _invoke_task(), {"image": "a.jpg"}, resolver={"detect": lambda e, c: {"got": e}}
    )
    assert result["Payload"] == {"got": {"image": "a.jpg"}}
    assert result["StatusCode"] == 200
    assert result["ExecutedVersion"] == "$LATEST"
    request_id = result["SdkResponseMetadata"]["RequestId"]
    metadata = result["SdkHttpMetadata"]
    assert metadata["HttpStatusCode"] == 200
    assert metadata["HttpHeaders"]["x-amzn-RequestId"] == request_id
    assert metadata["AllHttpHeaders"]["x-amzn-RequestId"] == [request_id]


def test_result_selector_takes_the_payload():
    task = _invoke_task(ResultSelector={"faces.$": "$.Payload.faces"}, ResultPath="$.detection")
    output = output_of(task, {"image": "a"}, resolver={"detect": lambda e, c: {"faces": 2}})
    assert output == {"image": "a", "detection": {"faces": 2}}


def test_resolver_accepts_arn_name_or_a_function():
    handler = lambda e, c: "ok"  # noqa: E731
    assert output_of(_invoke_task(), {"image": 1}, resolver={ARN: handler})["Payload"] == "ok"
    by_function = output_of(_invoke_task(), {"image": 1}, resolver=lambda name: handler)
    assert by_function["Payload"] == "ok"


def test_plain_lambda_arn_returns_the_function_output_directly():
    states = {"T": {"Type": "Task", "Resource": ARN, "End": True}}
    assert output_of(states, {"a": 1}, resolver={"detect": lambda e, c: [e]}) == [{"a": 1}]


def test_unknown_function_fails_like_a_missing_lambda():
    result = run(_invoke_task(), {"image": 1})
    assert result.error == "Lambda.ResourceNotFoundException"
    assert "Function not found: " + ARN in result.cause
    assert "resolver" in result.cause


def test_handler_exception_becomes_its_class_name_with_lambda_cause():
    class InvalidImageFormatException(Exception):
        pass

    def handler(event, context):
        raise InvalidImageFormatException("not a JPEG or PNG")

    result = run(_invoke_task(), {"image": 1}, resolver={"detect": handler})
    assert result.error == "InvalidImageFormatException"
    cause = json.loads(result.cause)
    assert cause["errorMessage"] == "not a JPEG or PNG"
    assert cause["errorType"] == "InvalidImageFormatException"
    assert any("raise InvalidImageFormatException" in line for line in cause["stackTrace"])


def test_non_json_result_is_a_marshal_error():
    result = run(_invoke_task(), {"image": 1}, resolver={"detect": lambda e, c: object()})
    assert result.error == "Runtime.MarshalError"


def test_handler_gets_a_copy_it_cannot_corrupt():
    def mutate(event, context):
        event["image"] = "changed"
        return None

    task = _invoke_task(ResultPath=None)
    assert output_of(task, {"image": "orig"}, resolver={"detect": mutate}) == {"image": "orig"}


def test_lambda_context_fields_and_powertools_logger():
    logger = Logger(service="engine-test")
    seen = {}

    @logger.inject_lambda_context
    def handler(event, context):
        seen.update(
            name=context.function_name,
            arn=context.invoked_function_arn,
            request=context.aws_request_id,
            memory=context.memory_limit_in_mb,
            group=context.log_group_name,
            stream=context.log_stream_name,
        )
        return "logged"

    result = output_of(_invoke_task(), {"image": 1}, resolver={"detect": handler})
    assert result["Payload"] == "logged"
    assert seen["name"] == "detect" and seen["arn"] == ARN
    assert seen["request"] == result["SdkResponseMetadata"]["RequestId"]
    assert seen["memory"] == 128 and seen["group"] == "/aws/lambda/detect" and seen["stream"]


def test_lambda_invoke_history_events():
    result = run(
        _invoke_task(TimeoutSeconds=30), {"image": "a"}, resolver={"detect": lambda e, c: 1}
    )
    assert event_types(result) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = result.history[2]["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda" and scheduled["resource"] == "invoke"
    assert scheduled["region"] == "us-east-1" and scheduled["timeoutInSeconds"] == 30
    assert json.loads(scheduled["parameters"]) == {"FunctionName": ARN, "Payload": {"image": "a"}}
    assert result.history[3]["taskStartedEventDetails"] == {
        "resourceType": "lambda",
        "resource": "invoke",
    }
    succeeded = result.history[4]["taskSucceededEventDetails"]
    assert json.loads(succeeded["output"])["Payload"] == 1
    assert succeeded["outputDetails"] == {"truncated": False}


def test_lambda_invoke_failure_events():
    def handler(event, context):
        raise KeyError("k")

    result = run(_invoke_task(), {"image": "a"}, resolver={"detect": handler})
    assert event_types(result)[-2:] == ["TaskFailed", "ExecutionFailed"]
    failed = result.history[-2]["taskFailedEventDetails"]
    assert failed["error"] == "KeyError" and failed["resource"] == "invoke"
    assert result.history[-1]["executionFailedEventDetails"]["error"] == "KeyError"


def test_plain_lambda_history_events():
    states = {"T": {"Type": "Task", "Resource": ARN, "End": True}}
    result = run(states, {"a": 1}, resolver={"detect": lambda e, c: e})
    assert event_types(result)[2:5] == [
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
    ]
    scheduled = result.history[2]["lambdaFunctionScheduledEventDetails"]
    assert scheduled == {"resource": ARN, "input": '{"a":1}', "inputDetails": {"truncated": False}}
    assert set(result.history[3]) == {"timestamp", "type", "id", "previousEventId"}


def test_unknown_function_history_shows_the_call_failing():
    result = run(_invoke_task(), {"image": 1})
    assert event_types(result)[2:5] == ["TaskScheduled", "TaskStarted", "TaskFailed"]
    failed = result.history[4]["taskFailedEventDetails"]
    assert failed["error"] == "Lambda.ResourceNotFoundException"
