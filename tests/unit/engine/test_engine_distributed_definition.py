"""Distributed Map fields refused at definition load, as Step Functions refuses them.

https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html (ItemReader,
ItemBatcher, ResultWriter belong to DISTRIBUTED mode, which needs an ExecutionType; the
reader's InputType, CSV header fields, MaxItems; the batcher's limits up to 256 KiB; the
writer's Resource and WriterConfig). The Label messages are AWS's own, recorded by
LocalStack's validated test_sfn_api_map_run ("Label cannot be empty", "Label cannot exceed
40 characters", "Label contains invalid character: ' '").
"""

from __future__ import annotations

import pytest
from map_run_helpers import distributed_map

from facepipe.engine import DefinitionError, StateMachine

GET = "arn:aws:states:::s3:getObject"
READER = {"Resource": GET, "ReaderConfig": {"InputType": "JSON"},
          "Parameters": {"Bucket": "b", "Key": "k"}}  # fmt: skip
WRITER = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}}


def _refusal(definition) -> str:
    with pytest.raises(DefinitionError) as refused:
        StateMachine(definition)
    return refused.value.reason


def _inline(**fields):
    definition = distributed_map(**fields)
    definition["States"]["M"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    return definition


@pytest.mark.parametrize("field, value", [("ItemReader", READER), ("ResultWriter", WRITER),
                                          ("ItemBatcher", {"MaxItemsPerBatch": 2})])  # fmt: skip
def test_distributed_fields_are_refused_in_inline_mode(field, value):
    assert "only allowed in a Map state whose ProcessorConfig.Mode is DISTRIBUTED" in _refusal(
        _inline(**{field: value})
    )


def test_distributed_mode_needs_an_execution_type():
    definition = distributed_map()
    del definition["States"]["M"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"]
    assert "ExecutionType must be STANDARD or EXPRESS" in _refusal(definition)


@pytest.mark.parametrize("label, reason", [
    ("", "Label cannot be empty"),
    ("1" * 41, "Label cannot exceed 40 characters"),
    ("label_ ", "Label contains invalid character: ' '"),
    ("label_:", "Label contains invalid character: ':'"),
    ("label_\x07", "Label contains invalid character: '\\x07'"),
])  # fmt: skip
def test_labels_aws_refuses(label, reason):
    assert _refusal(distributed_map(Label=label)) == reason


def test_reader_fields():
    bad_type = {**READER, "ReaderConfig": {"InputType": "XML"}}
    assert "InputType must be one of JSON, JSONL, CSV, MANIFEST" in _refusal(
        distributed_map(ItemReader=bad_type)
    )
    no_type = {**READER, "ReaderConfig": {}}
    assert "InputType" in _refusal(distributed_map(ItemReader=no_type))
    bad_resource = {**READER, "Resource": "arn:aws:states:::s3:headObject"}
    assert "ItemReader.Resource" in _refusal(distributed_map(ItemReader=bad_resource))
    given_without = {**READER, "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}}
    assert "CSVHeaders" in _refusal(distributed_map(ItemReader=given_without))
    header_not_csv = {**READER, "ReaderConfig": {"InputType": "JSON",
                                                 "CSVHeaderLocation": "FIRST_ROW"}}  # fmt: skip
    assert "only for InputType CSV" in _refusal(distributed_map(ItemReader=header_not_csv))
    too_many = {**READER, "ReaderConfig": {"InputType": "JSON", "MaxItems": 100_000_001}}
    assert "MaxItems must be an integer" in _refusal(distributed_map(ItemReader=too_many))
    both = {**READER, "ReaderConfig": {"InputType": "JSON", "MaxItems": 1, "MaxItemsPath": "$.m"}}
    assert "only one of" in _refusal(distributed_map(ItemReader=both))
    unknown = {**READER, "Extra": 1}
    assert "unknown field 'Extra'" in _refusal(distributed_map(ItemReader=unknown))


def test_batcher_and_writer_fields():
    assert "needs MaxItemsPerBatch or MaxInputBytesPerBatch" in _refusal(
        distributed_map(ItemBatcher={"BatchInput": {}})
    )
    assert "MaxInputBytesPerBatch must be an integer from 1 to 262144" in _refusal(
        distributed_map(ItemBatcher={"MaxInputBytesPerBatch": 262_145})
    )
    assert "ResultWriter.Resource must be arn:aws:states:::s3:putObject" in _refusal(
        distributed_map(ResultWriter={**WRITER, "Resource": "arn:aws:states:::s3:getObject"})
    )
    assert "needs a Bucket" in _refusal(
        distributed_map(ResultWriter={**WRITER, "Parameters": {"Prefix": "p"}})
    )
    assert "Transformation must be one of NONE, COMPACT, FLATTEN" in _refusal(
        distributed_map(ResultWriter={"WriterConfig": {"Transformation": "ALL"}})
    )
    assert "cannot be empty" in _refusal(distributed_map(ResultWriter={}))


def test_jsonata_uses_arguments_not_parameters():
    jsonata = distributed_map(ItemReader=READER, QueryLanguage="JSONata")
    assert "Parameters is not allowed" in _refusal(jsonata)
    path = {"Resource": GET, "Arguments": {"Bucket": "b", "Key": "k"},
            "ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$.m"}}  # fmt: skip
    assert "JSONPath-only" in _refusal(distributed_map(ItemReader=path, QueryLanguage="JSONata"))


def test_a_valid_distributed_map_loads():
    StateMachine(distributed_map(ItemReader=READER, ItemBatcher={"MaxItemsPerBatch": 10},
                                 ResultWriter=WRITER, Label="Backfill"))  # fmt: skip
