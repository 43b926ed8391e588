"""Engine overhead: microseconds per state transition and executions per second for the
project's state machine with no-op handlers, and how a Map fan-out of 10/100/1,000 items grows.

    .venv/bin/python bench/engine.py [--executions 2000]

The last line is `engine_overhead_ms_per_execution=X` (target: under 1 ms).
"""

from __future__ import annotations

import argparse
import statistics
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=2000)
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


if __name__ == "__main__":
    main()
