"""A Distributed Map over facepipe's local bucket, through facepipe/local/engine_bucket.py.

The adapter answers the engine's ObjectStore port as S3 answers ListObjectsV2 (pages of at
most 1,000, by key, with ETag, LastModified, Size, StorageClass:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html), GetObject and
PutObject, with S3's error codes; the Map reads and writes as the ItemReader and ResultWriter
pages describe (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html).
"""

from __future__ import annotations

import json

import pytest
from map_run_helpers import distributed_map

from facepipe.engine import StateMachine
from facepipe.engine.objectstore import ObjectStoreError
from facepipe.local.engine_bucket import EngineBucket
from facepipe.local.objectstore import LocalObjectStore


@pytest.fixture
def local(tmp_path):
    store = LocalObjectStore(tmp_path / "buckets")
    yield store
    store.close()


def test_listing_pages_and_errors_are_s3s(local):
    for i in range(1002):
        local.put_object("photos", f"in/{i:04}.jpg", b"x")
    local.put_object("photos", "other/skip.jpg", b"x")
    local.delete_object("photos", "in/0000.jpg")
    bucket = EngineBucket(local)
    first = bucket.list_objects_v2("photos", "in/")
    assert len(first.contents) == 1000 and first.next_token is not None
    second = bucket.list_objects_v2("photos", "in/", first.next_token)
    assert [o["Key"] for o in second.contents] == ["in/1001.jpg"] and second.next_token is None
    entry = first.contents[0]
    assert entry["Key"] == "in/0001.jpg" and entry["Size"] == 1
    assert entry["ETag"] == local.head("photos", "in/0001.jpg").etag
    assert entry["LastModified"].tzinfo is not None and entry["StorageClass"] == "STANDARD"
    with pytest.raises(ObjectStoreError) as missing_bucket:
        bucket.list_objects_v2("nobucket")
    assert missing_bucket.value.code == "NoSuchBucket"
    with pytest.raises(ObjectStoreError) as missing_key:
        bucket.get_object("photos", "in/0000.jpg")  # deleted
    assert missing_key.value.code == "NoSuchKey"


def test_a_distributed_map_reads_the_local_bucket_and_writes_its_results(local):
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        local.put_object("photos", f"uploads/{name}", name.encode())
    local.put_object("results", "keep", b"")
    definition = distributed_map(
        {"P": {"Type": "Pass", "Parameters": {"keys.$": "$.Items[*].Key"}, "End": True}},
        ItemReader={"Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": "photos", "Prefix": "uploads/"}},
        ItemBatcher={"MaxItemsPerBatch": 2},
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": "results", "Prefix": "backfill"}},
        MaxConcurrency=1,
    )  # fmt: skip
    machine = StateMachine(definition)
    result = machine.run({}, object_store=EngineBucket(local))
    assert result.status == "SUCCEEDED", result.cause
    manifest_key = result.output["ResultWriterDetails"]["Key"]
    manifest = json.loads(local.get_bytes("results", manifest_key))
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    entries = json.loads(local.get_bytes("results", succeeded["Key"]))
    outputs = sorted(json.loads(e["Output"])["keys"] for e in entries)
    assert outputs == [["uploads/a.jpg", "uploads/b.jpg"], ["uploads/c.jpg"]]
    described = machine.describe_map_run(result.output["MapRunArn"])
    assert described["itemCounts"]["total"] == 3 and described["executionCounts"]["total"] == 2
