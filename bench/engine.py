"""Engine overhead, and the engine beside moto's Step Functions interpreter.

1. The project's state machine with no-op handlers: microseconds per state transition,
   executions per second, and how a Map fan-out of 10/100/1,000 items grows
   (`engine_overhead_ms_per_execution=X`, target: under 1 ms).
2. Side by side in one run, per execution: the engine and moto 5.2.5's interpreter (ported
   from LocalStack, run in-process) on the same three definitions, a 7-state chain, a
   3-branch Parallel and a 100-item Map, each in JSONPath and in JSONata. Goals: the engine
   at least 20x faster than moto in both languages, JSONata at most 2x JSONPath's time.

    .venv/bin/python bench/engine.py [--executions 2000] [--moto-executions 30]

The last line is `engine_us_chain=... moto_us_chain=... ratio=... jsonata_us_chain=...`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from facepipe.engine import StateMachine

ROOT = Path(__file__).resolve().parent.parent
PROJECT_DEFINITION = ROOT / "statemachine" / "face_pipeline.asl.json"
SUBSTITUTIONS = {
    "DetectFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:detect",
    "PersistFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:persist",
    "NotifyFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:notify",
}

# Used only until statemachine/face_pipeline.asl.json exists: six states of the same shape.
STAND_IN = {
    "StartAt": "Normalise",
    "States": {
        "Normalise": {"Type": "Pass", "Parameters": {"image.$": "$.detail"}, "Next": "Detect"},
        "Detect": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${DetectFunctionArn}", "Payload.$": "$"},
            "ResultSelector": {"faceCount.$": "$.Payload.faceCount"},
            "ResultPath": "$.detection",
            "Next": "Persist",
        },
        "Persist": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${PersistFunctionArn}", "Payload.$": "$"},
            "ResultPath": "$.record",
            "Next": "HasFaces",
        },
        "HasFaces": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.detection.faceCount", "NumericGreaterThan": 0, "Next": "Notify"}
            ],
            "Default": "Done",
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${NotifyFunctionArn}", "Payload.$": "$"},
            "ResultPath": "$.notification",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}

UPLOAD_EVENT = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "123456789012",
    "time": "2024-05-01T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:s3:::facepipe-uploads"],
    "detail": {
        "version": "0",
        "bucket": {"name": "facepipe-uploads"},
        "object": {
            "key": "photos/team.jpg",
            "size": 52431,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            "sequencer": "00617F08299329D189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "reason": "PutObject",
    },
}

# No-op handlers that return the shapes the definition selects from.
NO_OP_HANDLERS: dict[str, Any] = {
    "detect": lambda event, context: {
        "faceCount": 1,
        "faces": [],
        "attributes": "DEFAULT",
        "minConfidence": 90,
        "detectedAt": "2024-05-01T12:00:01Z",
        "objectKey": event["image"]["key"],
    },
    "persist": lambda event, context: {"status": "DONE", "outcome": "WRITTEN", "faceCount": 1},
    "notify": lambda event, context: {"sent": True, "messageId": "m-1"},
}


def project_machine() -> tuple[StateMachine, str]:
    if PROJECT_DEFINITION.exists():
        return StateMachine(PROJECT_DEFINITION.read_text(), SUBSTITUTIONS), str(
            PROJECT_DEFINITION.relative_to(ROOT)
        )
    return StateMachine(STAND_IN, SUBSTITUTIONS), "6-state stand-in"


def time_executions(machine: StateMachine, execution_input: Any, count: int) -> list[float]:
    """Seconds per execution, one after another."""
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        result = machine.run(execution_input, resolver=NO_OP_HANDLERS)
        durations.append(time.perf_counter() - started)
        if result.status != "SUCCEEDED":
            raise SystemExit(f"benchmark execution failed: {result.error}: {result.cause}")
    return durations


def transitions(machine: StateMachine, execution_input: Any) -> int:
    result = machine.run(execution_input, resolver=NO_OP_HANDLERS)
    return sum(event["type"].endswith("StateEntered") for event in result.history)


def map_machine(items: int) -> tuple[StateMachine, list[int]]:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "notify", "Payload.$": "$"},
        "ResultSelector": {"sent.$": "$.Payload.sent"},
        "End": True,
    }
    definition = {
        "StartAt": "FanOut",
        "States": {
            "FanOut": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"n.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "Each", "States": {"Each": task}},
                "ResultPath": "$.results",
                "End": True,
            }
        },
    }
    return StateMachine(definition), list(range(items))


# --- the engine beside moto: three definitions, each in both query languages --------------

# Pass, Choice and Succeed states only: moto's interpreter can run them without Docker (its
# Lambda tasks would start containers), so both engines do the same work.
_FACES = [{"BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.1},
           "Confidence": 99.1}]  # fmt: skip
CHAIN_JSONPATH = {
    "StartAt": "Normalise",
    "States": {
        "Normalise": {"Type": "Pass", "ResultPath": "$.image", "Next": "Detect", "Parameters": {
            "bucket.$": "$.detail.bucket.name", "key.$": "$.detail.object.key",
            "size.$": "$.detail.object.size"}},
        "Detect": {"Type": "Pass", "Result": {"faceCount": 1, "faces": _FACES},
                   "ResultPath": "$.detection", "Next": "Persist"},
        "Persist": {"Type": "Pass", "ResultPath": "$.record", "Next": "HasFaces", "Parameters": {
            "imageKey.$": "$.image.key", "faceCount.$": "$.detection.faceCount"}},
        "HasFaces": {"Type": "Choice", "Default": "Done", "Choices": [
            {"Variable": "$.detection.faceCount", "NumericGreaterThan": 0, "Next": "Notify"}]},
        "Notify": {"Type": "Pass", "ResultPath": "$.notification", "Next": "Record",
                   "Parameters": {"subject.$": "States.Format('{} faces in {}', "
                                               "$.detection.faceCount, $.image.key)"}},
        "Record": {"Type": "Pass", "OutputPath": "$.record", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}  # fmt: skip
# The same chain as JSONata recommends writing it: variables instead of a growing payload.
CHAIN_JSONATA = {
    "QueryLanguage": "JSONata",
    "StartAt": "Normalise",
    "States": {
        "Normalise": {"Type": "Pass", "Next": "Detect", "Assign": {"image": {
            "bucket": "{% $states.input.detail.bucket.name %}",
            "key": "{% $states.input.detail.object.key %}",
            "size": "{% $states.input.detail.object.size %}"}}},
        "Detect": {"Type": "Pass", "Assign": {"detection": {"faceCount": 1, "faces": _FACES}},
                   "Next": "Persist"},
        "Persist": {"Type": "Pass", "Next": "HasFaces", "Assign": {"record": {
            "imageKey": "{% $image.key %}", "faceCount": "{% $detection.faceCount %}"}}},
        "HasFaces": {"Type": "Choice", "Default": "Done", "Choices": [
            {"Condition": "{% $detection.faceCount > 0 %}", "Next": "Notify"}]},
        "Notify": {"Type": "Pass", "Next": "Record", "Assign": {"notification": {
            "subject": "{% $string($detection.faceCount) & ' faces in ' & $image.key %}"}}},
        "Record": {"Type": "Pass", "Output": "{% $record %}", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}  # fmt: skip


def _branch(name: str, key: str, path: str, jsonata: bool) -> dict[str, Any]:
    fields = (
        {"Output": {key: "{% $states.input." + path + " %}"}}
        if jsonata
        else {"Parameters": {f"{key}.$": "$." + path}}
    )
    return {"StartAt": name, "States": {name: {"Type": "Pass", "End": True, **fields}}}


def _parallel(jsonata: bool) -> dict[str, Any]:
    branches = [
        _branch("Bucket", "bucket", "detail.bucket.name", jsonata),
        _branch("Key", "key", "detail.object.key", jsonata),
        _branch("Size", "size", "detail.object.size", jsonata),
    ]
    top = {"QueryLanguage": "JSONata"} if jsonata else {}
    fan_out = {"Type": "Parallel", "Branches": branches, "End": True}
    return {**top, "StartAt": "FanOut", "States": {"FanOut": fan_out}}


MAP_JSONPATH = {
    "StartAt": "EachItem",
    "States": {"EachItem": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"StartAt": "Double", "States": {"Double": {
            "Type": "Pass", "End": True, "Parameters": {"double.$": "States.MathAdd($.n, $.n)"}}}},
    }},
}  # fmt: skip
MAP_JSONATA = {
    "QueryLanguage": "JSONata",
    "StartAt": "EachItem",
    "States": {"EachItem": {
        "Type": "Map", "Items": "{% $states.input.items %}", "End": True,
        "ItemSelector": {"n": "{% $states.context.Map.Item.Value %}",
                         "i": "{% $states.context.Map.Item.Index %}"},
        "ItemProcessor": {"StartAt": "Double", "States": {"Double": {
            "Type": "Pass", "End": True, "Output": {"double": "{% $states.input.n * 2 %}"}}}},
    }},
}  # fmt: skip
MAP_INPUT = {"items": list(range(100))}

# (name, JSONPath definition, JSONata definition, input)
SIDE_BY_SIDE = [
    ("chain", CHAIN_JSONPATH, CHAIN_JSONATA, UPLOAD_EVENT),
    ("parallel", _parallel(False), _parallel(True), UPLOAD_EVENT),
    ("map", MAP_JSONPATH, MAP_JSONATA, MAP_INPUT),
]


def _median_us(run_once: Callable[[], Any], count: int) -> float:
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        run_once()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1e6


def engine_runner(definition: dict[str, Any], execution_input: Any) -> Callable[[], Any]:
    machine = StateMachine(definition)

    def run_once() -> Any:
        result = machine.run(execution_input)
        if result.status != "SUCCEEDED":
            raise SystemExit(f"engine: {result.error}: {result.cause}")
        return result.output

    return run_once


class MotoInterpreter:
    """moto's Step Functions interpreter in this process: its backend object, no HTTP.

    StartExecution runs the definition on a worker thread; each run waits for that thread.
    """

    def __init__(self) -> None:
        import logging

        # moto logs every failed JSONata evaluation with the whole parse tree.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends
        from moto.stepfunctions.parser.utils import TMP_THREADS

        self.backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
        self.threads = TMP_THREADS
        self.names = 0

    def runner(self, definition: dict[str, Any], execution_input: Any) -> Callable[[], Any]:
        self.names += 1
        machine = self.backend.create_state_machine(
            name=f"bench-{self.names}",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/bench",
        )
        text = json.dumps(execution_input)
        runs = iter(range(1_000_000))

        def run_once() -> Any:
            before = len(self.threads)
            execution = self.backend.start_execution(
                machine.arn, name=f"run-{next(runs)}", execution_input=text
            )
            # Wait on the execution's worker thread (and those it starts for branches).
            while execution.status == "RUNNING":
                started = [t for t in self.threads[before:] if t.ident is not None]
                for worker in started:
                    worker.join()
                if not started:
                    time.sleep(0.0001)
            del self.threads[before:]
            if execution.status != "SUCCEEDED":
                history = execution.to_history_output()["events"]
                cause = history[-1].get("executionFailedEventDetails", history[-1])
                raise RuntimeError(f"moto: {execution.status}: {cause}")
            output = execution.output
            return json.loads(output) if isinstance(output, str) else output

        return run_once


def side_by_side(executions: int, moto_executions: int) -> dict[str, float | None]:
    """Median µs per execution for each engine, definition and language; None: cannot run."""
    moto = MotoInterpreter()
    figures: dict[str, float | None] = {}
    for name, jsonpath, jsonata, execution_input in SIDE_BY_SIDE:
        expected = engine_runner(jsonpath, execution_input)()
        for language, definition in (("jsonpath", jsonpath), ("jsonata", jsonata)):
            ours = engine_runner(definition, execution_input)
            if ours() != expected:
                raise SystemExit(f"the {language} {name} gives another output than JSONPath's")
            count = max(20, executions // (50 if name == "map" else 1))
            _median_us(ours, 20)  # warm: first use of the JSONata library, caches
            figures[f"engine_{language}_{name}"] = _median_us(ours, count)
            try:
                theirs = moto.runner(definition, execution_input)
                if theirs() != expected:
                    raise RuntimeError("another output than the engine's")
                figures[f"moto_{language}_{name}"] = _median_us(theirs, moto_executions)
            except Exception as failed:  # moto's JSONata has no evaluator (see README)
                print(f"  moto cannot run the {language} {name}: {str(failed)[:160]}")
                figures[f"moto_{language}_{name}"] = None
    return figures


def print_side_by_side(figures: dict[str, float | None]) -> None:
    print("engine beside moto's interpreter, median µs per execution (in-process, same input):")
    print(f"  {'definition':10} {'language':9} {'engine':>10} {'moto':>12} {'moto/engine':>12}")
    for name, *_ in SIDE_BY_SIDE:
        for language in ("jsonpath", "jsonata"):
            ours = figures[f"engine_{language}_{name}"] or 0.0
            theirs = figures[f"moto_{language}_{name}"]
            shown = f"{theirs:12.0f}" if theirs else f"{'cannot run':>12}"
            ratio = f"{theirs / ours:11.0f}x" if theirs else f"{'-':>12}"
            print(f"  {name:10} {language:9} {ours:10.1f} {shown} {ratio}")
        jsonata_cost = (figures[f"engine_jsonata_{name}"] or 0.0) / (
            figures[f"engine_jsonpath_{name}"] or 1.0
        )
        print(f"  {name:10} JSONata costs {jsonata_cost:.2f}x JSONPath's time in the engine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--moto-executions", type=int, default=30)
    args = parser.parse_args()

    machine, source = project_machine()
    time_executions(machine, UPLOAD_EVENT, 50)  # warm caches (paths, templates)
    durations = time_executions(machine, UPLOAD_EVENT, args.executions)
    per_execution = statistics.median(durations)
    steps = transitions(machine, UPLOAD_EVENT)
    print(f"definition: {source} ({steps} state transitions per execution, no-op handlers)")
    print(f"median execution: {per_execution * 1e3:.3f} ms  p95: "
          f"{sorted(durations)[int(len(durations) * 0.95)] * 1e3:.3f} ms")  # fmt: skip
    print(f"per state transition: {per_execution / steps * 1e6:.1f} us")
    print(f"executions per second, 1 thread: {1 / statistics.mean(durations):.0f}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: machine.run(UPLOAD_EVENT, resolver=NO_OP_HANDLERS),
                      range(args.executions)))  # fmt: skip
        elapsed = time.perf_counter() - started
    print(f"executions per second, 2 threads: {args.executions / elapsed:.0f}")

    print("map fan-out (inline, a no-op lambda:invoke task per item):")
    for items in (10, 100, 1000):
        fan_out, values = map_machine(items)
        runs = max(3, 2000 // items)
        spent = time_executions(fan_out, {"items": values}, runs)
        median = statistics.median(spent)
        print(f"  {items:>5} items: {median * 1e3:9.2f} ms per execution, "
              f"{median / items * 1e6:7.1f} us per item")  # fmt: skip
    print(f"engine_overhead_ms_per_execution={per_execution * 1e3:.3f}")

    figures = side_by_side(args.executions, args.moto_executions)
    print_side_by_side(figures)
    pairs = []
    for name, *_ in SIDE_BY_SIDE:
        ours, theirs = figures[f"engine_jsonpath_{name}"], figures[f"moto_jsonpath_{name}"]
        jsonata, jsonata_moto = figures[f"engine_jsonata_{name}"], figures[f"moto_jsonata_{name}"]
        pairs.append((name, ours, theirs, jsonata, jsonata_moto))
    for name, ours, theirs, jsonata, jsonata_moto in pairs[1:]:
        print(f"engine_us_{name}={ours:.1f} moto_us_{name}={_shown(theirs)} "
              f"ratio={_ratio(theirs, ours)} jsonata_us_{name}={jsonata:.1f} "
              f"jsonata_ratio={jsonata / ours:.2f} "
              f"moto_jsonata_us_{name}={_shown(jsonata_moto)} "
              f"moto_jsonpath_over_engine_jsonata={_ratio(theirs, jsonata)}")  # fmt: skip
    name, ours, theirs, jsonata, jsonata_moto = pairs[0]
    print(f"engine_us_{name}={ours:.1f} moto_us_{name}={_shown(theirs)} "
          f"ratio={_ratio(theirs, ours)} jsonata_us_{name}={jsonata:.1f} "
          f"jsonata_ratio={jsonata / ours:.2f} "
          f"moto_jsonata_us_{name}={_shown(jsonata_moto)} "
          # moto cannot evaluate JSONata: its JSONPath run is the nearest yardstick.
          f"moto_jsonpath_over_engine_jsonata={_ratio(theirs, jsonata)}")  # fmt: skip


def _shown(value: float | None) -> str:
    return "unavailable" if value is None else f"{value:.1f}"


def _ratio(theirs: float | None, ours: float | None) -> str:
    return "unavailable" if theirs is None or not ours else f"{theirs / ours:.1f}"


if __name__ == "__main__":
    main()
