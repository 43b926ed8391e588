"""Step Functions' AWS SDK and optimized integrations for the local engine, on boto3 clients.

The engine runs a Task through a resolver keyed by its Resource; these handlers answer as
Step Functions does: the call's response without ResponseMetadata, timestamps as ISO text,
and an AWS error as ``<Service>.<Code>Exception`` (the SDK integration's naming, from the
Step Functions developer guide, "Call AWS services from Step Functions": "S3.NoSuchKeyException",
"DynamoDb.ConditionalCheckFailedException"). Used with moto, so no call leaves the machine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

# The service name Step Functions puts before an SDK integration's error names.
ERROR_PREFIXES = {"s3": "S3", "dynamodb": "DynamoDb", "sfn": "Sfn", "sns": "SNS"}
# Services whose API names members in camelCase: Step Functions' SDK integrations take and
# return them in PascalCase ("ExecutionArn", "MapRuns", "ItemCounts") like every other service.
CAMEL_CASE_APIS = frozenset({"sfn"})
# S3 answers HEAD of a missing key with a bare 404 (no body, so no code); the Java SDK that
# Step Functions runs names it NoSuchKeyException.
_BARE_CODES = {("s3", "404"): "NoSuchKey"}


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _recase(value: Any, first: Callable[[str], str]) -> Any:
    """Structure member names with their first letter changed (map values keep their keys
    only where they are data, which the shapes used here never are)."""
    if isinstance(value, dict):
        return {first(name[:1]) + name[1:]: _recase(item, first) for name, item in value.items()}
    if isinstance(value, list):
        return [_recase(item, first) for item in value]
    return value


def error_class(service: str, error: ClientError) -> type[Exception]:
    """An exception type whose name is the error Step Functions reports for ``error``."""
    code = str(error.response.get("Error", {}).get("Code", "Unknown"))
    code = _BARE_CODES.get((service, code), code)
    name = code if code.endswith("Exception") else f"{code}Exception"
    return type(f"{ERROR_PREFIXES[service]}.{name}", (Exception,), {})


def integration(client: Any, service: str, action: str) -> Callable[[Any, Any], Any]:
    method = getattr(client, _snake(action))

    camel = service in CAMEL_CASE_APIS

    def call(parameters: Any, context: Any) -> Any:
        arguments = _recase(parameters, str.lower) if camel else parameters
        try:
            response = method(**arguments)
        except ClientError as error:
            raise error_class(service, error)(str(error)) from None
        response.pop("ResponseMetadata", None)
        answer = _recase(response, str.upper) if camel else response
        return json.loads(json.dumps(_plain(answer)))

    return call


def sdk_resolver(clients: Mapping[str, Any], resources: list[str]) -> dict[str, Any]:
    """Handlers for Resources such as ``arn:aws:states:::aws-sdk:s3:headObject`` or
    ``arn:aws:states:::sns:publish``, each on the boto3 client of its service."""
    handlers: dict[str, Any] = {}
    for resource in resources:
        rest = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:")
        service, action = rest.split(":")
        handlers[resource] = integration(clients[service], service, action)
    return handlers
