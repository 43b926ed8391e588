"""Validating a Map state's Distributed Map fields when the definition is loaded.

As Step Functions does (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html):
ItemReader, ItemBatcher and ResultWriter only in DISTRIBUTED mode, which needs an
ExecutionType (STANDARD or EXPRESS); a Label of 1-40 characters without the characters
AWS refuses ("Label cannot be empty", "Label cannot exceed 40 characters", "Label contains
invalid character: ' '", as recorded against AWS); the ItemReader's Resource, InputType,
CSVHeaderLocation/CSVHeaders and MaxItems; the ItemBatcher's limits; the ResultWriter's
Resource, Bucket and WriterConfig.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from facepipe.engine.errors import DefinitionError
from facepipe.engine.item_reader import GET_OBJECT, INPUT_TYPES, MAX_ITEMS_LIMIT, RESOURCES
from facepipe.engine.result_writer import OUTPUT_TYPES, PUT_OBJECT, TRANSFORMATIONS

DISTRIBUTED_ONLY = ("ItemReader", "ItemBatcher", "ResultWriter")
_LABEL_INVALID = (
    set(' ?*<>{}[]:;,\\|^~$#%&`"')
    | {chr(c) for c in range(0x20)}
    | {chr(c) for c in range(0x7F, 0xA0)}
)
_READER = {"Resource", "Parameters", "Arguments", "ReaderConfig"}
_READER_CONFIG = {"InputType", "CSVHeaderLocation", "CSVHeaders", "MaxItems", "MaxItemsPath"}
_BATCHER = {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath", "BatchInput"}  # fmt: skip
_WRITER = {"Resource", "Parameters", "Arguments", "WriterConfig"}
BATCH_BYTES_LIMIT = 262_144

Check = Callable[[str, str, Any], Any]


def check(name: str, state: dict[str, Any], jsonata: bool, template: Check, path: Check) -> None:
    """Refuse what AWS refuses; `template`/`path` check JSONPath templates and paths."""
    processor = state.get("ItemProcessor", state.get("Iterator")) or {}
    config = processor.get("ProcessorConfig") or {}
    distributed = config.get("Mode", "INLINE") == "DISTRIBUTED"
    for key in DISTRIBUTED_ONLY:
        if key in state and not distributed:
            raise DefinitionError(
                name, f"{key} is only allowed in a Map state whose ProcessorConfig.Mode is "
                "DISTRIBUTED",
            )  # fmt: skip
    if distributed and config.get("ExecutionType") not in ("STANDARD", "EXPRESS"):
        raise DefinitionError(
            name, "ProcessorConfig.ExecutionType must be STANDARD or EXPRESS in DISTRIBUTED mode"
        )
    if "Label" in state:
        _check_label(name, state["Label"])
    checks = _Checks(name, jsonata, template, path)
    if "ItemReader" in state:
        checks.reader(state["ItemReader"])
    if "ItemBatcher" in state:
        checks.batcher(state["ItemBatcher"])
    if "ResultWriter" in state:
        checks.writer(state["ResultWriter"])


def _check_label(name: str, label: Any) -> None:
    if not isinstance(label, str):
        raise DefinitionError(name, "Label must be a string")
    if not label:
        raise DefinitionError(name, "Label cannot be empty")
    if len(label) > 40:
        raise DefinitionError(name, "Label cannot exceed 40 characters")
    for character in label:
        if character in _LABEL_INVALID:
            raise DefinitionError(name, f"Label contains invalid character: {character!r}")


class _Checks:
    def __init__(self, name: str, jsonata: bool, template: Check, path: Check) -> None:
        self.name = name
        self.jsonata = jsonata
        self.template = template
        self.path = path
        self.arguments = "Arguments" if jsonata else "Parameters"

    def fail(self, reason: str) -> DefinitionError:
        return DefinitionError(self.name, reason)

    def fields(self, where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{where} must be a JSON object")
        for key in value:
            if key not in allowed:
                raise self.fail(f"unknown field '{key}' in {where}")
            if key.endswith("Path") and self.jsonata:
                raise self.fail(
                    f"{where}.{key} is JSONPath-only: a JSONata state uses "
                    f"{key[:-4]} with a {{% %}} expression"
                )
        other = "Parameters" if self.jsonata else "Arguments"
        if other in value:
            language = "JSONata" if self.jsonata else "JSONPath"
            raise self.fail(
                f"{where}.{other} is not allowed: a {language} state uses {self.arguments}"
            )
        if self.arguments in value and not self.jsonata:
            self.template(self.name, f"{where}.Parameters", value["Parameters"])
        return value

    def number(self, where: str, config: dict[str, Any], key: str, low: int, high: int) -> None:
        if key in config and f"{key}Path" in config:
            raise self.fail(f"use only one of {where}.{key} and {where}.{key}Path")
        if f"{key}Path" in config:
            self.path(self.name, f"{where}.{key}Path", config[f"{key}Path"])
        value = config.get(key)
        if key not in config or (self.jsonata and _is_expression(value)):
            return
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise self.fail(f"{where}.{key} must be an integer from {low} to {high}")

    def reader(self, value: Any) -> None:
        reader = self.fields("ItemReader", value, _READER)
        resource = reader.get("Resource")
        if resource not in RESOURCES:
            raise self.fail(f"ItemReader.Resource must be one of {', '.join(RESOURCES)}")
        if self.arguments not in reader:
            raise self.fail(f"ItemReader needs {self.arguments} with the Bucket")
        config = self.fields("ItemReader.ReaderConfig", reader.get("ReaderConfig", {}),
                             _READER_CONFIG)  # fmt: skip
        input_type = config.get("InputType")
        if resource == GET_OBJECT and input_type not in INPUT_TYPES:
            raise self.fail(
                f"ItemReader.ReaderConfig.InputType must be one of {', '.join(INPUT_TYPES)} "
                "for s3:getObject"
            )
        if resource != GET_OBJECT and input_type is not None:
            raise self.fail("ItemReader.ReaderConfig.InputType is only for s3:getObject")
        location = config.get("CSVHeaderLocation")
        if location is not None and input_type != "CSV":
            raise self.fail("CSVHeaderLocation is only for InputType CSV")
        if location not in (None, "FIRST_ROW", "GIVEN"):
            raise self.fail("CSVHeaderLocation must be FIRST_ROW or GIVEN")
        headers = config.get("CSVHeaders")
        if location == "GIVEN" and not (
            isinstance(headers, list) and headers and all(isinstance(h, str) for h in headers)
        ):
            raise self.fail("CSVHeaderLocation GIVEN needs CSVHeaders, a list of strings")
        if headers is not None and location != "GIVEN":
            raise self.fail("CSVHeaders needs CSVHeaderLocation GIVEN")
        self.number("ItemReader.ReaderConfig", config, "MaxItems", 0, MAX_ITEMS_LIMIT)

    def batcher(self, value: Any) -> None:
        batcher = self.fields("ItemBatcher", value, _BATCHER)
        if not any(k in batcher for k in _BATCHER - {"BatchInput"}):
            raise self.fail(
                "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path)"
            )
        self.number("ItemBatcher", batcher, "MaxItemsPerBatch", 1, 2**31 - 1)
        self.number("ItemBatcher", batcher, "MaxInputBytesPerBatch", 1, BATCH_BYTES_LIMIT)
        if "BatchInput" in batcher and not self.jsonata:
            self.template(self.name, "ItemBatcher.BatchInput", batcher["BatchInput"])

    def writer(self, value: Any) -> None:
        writer = self.fields("ResultWriter", value, _WRITER)
        if not writer:
            raise self.fail("ResultWriter cannot be empty")
        if "Resource" in writer or self.arguments in writer:
            if writer.get("Resource") != PUT_OBJECT:
                raise self.fail(f"ResultWriter.Resource must be {PUT_OBJECT}")
            where = writer.get(self.arguments)
            if not isinstance(where, dict) and not (self.jsonata and _is_expression(where)):
                raise self.fail(f"ResultWriter needs {self.arguments} with the Bucket")
            if isinstance(where, dict) and not ({"Bucket", "Bucket.$"} & set(where)):
                raise self.fail(f"ResultWriter.{self.arguments} needs a Bucket")
        config = writer.get("WriterConfig", {})
        if not isinstance(config, dict) or set(config) - {"Transformation", "OutputType"}:
            raise self.fail("ResultWriter.WriterConfig has only Transformation and OutputType")
        if config.get("Transformation", "NONE") not in TRANSFORMATIONS:
            raise self.fail(
                f"WriterConfig.Transformation must be one of {', '.join(TRANSFORMATIONS)}"
            )
        if config.get("OutputType", "JSON") not in OUTPUT_TYPES:
            raise self.fail(f"WriterConfig.OutputType must be one of {', '.join(OUTPUT_TYPES)}")


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")
