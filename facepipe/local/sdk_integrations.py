"""Step Functions' service integrations that statemachine/backfill.asl.json uses, offline.

Exactly these Resources, each answered as Step Functions answers it (the call's response
without ResponseMetadata, member names in PascalCase, timestamps as ISO text) and each
failure named as the SDK integrations name AWS errors, ``<Service>.<Code>Exception``
("Call other AWS services", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html):

- ``aws-sdk:s3:headObject``: the current version in the local bucket (HeadObject's fields); a
  missing key is ``S3.NoSuchKeyException`` (HEAD answers a bare 404, which the Java SDK
  Step Functions runs names NoSuchKey).
- ``aws-sdk:dynamodb:getItem`` / ``updateItem``: the face records seen as DynamoDB items
  (``imageKey``, ``versionId``, ``status``, ``sequencer``; lambdas/aws/dynamodb.py's names),
  read only; a backfill's tally (``imageKey`` starting ``#BACKFILL#``) in a table of its own,
  changed by the UpdateExpression forms the workflow writes (ADD of numbers, SET with
  list_append/if_not_exists, the attribute_not_exists/size condition). Anything else is
  refused with DynamoDB's ValidationException rather than half-understood.
- ``aws-sdk:sfn:listMapRuns`` / ``describeMapRun``: the engine's own Map Run API.
- ``sns:publish``: the local notifier (Maildir or SMTP), with SNS's limits on Subject and
  Message; one message's identical retries are delivered once, as Notify's emails are.

The Lambda functions (``lambda:invoke``) are the runtime's step handlers, as for every run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from facepipe.engine import ApiError
from facepipe.local.objectstore import LocalObjectStore
from facepipe.local.recordstore import SqliteRecordStore
from lambdas.domain.model import Email
from lambdas.domain.ports import Notifier

BACKFILL_PARTITION = "#BACKFILL#"  # the tally items' partition key prefix (backfill.asl.json)
SNS_MESSAGE_LIMIT = 256 * 1024  # bytes, UTF-8 (SNS Publish: "Maximum size: 256 KB")
SNS_SUBJECT_LIMIT = 100  # "must be less than 100 characters long"

Handler = Callable[[Any, Any], Any]
MapRunReader = Callable[[], Any]  # gives the StateMachine whose Map Runs sfn calls read


def service_error(name: str, message: str) -> Exception:
    """An exception the engine reports as the error ``name`` (its class name)."""
    return type(name, (Exception,), {})(message)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _pascal(value: Any) -> Any:
    """An sfn API answer as the SDK integration gives it: PascalCase members, ISO dates."""
    if isinstance(value, dict):
        return {name[:1].upper() + name[1:]: _pascal(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_pascal(item) for item in value]
    if isinstance(value, datetime):
        return _iso(value)
    return value


# --- S3 ----------------------------------------------------------------------------------
def head_object(objects: LocalObjectStore) -> Handler:
    def call(parameters: dict[str, Any], context: Any) -> dict[str, Any]:
        bucket, key = parameters.get("Bucket"), parameters.get("Key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise service_error(
                "S3.SdkClientException", "HeadObject needs Bucket and Key as strings"
            )
        found = objects.current(bucket, key)
        if found is None:
            raise service_error(
                "S3.NoSuchKeyException",
                "The specified key does not exist. (Service: S3, Status Code: 404)",
            )
        answer: dict[str, Any] = {
            "AcceptRanges": "bytes",
            "LastModified": found.last_modified,
            "ContentLength": found.size,
            "ETag": found.etag,
            "ContentType": found.content_type or "binary/octet-stream",
            "Metadata": {},
        }
        if found.version_id is not None:
            answer["VersionId"] = found.version_id
        return answer

    return call


# --- DynamoDB ----------------------------------------------------------------------------
def _validation(message: str) -> Exception:
    return service_error("DynamoDb.ValidationException", message)


def _key_of(parameters: Mapping[str, Any], table: str) -> tuple[str, str]:
    if parameters.get("TableName") != table:
        raise service_error("DynamoDb.ResourceNotFoundException", "Requested resource not found")
    key = parameters.get("Key")
    if (
        not isinstance(key, dict)
        or set(key) != {"imageKey", "versionId"}
        or any(not isinstance(key[name], dict) or set(key[name]) != {"S"} for name in key)
    ):
        raise _validation("The provided key element does not match the schema")
    return str(key["imageKey"]["S"]), str(key["versionId"]["S"])


def _projected(item: dict[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    projection = parameters.get("ProjectionExpression")
    if projection is None:
        return item
    names = dict(parameters.get("ExpressionAttributeNames") or {})
    wanted = [names.get(part.strip(), part.strip()) for part in str(projection).split(",")]
    return {name: item[name] for name in wanted if name in item}


def get_item(records: SqliteRecordStore, table: str) -> Handler:
    def call(parameters: dict[str, Any], context: Any) -> dict[str, Any]:
        partition, sort = _key_of(parameters, table)
        item: dict[str, Any] | None
        if partition.startswith(BACKFILL_PARTITION):
            item = records.backfill_item(partition, sort)
        else:
            fields = records.record_fields(partition, sort)
            item = None
            if fields is not None:
                item = {
                    "imageKey": {"S": partition},
                    "versionId": {"S": sort},
                    "status": {"S": fields["status"]},
                    "sequencer": {"S": fields["sequencer"]},
                }
        if item is None:
            return {}
        if partition.startswith(BACKFILL_PARTITION):
            item = {"imageKey": {"S": partition}, "versionId": {"S": sort}, **item}
        return {"Item": _projected(item, parameters)}

    return call


_ADD_CLAUSE = re.compile(r"^ADD\s+(.+)$", re.IGNORECASE)
_SET_APPEND = re.compile(
    r"^SET\s+([#\w]+)\s*=\s*list_append\(\s*if_not_exists\(\s*([#\w]+)\s*,\s*(:\w+)\s*\)"
    r"\s*,\s*(:\w+)\s*\)$",
    re.IGNORECASE,
)
_SIZE_CONDITION = re.compile(
    r"^attribute_not_exists\(\s*([#\w]+)\s*\)\s+OR\s+size\(\s*([#\w]+)\s*\)\s*<\s*(:\w+)$",
    re.IGNORECASE,
)


class _Expression:
    """One UpdateItem call's names and values, tracking which were used (DynamoDB refuses
    the unused ones)."""

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self.names = dict(parameters.get("ExpressionAttributeNames") or {})
        self.values = dict(parameters.get("ExpressionAttributeValues") or {})
        self._used_names: set[str] = set()
        self._used_values: set[str] = set()

    def name(self, token: str) -> str:
        if token.startswith("#"):
            if token not in self.names:
                raise _validation(
                    "Invalid UpdateExpression: An expression attribute name used in the "
                    f"document path is not defined; attribute name: {token}"
                )
            self._used_names.add(token)
            return str(self.names[token])
        return token

    def value(self, token: str) -> dict[str, Any]:
        if token not in self.values:
            raise _validation(
                "Invalid UpdateExpression: An expression attribute value used in expression "
                f"is not defined; attribute value: {token}"
            )
        self._used_values.add(token)
        return dict(self.values[token])

    def check_all_used(self) -> None:
        unused_values = set(self.values) - self._used_values
        if unused_values:
            raise _validation(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {"
                + ", ".join(sorted(unused_values))
                + "}"
            )
        unused_names = set(self.names) - self._used_names
        if unused_names:
            raise _validation(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {"
                + ", ".join(sorted(unused_names))
                + "}"
            )


def _number(value: dict[str, Any], what: str) -> Decimal:
    if set(value) != {"N"}:
        raise _validation(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; "
            f"operator: ADD, operand type: {next(iter(value), '?')}, {what}"
        )
    return Decimal(str(value["N"]))


def _updated(item: dict[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    expression = _Expression(parameters)
    update = str(parameters.get("UpdateExpression", "")).strip()
    condition = parameters.get("ConditionExpression")
    if condition is not None:
        matched = _SIZE_CONDITION.match(str(condition).strip())
        if matched is None or expression.name(matched[1]) != expression.name(matched[2]):
            raise _validation(f"Invalid ConditionExpression (not supported offline): {condition}")
        attribute, most = expression.name(matched[1]), _number(expression.value(matched[3]), "")
        present = item.get(attribute)
        if present is not None and not len(present.get("L", [])) < most:
            raise service_error(
                "DynamoDb.ConditionalCheckFailedException", "The conditional request failed"
            )
    added = _ADD_CLAUSE.match(update)
    appended = _SET_APPEND.match(update)
    if added is not None:
        for clause in added[1].split(","):
            parts = clause.split()
            if len(parts) != 2:
                raise _validation(f"Invalid UpdateExpression: Syntax error; token: {clause!r}")
            attribute, amount = expression.name(parts[0]), expression.value(parts[1])
            total = _number(amount, f"typeSet: ALLOWED_FOR_ADD_OPERAND, name: {attribute}")
            if attribute in item:
                total += _number(item[attribute], attribute)
            item[attribute] = {"N": str(total)}
    elif appended is not None:
        attribute = expression.name(appended[1])
        if expression.name(appended[2]) != attribute:
            raise _validation(f"Invalid UpdateExpression (not supported offline): {update}")
        start = item.get(attribute, expression.value(appended[3]))
        more = expression.value(appended[4])
        if "L" not in start or "L" not in more:
            raise _validation(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; "
                "operator or function: list_append"
            )
        item[attribute] = {"L": [*start["L"], *more["L"]]}
    else:
        raise _validation(f"Invalid UpdateExpression (not supported offline): {update}")
    expression.check_all_used()
    return item


def update_item(records: SqliteRecordStore, table: str) -> Handler:
    def call(parameters: dict[str, Any], context: Any) -> dict[str, Any]:
        partition, sort = _key_of(parameters, table)
        if not partition.startswith(BACKFILL_PARTITION):
            # Face records are written by Persist only (its ordering rules): never here.
            raise _validation(
                "Offline, UpdateItem changes backfill items only; face records are written "
                "by the persist step"
            )
        records.change_backfill_item(
            partition, sort, lambda item: _updated(dict(item or {}), parameters)
        )
        return {}

    return call


# --- Step Functions ------------------------------------------------------------------------
def _sfn_call(machine: MapRunReader, action: str, member: str) -> Handler:
    def call(parameters: dict[str, Any], context: Any) -> Any:
        argument = parameters.get(member[:1].upper() + member[1:])
        if not isinstance(argument, str):
            raise service_error("Sfn.InvalidArnException", f"Invalid Arn: '{argument}'")
        try:
            answer = getattr(machine(), action)(argument)
        except ApiError as refused:
            raise service_error(f"Sfn.{refused.code}Exception", refused.message) from None
        return _pascal(answer)

    return call


# --- SNS -----------------------------------------------------------------------------------
def publish(notifier: Notifier, topic_arn: str) -> Handler:
    def call(parameters: dict[str, Any], context: Any) -> dict[str, Any]:
        if parameters.get("TopicArn") != topic_arn:
            raise service_error("SNS.NotFoundException", "Topic does not exist")
        message, subject = parameters.get("Message"), parameters.get("Subject", "")
        if not isinstance(message, str) or not message:
            raise service_error("SNS.InvalidParameterException", "Invalid parameter: Empty message")
        if len(message.encode("utf-8")) > SNS_MESSAGE_LIMIT:
            raise service_error(
                "SNS.InvalidParameterException",
                "Invalid parameter: Message too long",
            )
        if not isinstance(subject, str) or not _valid_subject(subject):
            raise service_error("SNS.InvalidParameterException", "Invalid parameter: Subject")
        digest = hashlib.sha256(f"{topic_arn}\n{subject}\n{message}".encode()).hexdigest()
        message_id = notifier.send(Email(subject or "facepipe", message, f"sns-{digest}"))
        return {"MessageId": message_id}

    return call


def _valid_subject(subject: str) -> bool:
    """SNS: ASCII, beginning with a letter, number or punctuation mark, no line breaks or
    control characters, less than 100 characters."""
    if not subject:
        return True
    return (
        len(subject) < SNS_SUBJECT_LIMIT
        and subject.isascii()
        and not subject[0].isspace()
        and all(" " <= char <= "~" for char in subject)
    )


def backfill_integrations(
    *,
    objects: LocalObjectStore,
    records: SqliteRecordStore,
    notifier: Notifier,
    machine: MapRunReader,
    table: str,
    topic_arn: str,
) -> dict[str, Handler]:
    """The Resources backfill.asl.json names, each on its local service."""
    base = "arn:aws:states:::"
    return {
        f"{base}aws-sdk:s3:headObject": head_object(objects),
        f"{base}aws-sdk:dynamodb:getItem": get_item(records, table),
        f"{base}aws-sdk:dynamodb:updateItem": update_item(records, table),
        f"{base}aws-sdk:sfn:listMapRuns": _sfn_call(machine, "list_map_runs", "executionArn"),
        f"{base}aws-sdk:sfn:describeMapRun": _sfn_call(machine, "describe_map_run", "mapRunArn"),
        f"{base}sns:publish": publish(notifier, topic_arn),
    }
