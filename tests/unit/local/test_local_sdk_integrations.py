"""The local answers to backfill.asl.json's SDK Tasks (facepipe/local/sdk_integrations.py)
keep the services' rules and name their errors as Step Functions does
(https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html:
"S3.NoSuchKeyException", "DynamoDb.ConditionalCheckFailedException")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facepipe.local.objectstore import LocalObjectStore
from facepipe.local.recordstore import SqliteRecordStore
from facepipe.local.sdk_integrations import get_item, head_object, publish, update_item
from lambdas.domain.model import Email

TABLE = "facepipe-records"
TALLY = {"imageKey": {"S": "#BACKFILL#b1"}, "versionId": {"S": "#SUMMARY"}}


def error_of(call: Any, parameters: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(Exception) as raised:
        call(parameters, None)
    return type(raised.value).__name__, str(raised.value)


def test_head_object_answers_headobjects_fields_and_no_such_key(tmp_path: Path):
    """HeadObject: https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    (ETag quoted, ContentLength, LastModified, VersionId; a missing key is a 404)."""
    store = LocalObjectStore(tmp_path / "buckets")
    stored = store.put_object("b-bucket", "uploads/a.jpg", b"abc")
    call = head_object(store)
    answer = call({"Bucket": "b-bucket", "Key": "uploads/a.jpg"}, None)
    assert answer["ETag"] == '"900150983cd24fb0d6963f7d28e17f72"'
    assert answer["ContentLength"] == 3 and answer["VersionId"] == stored.version_id
    assert error_of(call, {"Bucket": "b-bucket", "Key": "uploads/none.jpg"})[0] == (
        "S3.NoSuchKeyException"
    )
    store.close()


def test_dynamodb_keeps_the_table_key_and_expression_rules(tmp_path: Path):
    """GetItem/UpdateItem: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html
    (an unknown table is ResourceNotFoundException; a key not of the schema, or an
    expression value the expressions do not use, is ValidationException; a condition that
    does not hold is ConditionalCheckFailedException)."""
    records = SqliteRecordStore(tmp_path / "records.sqlite3")
    read, write = get_item(records, TABLE), update_item(records, TABLE)
    assert error_of(read, {"TableName": "other", "Key": TALLY}) == (
        "DynamoDb.ResourceNotFoundException",
        "Requested resource not found",
    )
    assert error_of(read, {"TableName": TABLE, "Key": {"imageKey": {"S": "x"}}}) == (
        "DynamoDb.ValidationException",
        "The provided key element does not match the schema",
    )
    assert read({"TableName": TABLE, "Key": TALLY}, None) == {}
    add: dict[str, Any] = {
        "TableName": TABLE,
        "Key": TALLY,
        "UpdateExpression": "ADD #outcome :one, faces :faces",
        "ExpressionAttributeNames": {"#outcome": "detected"},
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":faces": {"N": "4"}},
    }
    write(add, None)
    write(add, None)
    item = read({"TableName": TABLE, "Key": TALLY}, None)["Item"]
    assert item["detected"] == {"N": "2"} and item["faces"] == {"N": "8"}
    unused = {
        **add,
        "ExpressionAttributeValues": {**add["ExpressionAttributeValues"], ":x": {"N": "1"}},
    }
    assert error_of(write, unused) == (
        "DynamoDb.ValidationException",
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}",
    )
    append = {
        "TableName": TABLE,
        "Key": TALLY,
        "UpdateExpression": "SET failures = list_append(if_not_exists(failures, :none), :this)",
        "ConditionExpression": "attribute_not_exists(failures) OR size(failures) < :most",
        "ExpressionAttributeValues": {
            ":none": {"L": []},
            ":most": {"N": "2"},
            ":this": {"L": [{"S": "one"}]},
        },
    }
    write(append, None)
    write(append, None)
    assert error_of(write, append)[0] == "DynamoDb.ConditionalCheckFailedException"
    item = read({"TableName": TABLE, "Key": TALLY}, None)["Item"]
    assert item["failures"] == {"L": [{"S": "one"}, {"S": "one"}]}
    records.close()


class Sent:
    def __init__(self) -> None:
        self.emails: list[Email] = []

    def send(self, email: Email) -> str:
        self.emails.append(email)
        return f"id-{len(self.emails)}"


def test_sns_publish_keeps_snss_subject_and_topic_rules():
    """Publish: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html (Subject: ASCII,
    no line breaks, less than 100 characters; an unknown topic is NotFound)."""
    topic = "arn:aws:sns:local:000000000000:facepipe-alerts"
    sent = Sent()
    call = publish(sent, topic)
    assert call({"TopicArn": topic, "Subject": "done", "Message": "text"}, None) == {
        "MessageId": "id-1"
    }
    assert sent.emails[0].subject == "done" and sent.emails[0].body == "text"
    assert error_of(call, {"TopicArn": topic + "x", "Message": "m"})[0] == "SNS.NotFoundException"
    for subject in ("x" * 100, "two\nlines", "caf\u00e9"):
        name, _ = error_of(call, {"TopicArn": topic, "Subject": subject, "Message": "m"})
        assert name == "SNS.InvalidParameterException"
    assert len(sent.emails) == 1
