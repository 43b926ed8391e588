"""A DISTRIBUTED Map's ItemReader, ItemBatcher and ResultWriter worked out for one attempt.

JSONPath states give `Parameters` (with `.$` fields) and `…Path` fields read from the state
input; JSONata states give `Arguments` and `{% %}` expressions anywhere in the three objects
(evaluated by the caller). Both end in the same plans (`ReaderPlan`, `BatchPlan`,
`WriterPlan`), evaluated after MapStateStarted as AWS does: a MaxItemsPath that is no
integer fails the state with States.Runtime before the Map Run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from facepipe.engine.distributed import BatchPlan, DistributedPlan
from facepipe.engine.errors import RuntimeFailure
from facepipe.engine.item_reader import ReaderPlan
from facepipe.engine.path_numbers import path_number
from facepipe.engine.payload import Scope, render
from facepipe.engine.result_writer import WriterPlan

Number = Callable[[dict[str, Any], str], int | None]


def processor_config(state: dict[str, Any]) -> dict[str, Any]:
    processor = state.get("ItemProcessor", state.get("Iterator")) or {}
    return dict(processor.get("ProcessorConfig") or {})


def jsonpath(
    state: dict[str, Any],
    data: Any,
    scope: Scope,
    tolerance: Callable[[], tuple[float | None, int | None]],
) -> DistributedPlan:
    def number(config: dict[str, Any], key: str) -> int | None:
        if f"{key}Path" in config:
            return int(path_number(config, key, data, scope, "integer"))
        constant = config.get(key)
        return None if constant is None else int(constant)

    def parameters(declaration: dict[str, Any]) -> dict[str, Any]:
        return dict(render(declaration.get("Parameters", {}), data, scope))

    def batch_input(declaration: dict[str, Any]) -> Any:
        if "BatchInput" not in declaration:
            return None
        return render(declaration["BatchInput"], data, scope)

    return build(state, tolerance, parameters, number, batch_input)


def evaluated(
    state: dict[str, Any],
    values: dict[str, Any],
    tolerance: Callable[[], tuple[float | None, int | None]],
    check: Callable[[str, Any], int | None],
) -> DistributedPlan:
    """From a JSONata state: `values` maps ItemReader/ItemBatcher/ResultWriter to a callable
    giving the object with its expressions evaluated; `check(field, value)` vets a number."""
    cache: dict[str, Any] = {}

    def resolved(key: str) -> dict[str, Any]:
        if key not in cache:
            cache[key] = values[key]()
        return dict(cache[key])

    def number(config: dict[str, Any], key: str) -> int | None:
        return check(key, config[key]) if key in config else None

    def parameters(declaration: dict[str, Any]) -> dict[str, Any]:
        return dict(declaration.get("Arguments") or {})

    def batch_input(declaration: dict[str, Any]) -> Any:
        return declaration.get("BatchInput")

    shadow = {key: _Lazy(_resolver(resolved, key)) for key in values}
    return build({**state, **shadow}, tolerance, parameters, number, batch_input)


def _resolver(resolved: Callable[[str], dict[str, Any]], key: str) -> Callable[[], dict]:
    return lambda: resolved(key)


class _Lazy:
    """A declaration evaluated on first use (after MapStateStarted)."""

    def __init__(self, make: Callable[[], dict[str, Any]]) -> None:
        self.make = make


def _declaration(value: Any) -> dict[str, Any]:
    return value.make() if isinstance(value, _Lazy) else dict(value)


def build(
    state: dict[str, Any],
    tolerance: Callable[[], tuple[float | None, int | None]],
    parameters: Callable[[dict[str, Any]], dict[str, Any]],
    number: Number,
    batch_input: Callable[[dict[str, Any]], Any],
) -> DistributedPlan:
    config = processor_config(state)

    def reader() -> ReaderPlan:
        declaration = _declaration(state["ItemReader"])
        reader_config = dict(declaration.get("ReaderConfig") or {})
        return ReaderPlan(
            resource=declaration["Resource"],
            parameters=parameters(declaration),
            input_type=reader_config.get("InputType"),
            header_location=reader_config.get("CSVHeaderLocation", "FIRST_ROW"),
            headers=tuple(reader_config.get("CSVHeaders") or ()),
            max_items=number(reader_config, "MaxItems") or 0,
        )

    def batcher() -> BatchPlan:
        declaration = _declaration(state["ItemBatcher"])
        limits = {}
        for key in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
            value = number(declaration, key)
            if value is not None and value <= 0:
                raise RuntimeFailure(f"{key} must be a positive integer, but it is {value}.")
            limits[key] = value
        return BatchPlan(
            limits["MaxItemsPerBatch"], limits["MaxInputBytesPerBatch"], batch_input(declaration)
        )

    def writer() -> WriterPlan:
        declaration = _declaration(state["ResultWriter"])
        writer_config = dict(declaration.get("WriterConfig") or {})
        writes = "Resource" in declaration
        where = parameters(declaration) if writes else {}
        return WriterPlan(
            bucket=str(where.get("Bucket")) if writes else None,
            prefix=str(where.get("Prefix", "")),
            transformation=writer_config.get("Transformation", "NONE" if writes else "COMPACT"),
            output_type=writer_config.get("OutputType", "JSON"),
        )

    return DistributedPlan(
        execution_type=str(config.get("ExecutionType", "STANDARD")),
        label=state.get("Label"),
        tolerance=tolerance,
        reader=reader if "ItemReader" in state else None,
        batcher=batcher if "ItemBatcher" in state else None,
        writer=writer if "ResultWriter" in state else None,
    )
