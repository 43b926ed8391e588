"""A Distributed Map over the local bucket: 10,000 objects, batches of 100, results written.

The definition is the backfill's shape: ItemReader `s3:listObjectsV2` over a prefix of a
fresh local bucket (facepipe's LocalObjectStore behind the engine's ObjectStore port,
`facepipe/local/engine_bucket.py`), ItemBatcher `MaxItemsPerBatch` 100, a Task per batch
(a Python handler that sums the batch's sizes), ResultWriter `s3:putObject` into a results
bucket. Child histories go to a MapRunStore that keeps them on disk (the hook a host uses to
persist them), so memory should not grow with the number of children.

Prints the resident set (VmRSS) after each quarter of the items, the peak (VmHWM), items per
second over the run (bucket filling excluded) and checks the manifest and the counts.

Run: .venv/bin/python bench/distributed_map.py [--items 10000] [--batch 100] [--concurrency 0]
The last line is ``items=N items_per_s=R rss_mb_quarters=a,b,c,d peak_rss_mb=P``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from facepipe.engine import StateMachine, SystemClock
from facepipe.engine.maprun import ChildExecution, InMemoryMapRunStore
from facepipe.local.engine_bucket import EngineBucket
from facepipe.local.objectstore import LocalObjectStore


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class DiskHistories(InMemoryMapRunStore):
    """Keeps runs and child records in memory, finished children's histories on disk
    (one JSON file each), and notes the RSS each time another quarter of the items is done."""

    def __init__(self, folder: Path, total_items: int) -> None:
        super().__init__()
        self.folder = folder
        self.total = total_items
        self.done_items = 0
        self.quarters: list[float] = []
        self._count_lock = threading.Lock()

    def save_child(self, child: ChildExecution, history: list[dict[str, Any]] | None) -> None:
        if history is not None:
            path = self.folder / f"{child.name}.json"
            path.write_text(json.dumps(history, default=str))
        super().save_child(child, None)
        if child.status != "RUNNING":
            with self._count_lock:
                self.done_items += child.item_count
                while (
                    len(self.quarters) < 4
                    and self.done_items >= self.total * (len(self.quarters) + 1) / 4
                ):
                    self.quarters.append(memory_mb("VmRSS"))

    def child_history(self, execution_arn: str) -> list[dict[str, Any]] | None:
        child = self.child(execution_arn)
        if child is None:
            return None
        path = self.folder / f"{child.name}.json"
        return json.loads(path.read_text()) if path.exists() else None


def definition(batch: int, concurrency: int) -> dict[str, Any]:
    return {
        "StartAt": "Backfill",
        "States": {
            "Backfill": {
                "Type": "Map",
                "Label": "Backfill",
                "MaxConcurrency": concurrency,
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": "photos", "Prefix": "uploads/"},
                },
                "ItemBatcher": {"MaxItemsPerBatch": batch,
                                "BatchInput": {"requestedBy.$": "$.requestedBy"}},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Measure",
                    "States": {"Measure": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:measure",
                        "End": True,
                    }},
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "results", "Prefix": "backfill"},
                },
                "End": True,
            }
        },
    }  # fmt: skip


def measure(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"objects": len(event["Items"]), "bytes": sum(i["Size"] for i in event["Items"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=0, help="MaxConcurrency (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dmap_") as scratch:
        root = Path(scratch)
        local = LocalObjectStore(root / "buckets")
        began = time.perf_counter()
        for i in range(args.items):
            local.put_object("photos", f"uploads/{i:06}.jpg", b"x" * (100 + i % 50))
        local.put_object("results", ".keep", b"")
        print(f"bucket filled with {args.items} objects in {time.perf_counter() - began:.1f} s")
        (root / "histories").mkdir()
        store = DiskHistories(root / "histories", args.items)
        machine = StateMachine(definition(args.batch, args.concurrency), map_run_store=store)
        rss_before = memory_mb("VmRSS")
        started = time.perf_counter()
        result = machine.run(
            {"requestedBy": "bench"}, resolver={"measure": measure}, clock=SystemClock(),
            object_store=EngineBucket(local),
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        described = machine.describe_map_run(result.output["MapRunArn"])
        assert described["itemCounts"]["succeeded"] == args.items, described
        manifest_key = result.output["ResultWriterDetails"]["Key"]
        manifest = json.loads(local.get_bytes("results", manifest_key))
        (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
        entries = json.loads(local.get_bytes("results", succeeded["Key"]))
        assert sum(json.loads(e["Output"])["objects"] for e in entries) == args.items
        a_child = machine.list_executions(map_run_arn=result.output["MapRunArn"])["executions"][0]
        assert machine.get_execution_history(a_child["executionArn"])["events"]
        local.close()
    rate = args.items / elapsed
    quarters = ",".join(f"{mb:.1f}" for mb in store.quarters)
    print(f"children={described['executionCounts']['total']} elapsed_s={elapsed:.2f} "
          f"rss_before_mb={rss_before:.1f}")  # fmt: skip
    for n, mb in enumerate(store.quarters, start=1):
        print(f"after {n}/4 of the items: rss_mb={mb:.1f}")
    print(f"items={args.items} items_per_s={rate:.0f} rss_mb_quarters={quarters} "
          f"peak_rss_mb={memory_mb('VmHWM'):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
