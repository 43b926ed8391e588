"""The RecordStore port on a DynamoDB table (partition ``imageKey``, sort ``versionId``).

Besides one item per image version, each key has a "latest" item (sort key ``#LATEST``,
which no S3 version id can be) that only ever moves forward by S3 sequencer. Both are
written with conditions that express :func:`lambdas.domain.ordering.supersedes`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from lambdas.aws.errors import named_aws_errors
from lambdas.domain.model import FaceRecord
from lambdas.domain.ordering import DETECTED, FAILED, sortable_sequencer

LATEST_VERSION_ID = "#LATEST"


def to_dynamodb(value: Any) -> Any:
    """JSON-like data with floats as Decimal, as boto3's DynamoDB resource requires."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_dynamodb(value: Any) -> Any:
    """The reverse of :func:`to_dynamodb`: Decimals back to int or float."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent >= 0 else float(value)  # type: ignore[operator]
    if isinstance(value, list):
        return [from_dynamodb(item) for item in value]
    if isinstance(value, dict):
        return {name: from_dynamodb(item) for name, item in value.items()}
    return value


def record_item(record: FaceRecord) -> dict[str, Any]:
    """The DynamoDB item for one image version."""
    item: dict[str, Any] = {
        "imageKey": record.key,
        "versionId": record.version_id,
        "bucket": record.bucket,
        "etag": record.etag,
        "size": record.size,
        "sequencer": record.sequencer,
        "sortableSequencer": sortable_sequencer(record.sequencer),
        "status": record.status,
        "faceCount": record.face_count,
        "faces": record.faces,
        "detectedAt": record.detected_at,
        "executionArn": record.execution_arn,
        "eventTime": record.event_time,
    }
    for name, value in (("error", record.error), ("reason", record.reason)):
        if value is not None:
            item[name] = value
    return to_dynamodb(item)


def record_from_item(item: dict[str, Any]) -> FaceRecord:
    data = from_dynamodb(item)
    return FaceRecord(
        bucket=data["bucket"],
        key=data["imageKey"],
        version_id=data["versionId"],
        etag=data.get("etag", ""),
        size=data.get("size", 0),
        sequencer=data.get("sequencer", ""),
        status=data["status"],
        face_count=data.get("faceCount", 0),
        faces=data.get("faces", []),
        detected_at=data.get("detectedAt", ""),
        execution_arn=data.get("executionArn", ""),
        error=data.get("error"),
        reason=data.get("reason"),
        event_time=data.get("eventTime", ""),
        notified_at=data.get("notifiedAt"),
    )


def _supersedes_condition(status: str) -> str:
    """ConditionExpression form of ``supersedes``: new item, higher sequencer, or repair."""
    condition = "attribute_not_exists(imageKey) OR sortableSequencer < :sequencer"
    if status == DETECTED:
        condition += " OR (sortableSequencer = :sequencer AND #status = :failed)"
    return condition


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoDbRecordStore:
    """Face records in DynamoDB via a boto3 ``Table`` resource."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def _put_if_supersedes(self, item: dict[str, Any]) -> bool:
        condition: dict[str, Any] = {
            "ConditionExpression": _supersedes_condition(item["status"]),
            "ExpressionAttributeValues": {":sequencer": item["sortableSequencer"]},
        }
        if item["status"] == DETECTED:
            condition["ExpressionAttributeNames"] = {"#status": "status"}
            condition["ExpressionAttributeValues"][":failed"] = FAILED
        with named_aws_errors(f"writing the record of {item['imageKey']!r} to DynamoDB"):
            try:
                self._table.put_item(Item=item, **condition)
            except ClientError as error:
                if _condition_failed(error):
                    return False
                raise
        return True

    def put_if_newer(self, record: FaceRecord) -> bool:
        item = record_item(record)
        written = self._put_if_supersedes(item)
        # Always try the latest view too: if an earlier attempt wrote the version item but
        # failed here, the retry must still move the view forward.
        latest = {
            name: item[name]
            for name in (
                "imageKey",
                "bucket",
                "sequencer",
                "sortableSequencer",
                "status",
                "faceCount",
                "detectedAt",
                "executionArn",
            )
        }
        latest.update(versionId=LATEST_VERSION_ID, latestVersionId=record.version_id)
        self._put_if_supersedes(latest)
        return written

    def get(self, key: str, version_id: str) -> FaceRecord | None:
        with named_aws_errors(f"reading the record of {key!r} from DynamoDB"):
            response = self._table.get_item(
                Key={"imageKey": key, "versionId": version_id}, ConsistentRead=True
            )
        item = response.get("Item")
        return record_from_item(item) if item else None

    def latest_version_id(self, key: str) -> str | None:
        """The version id of the newest recorded upload of ``key``, by S3 sequencer."""
        with named_aws_errors(f"reading the latest version of {key!r} from DynamoDB"):
            response = self._table.get_item(
                Key={"imageKey": key, "versionId": LATEST_VERSION_ID}, ConsistentRead=True
            )
        item = response.get("Item")
        return str(item["latestVersionId"]) if item else None

    def claim_notification(
        self,
        key: str,
        version_id: str,
        claimant: str | None = None,
        sequencer: str | None = None,
    ) -> bool:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        values: dict[str, Any] = {":now": now}
        update = "SET notifiedAt = :now"
        free = "attribute_not_exists(notifiedAt)"
        if claimant is not None:  # remembered so only this claimant's release undoes it
            update += ", notifiedBy = :claimant"
            values[":claimant"] = claimant
            # The same execution again (a Step Functions retry) takes back its own claim
            # when no email was recorded as sent; another execution's claim is left alone.
            free = f"({free} OR (notifiedBy = :claimant AND attribute_not_exists(sentAt)))"
        condition = f"attribute_exists(imageKey) AND {free}"
        if sequencer is not None:  # only the record of this upload, not a newer one
            condition += " AND sortableSequencer = :sequencer"
            values[":sequencer"] = sortable_sequencer(sequencer)
        return self._update_if(
            key, version_id, update, condition, values, doing="claiming the notification"
        )

    def mark_notification_sent(
        self, key: str, version_id: str, message_id: str, claimant: str | None = None
    ) -> bool:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        values: dict[str, Any] = {":now": now, ":message": message_id}
        condition = "attribute_exists(notifiedAt)"
        if claimant is not None:
            condition += " AND notifiedBy = :claimant"
            values[":claimant"] = claimant
        return self._update_if(
            key,
            version_id,
            "SET sentAt = :now, messageId = :message",
            condition,
            values,
            doing="recording the sent notification",
        )

    def _update_if(
        self,
        key: str,
        version_id: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        doing: str,
    ) -> bool:
        """One conditional UpdateItem; False when the condition does not hold."""
        with named_aws_errors(f"{doing} of {key!r} in DynamoDB"):
            try:
                self._table.update_item(
                    Key={"imageKey": key, "versionId": version_id},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    # DynamoDB refuses an empty map here.
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
            except ClientError as error:
                if _condition_failed(error):
                    return False
                raise
        return True

    def release_notification(self, key: str, version_id: str, claimant: str | None = None) -> None:
        # A claim whose email was sent is never released: that would let a second email go.
        condition = "attribute_exists(imageKey) AND attribute_not_exists(sentAt)"
        values: dict[str, Any] = {}
        if claimant is not None:  # only a claim this claimant holds
            condition += " AND notifiedBy = :claimant"
            values[":claimant"] = claimant
        self._update_if(
            key,
            version_id,
            "REMOVE notifiedAt, notifiedBy",
            condition,
            values,
            doing="releasing the notification",
        )
