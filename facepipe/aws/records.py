"""The stored record of an image version in the stack's DynamoDB table."""

from __future__ import annotations

from typing import Any

from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.domain.model import FaceRecord


def fetch_record(dynamodb: Any, table_name: str, key: str, version_id: str) -> FaceRecord | None:
    """The record under partition ``imageKey`` = key, sort ``versionId`` = version id."""
    return DynamoDbRecordStore(dynamodb.Table(table_name)).get(key, version_id)
