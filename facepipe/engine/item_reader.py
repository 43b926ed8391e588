"""ItemReader: a Distributed Map's items from the bucket, read through the ObjectStore port.

Follows https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html:

- `arn:aws:states:::s3:listObjectsV2` (Bucket, Prefix): one item per object, `{"Etag",
  "Key", "LastModified" (epoch seconds), "Size", "StorageClass"}`, page after page;
- `arn:aws:states:::s3:getObject` (Bucket, Key) with `ReaderConfig.InputType`: JSON (an
  array), JSONL (one value per line), CSV (a row per item, every value a string, the header
  from the first row or `CSVHeaders`), MANIFEST (an S3 Inventory manifest.json: the rows of
  its CSV data files, named by its fileSchema).

`MaxItems` stops after that many (0: no limit; at most 100,000,000). Failures are
States.ItemReaderFailed with the causes AWS records ("Attempting to map over non-iterable
node.", "CSV headers cannot contain duplicates.", "field MaxItems must be positive").
Items are produced lazily, so a listing of any length is never held whole.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from facepipe.engine.errors import ITEM_READER_FAILED, StatesError
from facepipe.engine.objectstore import ObjectStore, ObjectStoreError

LIST_OBJECTS_V2 = "arn:aws:states:::s3:listObjectsV2"
GET_OBJECT = "arn:aws:states:::s3:getObject"
RESOURCES = (LIST_OBJECTS_V2, GET_OBJECT)
INPUT_TYPES = ("JSON", "JSONL", "CSV", "MANIFEST")
MAX_ITEMS_LIMIT = 100_000_000


@dataclass(frozen=True)
class ReaderPlan:
    """An ItemReader with its Parameters/Arguments and MaxItems worked out for one attempt."""

    resource: str
    parameters: dict[str, Any]
    input_type: str | None
    header_location: str
    headers: tuple[str, ...]
    max_items: int  # 0: no limit


def failed(cause: str) -> StatesError:
    return StatesError(ITEM_READER_FAILED, cause)


def read_items(store: ObjectStore | None, plan: ReaderPlan) -> Iterator[Any]:
    """The items, lazily; a reader failure is raised as States.ItemReaderFailed."""
    if plan.max_items < 0:
        raise failed("field MaxItems must be positive")
    if store is None:
        raise failed("no object store was given to the engine, so the bucket cannot be read")
    bucket = plan.parameters.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise failed("The field 'Bucket' is required and must be a string")
    if plan.resource == LIST_OBJECTS_V2:
        prefix = plan.parameters.get("Prefix", "")
        items = _listed(store, bucket, prefix if isinstance(prefix, str) else "")
    else:
        key = plan.parameters.get("Key")
        if not isinstance(key, str) or not key:
            raise failed("The field 'Key' is required and must be a string")
        items = _file_items(store, bucket, key, plan)
    limit = min(plan.max_items, MAX_ITEMS_LIMIT) or None
    return itertools.islice(items, limit)


def _call(what: str, call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except ObjectStoreError as error:
        raise failed(f"{error.message} (Service: S3, Error Code: {error.code}) in {what}") from None


def _listed(store: ObjectStore, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = _call("ListObjectsV2", store.list_objects_v2, bucket, prefix, token)
        for entry in page.contents:
            modified = entry["LastModified"]
            yield {
                "Etag": entry["ETag"],
                "Key": entry["Key"],
                "LastModified": int(modified.timestamp()) if hasattr(modified, "timestamp")
                else modified,
                "Size": entry["Size"],
                "StorageClass": entry.get("StorageClass", "STANDARD"),
            }  # fmt: skip
        token = page.next_token
        if token is None:
            return


def _text(store: ObjectStore, bucket: str, key: str) -> str:
    body = _call("GetObject", store.get_object, bucket, key)
    if key.endswith(".gz"):
        body = gzip.decompress(body)
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise failed(f"The object {key} is not UTF-8 text") from None


def _file_items(store: ObjectStore, bucket: str, key: str, plan: ReaderPlan) -> Iterator[Any]:
    text = _text(store, bucket, key)
    if plan.input_type == "JSON":
        return _json_items(text)
    if plan.input_type == "JSONL":
        return _jsonl_items(text)
    if plan.input_type == "CSV":
        return _csv_items(text, plan.header_location, plan.headers)
    return _manifest_items(store, text)


def _json_items(text: str) -> Iterator[Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as bad:
        raise failed(f"Cannot parse the JSON file: {bad}") from None
    if not isinstance(document, list):
        raise failed("Attempting to map over non-iterable node.")
    return iter(document)


def _jsonl_items(text: str) -> Iterator[Any]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as bad:
            raise failed(f"Cannot parse line {number} of the JSONL file: {bad}") from None


def _csv_items(text: str, location: str, given: tuple[str, ...]) -> Iterator[dict[str, str]]:
    rows = csv.reader(io.StringIO(text))
    headers = list(given) if location == "GIVEN" else next(rows, [])
    if len(set(headers)) != len(headers):
        raise failed("CSV headers cannot contain duplicates.")
    for row in rows:
        # A short row is padded with empty strings; fields past the headers are dropped.
        yield {name: row[i] if i < len(row) else "" for i, name in enumerate(headers)}


def _manifest_items(store: ObjectStore, text: str) -> Iterator[dict[str, str]]:
    """S3 Inventory: manifest.json names CSV data files (gzip) and their columns."""
    try:
        manifest = json.loads(text)
        files = manifest["files"]
        schema = [name.strip() for name in manifest["fileSchema"].split(",")]
        destination = str(manifest["destinationBucket"]).rsplit(":", 1)[-1]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise failed(
            "The manifest is not an S3 Inventory manifest.json (files, fileSchema, "
            "destinationBucket)"
        ) from None
    if manifest.get("fileFormat", "CSV") != "CSV":
        raise failed(f"Unsupported S3 Inventory file format: {manifest.get('fileFormat')}")
    for entry in files:
        data = _text(store, destination, entry["key"])
        for row in csv.reader(io.StringIO(data)):
            yield {name: row[i] if i < len(row) else "" for i, name in enumerate(schema)}
