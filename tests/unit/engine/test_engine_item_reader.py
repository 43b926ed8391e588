"""ItemReader: a Distributed Map's items from the bucket, through the ObjectStore port.

Follows https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html
(listObjectsV2 items: Etag, Key, LastModified, Size, StorageClass; getObject with
ReaderConfig.InputType JSON, JSONL, CSV, MANIFEST; MaxItems up to 100,000,000) and the
results recorded against AWS in LocalStack's validated snapshots (test_base_scenarios:
MapStateStarted length 0 with a reader; the CSV rows of test_map_item_reader_base_csv_*; the
causes "Attempting to map over non-iterable node.", "CSV headers cannot contain
duplicates.", "field MaxItems must be positive"; a MaxItemsPath of 1.5 is States.Runtime
before the Map Run starts; ItemsPath is not read when a reader gives the items).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime

from map_run_helpers import distributed_map, machine_and_run, types

from facepipe.engine.objectstore import MemoryObjectStore

GET, LIST = "arn:aws:states:::s3:getObject", "arn:aws:states:::s3:listObjectsV2"
# The CSV file of LocalStack's AWS-validated test_map_item_reader_base_csv_headers_first_line.
CSV_FILE = "Col1,Col2,Col3\nValue1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"  # noqa: E501


def _reader(resource=GET, input_type=None, **config) -> dict:
    reader = {"Resource": resource, "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key"}}
    if resource == LIST:
        reader["Parameters"] = {"Bucket.$": "$.Bucket", "Prefix": "in/"}
    if input_type is not None:
        config["InputType"] = input_type
    if config:
        reader["ReaderConfig"] = config
    return reader


def _run(reader: dict, objects: dict[str, bytes | str], execution_input=None, **fields):
    store = MemoryObjectStore(
        {"data": {k: v.encode() if isinstance(v, str) else v for k, v in objects.items()}},
        modified=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    execution_input = execution_input or {"Bucket": "data", "Key": next(iter(objects), "")}
    definition = distributed_map(ItemReader=reader, **fields)
    return machine_and_run(definition, execution_input, store)[1]


def _md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def test_list_objects_v2_gives_one_item_per_object_under_the_prefix():
    result = _run(_reader(LIST), {"in/a.jpg": "aaa", "in/b.jpg": "bb", "other/c.jpg": "c"})
    assert result.status == "SUCCEEDED"
    assert result.output == [
        {"Etag": f'"{_md5(b"aaa")}"', "Key": "in/a.jpg",
         "LastModified": 1714564800, "Size": 3, "StorageClass": "STANDARD"},
        {"Etag": f'"{_md5(b"bb")}"', "Key": "in/b.jpg",
         "LastModified": 1714564800, "Size": 2, "StorageClass": "STANDARD"},
    ]  # fmt: skip
    assert result.history[2]["mapStateStartedEventDetails"] == {"length": 0}
    assert types(result.history)[3:5] == ["MapRunStarted", "MapRunSucceeded"]


def test_list_objects_v2_reads_every_page():
    objects = {f"in/{i:05}": b"" for i in range(2500)}
    result = _run(_reader(LIST), objects, ItemSelector={"k.$": "$$.Map.Item.Value.Key"})
    assert [item["k"] for item in result.output] == sorted(objects)


def test_json_array():
    items = [{"verdict": "true"}, {"verdict": "false"}]
    assert _run(_reader(input_type="JSON"), {"f.json": json.dumps(items)}).output == items


def test_json_that_is_no_array_fails_the_map_run():
    result = _run(_reader(input_type="JSON"), {"f.json": '{"a": 1}'})
    assert (result.error, result.cause) == (
        "States.ItemReaderFailed", "Attempting to map over non-iterable node."
    )  # fmt: skip
    assert types(result.history)[3:] == ["MapRunStarted", "MapRunFailed", "MapStateFailed",
                                         "ExecutionFailed"]  # fmt: skip
    assert result.history[4]["mapRunFailedEventDetails"] == {
        "error": "States.ItemReaderFailed", "cause": "Attempting to map over non-iterable node."
    }  # fmt: skip


def test_jsonl_one_value_per_line():
    result = _run(_reader(input_type="JSONL"), {"f.jsonl": '{"a":1}\n[2]\n\n"x"\n'})
    assert result.output == [{"a": 1}, [2], "x"]


def test_csv_header_from_the_first_row_as_aws_reads_it():
    result = _run(_reader(input_type="CSV", CSVHeaderLocation="FIRST_ROW"), {"f.csv": CSV_FILE})
    assert result.output == [
        {"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"},
        {"Col1": "Value4", "Col2": "Value5", "Col3": "Value6"},
        {"Col1": "", "Col2": "", "Col3": ""},
        {"Col1": "true", "Col2": "1", "Col3": "'HelloWorld'"},
        {"Col1": "Null", "Col2": "None", "Col3": ""},
        {"Col1": "   ", "Col2": "", "Col3": ""},
    ]


def test_csv_given_headers_keep_only_their_columns():
    reader = _reader(input_type="CSV", CSVHeaderLocation="GIVEN", CSVHeaders=["H1"])
    result = _run(reader, {"f.csv": CSV_FILE})
    assert result.output[:2] == [{"H1": "Col1"}, {"H1": "Value1"}]


def test_csv_duplicate_headers_fail():
    reader = _reader(input_type="CSV", CSVHeaderLocation="GIVEN", CSVHeaders=["H", "H"])
    result = _run(reader, {"f.csv": CSV_FILE})
    assert (result.error, result.cause) == (
        "States.ItemReaderFailed", "CSV headers cannot contain duplicates."
    )  # fmt: skip


def test_max_items_and_max_items_path():
    csv_file = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n"
    two = _run(_reader(input_type="CSV", MaxItems=2), {"f.csv": csv_file})
    assert two.output == [{"Col1": "Value1", "Col2": "Value2"},
                          {"Col1": "Value3", "Col2": "Value4"}]  # fmt: skip
    assert len(_run(_reader(input_type="CSV", MaxItems=0), {"f.csv": csv_file}).output) == 4
    by_path = _reader(input_type="CSV", MaxItemsPath="$.MaxItems")
    inputs = {"Bucket": "data", "Key": "f.csv"}
    assert len(_run(by_path, {"f.csv": csv_file}, {**inputs, "MaxItems": 3}).output) == 3
    negative = _run(by_path, {"f.csv": csv_file}, {**inputs, "MaxItems": -1})
    assert (negative.error, negative.cause) == (
        "States.ItemReaderFailed", "field MaxItems must be positive"
    )  # fmt: skip
    fraction = _run(by_path, {"f.csv": csv_file}, {**inputs, "MaxItems": 1.5})
    assert fraction.error == "States.Runtime"
    assert fraction.cause == (
        "An error occurred while executing the state 'M' (entered at the event id #2). The "
        'MaxItemsPath field refers to value "1.5" which is not a valid integer: $.MaxItems'
    )
    assert types(fraction.history) == ["ExecutionStarted", "MapStateEntered",
                                       "MapStateStarted", "ExecutionFailed"]  # fmt: skip


def test_items_path_is_not_read_when_a_reader_gives_the_items():
    result = _run(_reader(input_type="JSON"), {"f.json": '[["from-bucket-item-0"]]'},
                  ItemsPath="$.nothing.here")  # fmt: skip
    assert result.output == [["from-bucket-item-0"]]


def test_manifest_reads_the_inventory_csv_data_files():
    manifest = {
        "sourceBucket": "photos",
        "destinationBucket": "arn:aws:s3:::data",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/1.csv.gz", "size": 1, "MD5checksum": "x"},
                  {"key": "inv/data/2.csv.gz", "size": 1, "MD5checksum": "y"}],
    }  # fmt: skip
    objects = {
        "inv/manifest.json": json.dumps(manifest),
        "inv/data/1.csv.gz": gzip.compress(b'"photos","a.jpg","10"\n"photos","b.jpg","20"\n'),
        "inv/data/2.csv.gz": gzip.compress(b'"photos","c.jpg","30"\n'),
    }
    result = _run(_reader(input_type="MANIFEST"), objects,
                  {"Bucket": "data", "Key": "inv/manifest.json"})  # fmt: skip
    assert result.output == [
        {"Bucket": "photos", "Key": "a.jpg", "Size": "10"},
        {"Bucket": "photos", "Key": "b.jpg", "Size": "20"},
        {"Bucket": "photos", "Key": "c.jpg", "Size": "30"},
    ]


def test_a_missing_key_or_bucket_is_item_reader_failed():
    missing_key = _run(_reader(input_type="JSON"), {"f.json": "[]"}, {"Bucket": "data",
                                                                     "Key": "nope"})  # fmt: skip
    assert missing_key.error == "States.ItemReaderFailed"
    assert "NoSuchKey" in missing_key.cause
    missing_bucket = _run(_reader(LIST), {}, {"Bucket": "elsewhere"})
    assert missing_bucket.error == "States.ItemReaderFailed"
    assert "NoSuchBucket" in missing_bucket.cause


def test_a_reader_failure_can_be_caught():
    store = MemoryObjectStore({"data": {"f.json": b"{}"}})
    definition = distributed_map(ItemReader=_reader(input_type="JSON"))
    state = definition["States"]["M"]
    del state["End"]
    state["Next"] = "Done"
    state["Catch"] = [{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Done"}]
    definition["States"]["Done"] = {"Type": "Succeed"}
    result = machine_and_run(definition, {"Bucket": "data", "Key": "f.json"}, store)[1]
    assert result.output == {"Error": "States.ItemReaderFailed",
                             "Cause": "Attempting to map over non-iterable node."}  # fmt: skip
    assert types(result.history)[4:7] == ["MapRunFailed", "MapStateFailed", "MapStateExited"]


def test_jsonata_reader_arguments_and_max_items_expression():
    reader = {"Resource": GET, "Arguments": {"Bucket": "{% $states.input.Bucket %}",
                                             "Key": "{% $states.input.Key %}"},
              "ReaderConfig": {"InputType": "JSON",
                               "MaxItems": "{% $maxItems := 2 %}"}}  # fmt: skip
    store = MemoryObjectStore({"data": {"f.json": b"[1, 2, 3]"}})
    definition = distributed_map(ItemReader=reader, QueryLanguage="JSONata")
    result = machine_and_run(definition, {"Bucket": "data", "Key": "f.json"}, store)[1]
    assert result.output == [1, 2]
