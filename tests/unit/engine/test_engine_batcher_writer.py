"""ItemBatcher and ResultWriter of a Distributed Map.

ItemBatcher: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html
(MaxItemsPerBatch, MaxInputBytesPerBatch up to 256 KiB, their Path forms, BatchInput; each
child gets `{"BatchInput": ..., "Items": [...]}`).
ResultWriter: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
(`<Prefix>/<map run id>/manifest.json` with DestinationBucket, MapRunArn, ResultFiles
FAILED/PENDING/SUCCEEDED; SUCCEEDED_0.json / FAILED_0.json; the state's output
`{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`, as recorded against AWS in
LocalStack's validated test_map_state_result_writer; WriterConfig Transformation/OutputType).
"""

from __future__ import annotations

import json

from map_run_helpers import distributed_map, machine_and_run, types

from facepipe.engine.objectstore import MemoryObjectStore, ObjectStoreError

WRITER = {"Resource": "arn:aws:states:::s3:putObject",
          "Parameters": {"Bucket": "results", "Prefix": "mapJobs"}}  # fmt: skip
FAIL_ON_ZERO = {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Bad"}],
          "Default": "Ok"},
    "Bad": {"Type": "Fail", "Error": "Zero", "Cause": "zero item"},
    "Ok": {"Type": "Pass", "End": True},
}  # fmt: skip


def test_max_items_per_batch_and_batch_input():
    batcher = {"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run", "fixed": 1}}
    definition = distributed_map(ItemsPath="$.xs", ItemBatcher=batcher, MaxConcurrency=1)
    machine, result = machine_and_run(definition, {"xs": [1, 2, 3, 4, 5], "run": "r1"})
    assert result.output == [
        {"BatchInput": {"run": "r1", "fixed": 1}, "Items": [1, 2]},
        {"BatchInput": {"run": "r1", "fixed": 1}, "Items": [3, 4]},
        {"BatchInput": {"run": "r1", "fixed": 1}, "Items": [5]},
    ]
    run = machine.list_map_runs(result.execution_arn)["mapRuns"][0]
    described = machine.describe_map_run(run["mapRunArn"])
    assert described["itemCounts"]["total"] == 5 and described["executionCounts"]["total"] == 3
    items = sorted(c["itemCount"] for c in
                   machine.list_executions(map_run_arn=run["mapRunArn"])["executions"])  # fmt: skip
    assert items == [1, 2, 2]


