"""Task resources: finding the Python callable for a Resource, calling it as Lambda would,
and shaping the result as the `lambda:invoke` integration returns it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from facepipe.engine.clock import Clock
from facepipe.engine.errors import TIMEOUT, RuntimeFailure, StatesError
from facepipe.engine.history import to_json

Handler = Callable[[Any, Any], Any]
Resolver = Mapping[str, Handler] | Callable[[str], Handler | None]

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# The role the local engine reports as the execution role (ExecutionStarted.roleArn).
LOCAL_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/facepipe-local-engine"
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 900
FUNCTION_NOT_FOUND = "Lambda.ResourceNotFoundException"


@dataclass(frozen=True)
class Target:
    """What a Task state calls: how it shows in history, and which function it names."""

    kind: str  # "lambda:invoke", "lambda" (a function ARN) or "service"
    resource_type: str
    resource: str
    function: str  # FunctionName / function ARN / the Resource itself


def target_of(resource: str, parameters: Any) -> Target:
    if resource == LAMBDA_INVOKE:
        function = parameters.get("FunctionName") if isinstance(parameters, dict) else None
        if not isinstance(function, str) or not function:
            raise RuntimeFailure("lambda:invoke needs a 'FunctionName' string in Parameters")
        return Target("lambda:invoke", "lambda", "invoke", function)
    if resource.startswith("arn:aws:lambda:") and ":function:" in resource:
        return Target("lambda", "lambda", resource, resource)
    service, _, action = resource.removeprefix("arn:aws:states:::").partition(":")
    return Target("service", service or resource, action or resource, resource)


def function_arn(function: str) -> str:
    if function.startswith("arn:"):
        return function
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"


def function_name(function: str) -> str:
    """`my-fn` from a bare name, a partial ARN or a full ARN (qualifier dropped)."""
    if ":function:" in function:
        return function.split(":function:", 1)[1].split(":", 1)[0]
    return function.split(":", 1)[0]


def find_handler(resolver: Resolver | None, function: str) -> Handler:
    candidates = (function, function_name(function))
    for key in candidates:
        if resolver is None:
            break
        found = resolver.get(key) if isinstance(resolver, Mapping) else resolver(key)
        if found is not None:
            return found
    raise StatesError(
        FUNCTION_NOT_FOUND,
        f"Function not found: {function_arn(function)} (no local handler is registered for "
        f"'{function_name(function)}'; pass one in the resolver)",
    )


@dataclass
class LambdaContext:
    """What a Lambda handler receives as `context`; enough for Powertools."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    deadline: datetime
    clock: Clock = field(repr=False)
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"local/[$LATEST]{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        remaining = (self.deadline - self.clock.now()).total_seconds() * 1000
        return max(0, int(remaining))


def new_request_id() -> str:
    import uuid  # lazily: keeps `python -m facepipe.engine` quick to start

    return str(uuid.uuid4())


def new_context(function: str, clock: Clock, timeout_seconds: int | None) -> LambdaContext:
    seconds = timeout_seconds or DEFAULT_FUNCTION_TIMEOUT_SECONDS
    return LambdaContext(
        function_name=function_name(function),
        invoked_function_arn=function_arn(function),
        aws_request_id=new_request_id(),
        deadline=clock.now() + timedelta(seconds=seconds),
        clock=clock,
    )


def call_handler(
    handler: Handler, event: Any, context: LambdaContext, timeout_seconds: int | None
) -> tuple[Any, str]:
    """Call the handler as the Lambda runtime would: JSON in, JSON out, errors named.

    The event and the result cross a JSON boundary, so handler and engine never share
    mutable objects. Past `timeout_seconds` the task fails with States.Timeout. Returns the
    result and its JSON text.
    """
    clock = context.clock
    payload = json.loads(to_json(event))
    started = clock.now()
    if timeout_seconds is not None and clock.is_real:
        result = _call_with_timer(handler, payload, context, timeout_seconds)
    else:
        result = _call_once(handler, payload, context)
    if timeout_seconds is not None and (clock.now() - started).total_seconds() > timeout_seconds:
        raise StatesError(TIMEOUT, f"Task timed out after {timeout_seconds} seconds")
    return result


def _call_once(handler: Handler, event: Any, context: LambdaContext) -> tuple[Any, str]:
    try:
        result = handler(event, context)
    except Exception as failure:
        raise StatesError(type(failure).__name__, lambda_error_cause(failure, context)) from None
    try:
        text = to_json(result)
    except (TypeError, ValueError) as unmarshalable:
        cause = {
            "errorMessage": f"Unable to marshal response: {unmarshalable}",
            "errorType": "Runtime.MarshalError",
            "requestId": context.aws_request_id,
            "stackTrace": [],
        }
        raise StatesError("Runtime.MarshalError", json.dumps(cause)) from None
    return json.loads(text), text


def _call_with_timer(
    handler: Handler, event: Any, context: LambdaContext, timeout_seconds: int
) -> tuple[Any, str]:
    # A hung handler cannot be killed; it is left running in a daemon thread and the task
    # fails on time, as Step Functions would.
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = _call_once(handler, event, context)
        except StatesError as failure:
            outcome["error"] = failure

    worker = threading.Thread(target=run, daemon=True, name=f"task-{context.function_name}")
    worker.start()
    worker.join(timeout_seconds)
    if worker.is_alive():
        raise StatesError(TIMEOUT, f"Task timed out after {timeout_seconds} seconds")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def lambda_error_cause(failure: BaseException, context: LambdaContext) -> str:
    """The cause string AWS reports for an unhandled exception in a Python Lambda."""
    import traceback  # lazily: only failures need it

    frames = traceback.extract_tb(failure.__traceback__)
    return json.dumps(
        {
            "errorMessage": str(failure),
            "errorType": type(failure).__name__,
            "requestId": context.aws_request_id,
            "stackTrace": traceback.format_list(frames),
        }
    )


def invoke_response(payload: Any, payload_text: str, context: LambdaContext) -> dict[str, Any]:
    """The `lambda:invoke` task result: the function's output plus Lambda's response metadata."""
    request_id = context.aws_request_id
    headers = {
        "Connection": "keep-alive",
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
        "Content-Length": str(len(payload_text.encode())),
    }
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }
