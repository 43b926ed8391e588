"""Run one execution from the command line and print its result as one JSON object.

    python -m facepipe.engine --definition DEF.json --input IN.json [--history]
        [--substitution DetectFunctionArn=detect] [--handler detect=package.module:function]
        [--bucket-root DIR]

Prints {"status": "SUCCEEDED", "output": ...} or {"status": "FAILED", "error": ..., "cause": ...}
(plus "history" with --history). With --bucket-root, a Distributed Map's ItemReader and
ResultWriter use DIR as the bucket store: each sub-folder a bucket, each file an object.
Exit status 0 when the execution ran (whatever its outcome), 2 when the definition, the input
or an option is unusable.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from datetime import datetime
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m facepipe.engine", description="Run an ASL state machine locally."
    )
    parser.add_argument("--definition", required=True, help="ASL JSON file ('-' for stdin)")
    parser.add_argument("--input", help="execution input JSON file (default: {})")
    parser.add_argument("--history", action="store_true", help="also print the history events")
    parser.add_argument(
        "--substitution", action="append", default=[], metavar="NAME=VALUE",
        help="replace ${NAME} in the definition (DefinitionSubstitutions)",
    )  # fmt: skip
    parser.add_argument(
        "--handler", action="append", default=[], metavar="FUNCTION=MODULE:CALLABLE",
        help="serve the Lambda function FUNCTION with a Python callable(event, context)",
    )  # fmt: skip
    parser.add_argument("--name", help="execution name (default: a UUID)")
    parser.add_argument(
        "--bucket-root", metavar="DIR",
        help="a folder of buckets (sub-folders) for ItemReader and ResultWriter",
    )  # fmt: skip
    return parser


def _read_json(path: str, what: str) -> Any:
    try:
        if path == "-":
            return json.loads(sys.stdin.read())
        with open(path, encoding="utf-8") as source:
            return json.load(source)
    except OSError as missing:
        raise SystemExit(_fail(f"cannot read the {what} file: {missing}")) from None
    except json.JSONDecodeError as bad:
        raise SystemExit(_fail(f"the {what} file {path} is not valid JSON: {bad}")) from None


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise SystemExit(_fail(f"{option} expects NAME=VALUE, got '{value}'"))
        pairs[key] = rest
    return pairs


def _handlers(specs: dict[str, str]) -> dict[str, Any]:
    handlers = {}
    for function, target in specs.items():
        module_name, _, attribute = target.partition(":")
        try:
            handlers[function] = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as missing:
            raise SystemExit(_fail(f"cannot load handler '{target}': {missing}")) from None
    return handlers


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    definition = _read_json(args.definition, "definition")
    execution_input = _read_json(args.input, "input") if args.input else {}
    from facepipe.engine import DefinitionError, StateMachine

    try:
        machine = StateMachine(definition, _pairs(args.substitution, "--substitution"))
    except DefinitionError as invalid:
        return _fail(f"invalid definition: {invalid}")
    store = None
    if args.bucket_root is not None:
        from facepipe.engine.objectstore import FolderObjectStore

        if not os.path.isdir(args.bucket_root):
            return _fail(f"--bucket-root {args.bucket_root} is not a folder")
        store = FolderObjectStore(args.bucket_root)
    try:
        result = machine.run(
            execution_input,
            resolver=_handlers(_pairs(args.handler, "--handler")),
            execution_name=args.name,
            object_store=store,
        )
    except ValueError as bad_input:
        return _fail(str(bad_input))
    summary = result.summary()
    if args.history:
        summary["history"] = result.history
    print(json.dumps(summary, default=_jsonable, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
