"""The face-records DynamoDB table as the CDK stack defines it, for moto-backed tests.

tests/infra/test_infra_face_table_schema.py checks this schema against the synthesized stack,
so the Lambda, parity and reliability tests run against the table that is deployed.
"""

from __future__ import annotations

from typing import Any

FACE_TABLE_SCHEMA: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "imageKey", "KeyType": "HASH"},
        {"AttributeName": "versionId", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "imageKey", "AttributeType": "S"},
        {"AttributeName": "versionId", "AttributeType": "S"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def create_face_table(name: str) -> Any:
    """Create the table in the current (moto) account and return its boto3 resource."""
    import boto3

    return boto3.resource("dynamodb").create_table(TableName=name, **FACE_TABLE_SCHEMA)
