"""The table the moto-backed tests create is the table the stack deploys."""

from __future__ import annotations

from face_table import FACE_TABLE_SCHEMA
from infra_synth import Synthesized


def test_tests_use_the_deployed_key_schema_and_billing(default_stack: Synthesized) -> None:
    _, table = default_stack.only("AWS::DynamoDB::Table")
    properties = table["Properties"]
    assert properties["KeySchema"] == FACE_TABLE_SCHEMA["KeySchema"]
    assert properties["AttributeDefinitions"] == FACE_TABLE_SCHEMA["AttributeDefinitions"]
    assert properties["BillingMode"] == FACE_TABLE_SCHEMA["BillingMode"]