def test_max_input_bytes_per_batch_splits_by_size():
    batcher = {"MaxInputBytesPerBatch": 40}
    definition = distributed_map(ItemBatcher=batcher, MaxConcurrency=1)
    result = machine_and_run(definition, ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"])[1]
    assert result.output == [{"Items": ["aaaaaaaaaa", "bbbbbbbbbb"]}, {"Items": ["cccccccccc"]}]
    assert all(len(json.dumps(batch, separators=(",", ":"))) <= 40 for batch in result.output)


def test_batch_limits_by_path_and_jsonata():
    by_path = distributed_map(ItemBatcher={"MaxItemsPerBatchPath": "$.n"}, ItemsPath="$.xs")
    assert machine_and_run(by_path, {"xs": [1, 2, 3], "n": 2})[1].output == [
        {"Items": [1, 2]}, {"Items": [3]}
    ]  # fmt: skip
    jsonata = distributed_map(
        Items="{% $states.input.xs %}", QueryLanguage="JSONata",
        ItemBatcher={"MaxItemsPerBatch": "{% $states.input.n %}",
                     "BatchInput": {"at": "{% $states.context.State.Name %}"}},
    )  # fmt: skip
    assert machine_and_run(jsonata, {"xs": [1, 2, 3], "n": 3})[1].output == [
        {"BatchInput": {"at": "M"}, "Items": [1, 2, 3]}
    ]


def test_result_writer_writes_aws_layout_and_returns_the_manifest_location():
    store = MemoryObjectStore({"results": {}})
    definition = distributed_map(FAIL_ON_ZERO, ResultWriter=WRITER, Label="TestMap",
                                 ToleratedFailureCount=1, MaxConcurrency=1)  # fmt: skip
    machine, result = machine_and_run(definition, [1, 0, 2], store)
    map_run_arn = result.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    run_id = map_run_arn.rsplit(":", 1)[1]
    manifest_key = f"mapJobs/{run_id}/manifest.json"
    assert result.output == {
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": {"Bucket": "results", "Key": manifest_key},
    }
    files = store.buckets["results"]
    folder = f"mapJobs/{run_id}"
    assert sorted(files) == [f"{folder}/FAILED_0.json", f"{folder}/SUCCEEDED_0.json",
                             manifest_key]  # fmt: skip
    manifest = json.loads(files[manifest_key])
    assert manifest == {
        "DestinationBucket": "results",
        "MapRunArn": map_run_arn,
        "ResultFiles": {
            "FAILED": [{"Key": f"mapJobs/{run_id}/FAILED_0.json",
                        "Size": len(files[f"mapJobs/{run_id}/FAILED_0.json"])}],
            "PENDING": [],
            "SUCCEEDED": [{"Key": f"mapJobs/{run_id}/SUCCEEDED_0.json",
                           "Size": len(files[f"mapJobs/{run_id}/SUCCEEDED_0.json"])}],
        },
    }  # fmt: skip
    succeeded = json.loads(files[f"mapJobs/{run_id}/SUCCEEDED_0.json"])
    assert sorted(json.loads(entry["Input"]) for entry in succeeded) == [1, 2]
    entry = succeeded[0]
    assert set(entry) == {"ExecutionArn", "Input", "InputDetails", "Name", "Output",
                          "OutputDetails", "RedriveCount", "RedriveStatus",
                          "RedriveStatusReason", "StartDate", "StateMachineArn", "Status",
                          "StopDate"}  # fmt: skip
    assert entry["Status"] == "SUCCEEDED" and entry["InputDetails"] == {"Included": True}
    (failed,) = json.loads(files[f"mapJobs/{run_id}/FAILED_0.json"])
    assert (failed["Status"], failed["Error"], failed["Cause"]) == ("FAILED", "Zero", "zero item")
    assert machine.describe_map_run(map_run_arn)["itemCounts"]["resultsWritten"] == 3


def test_a_failed_run_writes_pending_children_too():
    store = MemoryObjectStore({"results": {}})
    definition = distributed_map(FAIL_ON_ZERO, ResultWriter=WRITER, MaxConcurrency=1)
    machine, result = machine_and_run(definition, [0, 1, 2], store)
    assert result.error == "States.ExceedToleratedFailureThreshold"
    pending = [k for k in store.buckets["results"] if k.endswith("PENDING_0.json")]
    (key,) = pending
    assert [json.loads(e["Input"]) for e in json.loads(store.buckets["results"][key])] == [1, 2]
    described = machine.describe_map_run(
        result.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    )
    assert (
        described["itemCounts"]["pending"] == 2 and described["itemCounts"]["resultsWritten"] == 3
    )


def test_writer_config_compact_and_jsonl():
    store = MemoryObjectStore({"results": {}})
    writer = {**WRITER, "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}}
    result = machine_and_run(distributed_map(ResultWriter=writer, MaxConcurrency=1),
                             [{"a": 1}, {"a": 2}], store)[1]  # fmt: skip
    (key,) = [k for k in store.buckets["results"] if k.endswith("SUCCEEDED_0.jsonl")]
    assert store.buckets["results"][key] == b'{"a":1}\n{"a":2}\n'
    assert result.output["ResultWriterDetails"]["Key"].endswith("/manifest.json")


def test_writer_config_alone_flattens_the_state_output():
    writer = {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}}
    result = machine_and_run(distributed_map(ResultWriter=writer, ItemsPath="$.xs"),
                             {"xs": [[1, 2], [3]]})[1]  # fmt: skip
    assert result.output == [1, 2, 3]


def test_a_bucket_that_refuses_the_write_is_result_writer_failed():
    class Refusing(MemoryObjectStore):
        def put_object(self, bucket, key, body):
            raise ObjectStoreError("AccessDenied", "Access Denied")

    result = machine_and_run(distributed_map(ResultWriter=WRITER), [1], Refusing())[1]
    assert result.error == "States.ResultWriterFailed"
    assert "AccessDenied" in result.cause
    assert types(result.history)[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
