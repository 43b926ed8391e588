"""ResultWriter: a Map Run's child execution results in the bucket, in AWS's layout.

Follows https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html:
under `<Prefix>/<map run id>/` go `SUCCEEDED_0.json`, `FAILED_0.json` (failed, timed out and
aborted children) and `PENDING_0.json` (children never started because the run failed), each
a JSON array of the children's results (ExecutionArn, Input, InputDetails, Name, Output or
Error/Cause, RedriveCount, RedriveStatus, StartDate, StateMachineArn, Status, StopDate),
written only when it has an entry, and `manifest.json` (DestinationBucket, MapRunArn,
ResultFiles {FAILED, PENDING, SUCCEEDED: [{Key, Size}]}). The Map state's output is then
`{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.

WriterConfig (Transformation NONE | COMPACT | FLATTEN, OutputType JSON | JSONL) shapes the
entries: COMPACT keeps only each child's output, FLATTEN also spreads array outputs; JSONL
writes one entry per line (`.jsonl` files). Without Resource, WriterConfig shapes the state's
own output instead of writing. A failure to write is States.ResultWriterFailed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO, Any

from facepipe.engine.errors import RESULT_WRITER_FAILED, StatesError
from facepipe.engine.history import to_json
from facepipe.engine.maprun import ABORTED, FAILED, PENDING, SUCCEEDED, TIMED_OUT, ChildExecution
from facepipe.engine.objectstore import ObjectStore, ObjectStoreError
from facepipe.engine.timestamps import format_timestamp

PUT_OBJECT = "arn:aws:states:::s3:putObject"
TRANSFORMATIONS = ("NONE", "COMPACT", "FLATTEN")
OUTPUT_TYPES = ("JSON", "JSONL")
_FILE_OF_STATUS = {SUCCEEDED: SUCCEEDED, FAILED: FAILED, TIMED_OUT: FAILED, ABORTED: FAILED,
                   PENDING: PENDING}  # fmt: skip
_SPOOL_BYTES = 1 << 20  # results past 1 MB per file wait on disk, not in memory


@dataclass(frozen=True)
class WriterPlan:
    """A ResultWriter worked out for one attempt (bucket None: WriterConfig only)."""

    bucket: str | None
    prefix: str
    transformation: str  # NONE when writing to the bucket and not said otherwise
    output_type: str


def entry(child: ChildExecution, transformation: str) -> list[Any]:
    """What one child contributes to the results (FLATTEN may give several values)."""
    if transformation != "NONE" and child.status == SUCCEEDED:
        output = _loads(child.output)
        if transformation == "FLATTEN" and isinstance(output, list):
            return output
        return [output]
    result: dict[str, Any] = {
        "ExecutionArn": child.execution_arn,
        "Input": child.input,
        "InputDetails": {"Included": True},
        "Name": child.name,
    }
    if child.output is not None:
        result["Output"] = child.output
        result["OutputDetails"] = {"Included": True}
    if child.error is not None:
        result["Error"] = child.error
    if child.cause is not None:
        result["Cause"] = child.cause
    result.update(
        {
            "RedriveCount": 0,
            "RedriveStatus": "NOT_REDRIVABLE",
            "RedriveStatusReason": f"Execution is {child.status} and cannot be redriven",
            "StartDate": format_timestamp(child.start_date),
            "StateMachineArn": child.state_machine_arn,
            "Status": child.status,
        }
    )
    if child.stop_date is not None:
        result["StopDate"] = format_timestamp(child.stop_date)
    return [result]


def _loads(text: str | None) -> Any:
    import json

    return None if text is None else json.loads(text)


class ResultFiles:
    """The result files of one Map Run, filled as children finish (spooled past 1 MB)."""

    def __init__(self, plan: WriterPlan) -> None:
        self.plan = plan
        self._files: dict[str, IO[str]] = {}
        self._counts: dict[str, int] = {}

    def add(self, child: ChildExecution) -> int:
        """Add a finished (or never started) child; returns how many entries it gave."""
        kind = _FILE_OF_STATUS[child.status]
        values = entry(child, self.plan.transformation)
        out = self._files.get(kind)
        if out is None:
            out = self._files[kind] = tempfile.SpooledTemporaryFile(_SPOOL_BYTES, "w+")  # noqa: SIM115
            self._counts[kind] = 0
        for value in values:
            if self.plan.output_type == "JSONL":
                out.write(to_json(value) + "\n")
            else:
                out.write(("," if self._counts[kind] else "[") + to_json(value))
            self._counts[kind] += 1
        return len(values)

    def text(self, kind: str) -> str:
        out = self._files.get(kind)
        if out is None:
            return "" if self.plan.output_type == "JSONL" else "[]"
        out.seek(0)
        body = out.read()
        return body if self.plan.output_type == "JSONL" else body + "]"

    def write(self, store: ObjectStore | None, map_run_arn: str) -> dict[str, Any]:
        """Put the result files and the manifest; the Map state's output."""
        bucket = self.plan.bucket
        assert bucket is not None
        if store is None:
            raise StatesError(RESULT_WRITER_FAILED, "no object store was given to the engine")
        run_id = map_run_arn.rsplit(":", 1)[-1]
        prefix = self.plan.prefix
        folder = f"{prefix}/" if prefix and not prefix.endswith("/") else prefix
        folder += f"{run_id}/"
        extension = "jsonl" if self.plan.output_type == "JSONL" else "json"
        files: dict[str, list[dict[str, Any]]] = {FAILED: [], PENDING: [], SUCCEEDED: []}
        for kind in (SUCCEEDED, FAILED, PENDING):
            if kind not in self._files:
                continue
            body = self.text(kind).encode()
            key = f"{folder}{kind}_0.{extension}"
            _put(store, bucket, key, body)
            files[kind].append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        key = f"{folder}manifest.json"
        _put(store, bucket, key, to_json(manifest).encode())
        self.close()
        return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}

    def close(self) -> None:
        for out in self._files.values():
            out.close()
        self._files.clear()


def _put(store: ObjectStore, bucket: str, key: str, body: bytes) -> None:
    try:
        store.put_object(bucket, key, body)
    except ObjectStoreError as error:
        raise StatesError(
            RESULT_WRITER_FAILED, f"{error.message} (Service: S3, Error Code: {error.code})"
        ) from None
