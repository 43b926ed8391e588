"""The project's state machine before and after issue 11: transitions, cost and engine time.

Two definitions on the same engine, with the same in-process steps (no-op Lambdas that
answer in the shapes the real ones do, and fail the way Rekognition and SNS do):

- ``bench/face_pipeline_jsonpath.asl.json``: the JSONPath design it replaced (IsVersioned,
  Normalise/NormaliseUnversioned, Detect, Persist, IsLatestEvent, HasFaces, Notify, Done);
- ``statemachine/face_pipeline.asl.json``: the JSONata one (Detect, Persist, HasFaces, Notify).

For each path an image can take (faces, no faces, superseded, unversioned bucket, rejected
image, Detect throttled once, Notify failure), it first checks that both definitions send
the steps the same payloads and end the same way (status, error, cause, output), then prints
the state transitions Standard bills (each state entered, each retry: AWS's pricing page),
what they cost per 1,000 images at $0.025 per 1,000 transitions beside Rekognition's $1.00,
and the engine's median time per execution.

Run: .venv/bin/python bench/state_machine.py [--executions 2000]
The last line is ``jsonpath_us_faces=... jsonata_us_faces=... transitions_faces=8->4 ...``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facepipe.engine import ExecutionResult, FakeClock, StateMachine
from facepipe.graph import billed_transitions

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = {
    "jsonpath": ROOT / "bench" / "face_pipeline_jsonpath.asl.json",
    "jsonata": ROOT / "statemachine" / "face_pipeline.asl.json",
}
FUNCTIONS = {
    name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    for name in ("DetectFunctionArn", "PersistFunctionArn", "NotifyFunctionArn")
}
PRICE_PER_1000_TRANSITIONS = 0.025  # Standard, us-east-1 (aws.amazon.com/step-functions/pricing)
REKOGNITION_PER_1000_IMAGES = 1.00  # DetectFaces, first million images a month


class InvalidImageFormatException(Exception):
    """Rekognition's permanent bad-image error."""


class ThrottlingException(Exception):
    """Rekognition's throttling error (retried)."""


class AuthorizationErrorException(Exception):
    """SNS refusing a Publish (not retried)."""


class Steps:
    """Detect, Persist and Notify as in-process handlers, recording what they were sent."""

    def __init__(self, faces: int = 1, outcome: str = "WRITTEN") -> None:
        self.faces, self.outcome = faces, outcome
        self.detect_failures: list[Exception] = []
        self.notify_failure: Exception | None = None
        self.calls: list[tuple[str, Any]] = []

    def resolver(self) -> dict[str, Callable[[Any, Any], Any]]:
        return {
            FUNCTIONS["DetectFunctionArn"]: self.detect,
            FUNCTIONS["PersistFunctionArn"]: self.persist,
            FUNCTIONS["NotifyFunctionArn"]: self.notify,
        }

    def detect(self, event: Any, context: Any) -> dict[str, Any]:
        self.calls.append(("detect", event))
        if self.detect_failures:
            raise self.detect_failures.pop(0)
        faces = [{"confidence": 99.5, "boundingBox": {"left": 0.1, "top": 0.1}}] * self.faces
        return {"faceCount": self.faces, "faces": faces, "attributes": "DEFAULT",
                "minConfidence": 90, "detectedAt": "2026-11-25T12:00:01Z",
                "objectKey": event["image"]["key"]}  # fmt: skip

    def persist(self, event: Any, context: Any) -> dict[str, Any]:
        self.calls.append(("persist", event))
        if "error" in event:
            return {"error": event["error"]["Error"], "reason": "The file is not a JPEG or PNG."}
        return {"status": "DETECTED", "outcome": self.outcome,
                "faceCount": event["detection"]["faceCount"]}  # fmt: skip

    def notify(self, event: Any, context: Any) -> dict[str, Any]:
        self.calls.append(("notify", event))
        if self.notify_failure is not None:
            raise self.notify_failure
        return {"sent": True, "messageId": "m-1"}


def upload_event(version_id: str | None = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY") -> dict[str, Any]:
    obj: dict[str, Any] = {"key": "uploads/team photo.jpg", "size": 52431, "etag": "e-1",
                           "sequencer": "00617F08299329D189"}  # fmt: skip
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2026-11-25T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:s3:::facepipe-uploads"],
        "detail": {"version": "0", "bucket": {"name": "facepipe-uploads"}, "object": obj,
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                   "reason": "PutObject"},
    }  # fmt: skip


def _rejected() -> Steps:
    steps = Steps()
    steps.detect_failures = [InvalidImageFormatException("Request has invalid image format")]
    return steps


def _throttled() -> Steps:
    steps = Steps()
    steps.detect_failures = [ThrottlingException("Rate exceeded")]
    return steps


def _notify_refused() -> Steps:
    steps = Steps()
    steps.notify_failure = AuthorizationErrorException("not authorized to publish")
    return steps


# name -> (steps, event)
PATHS: dict[str, Callable[[], tuple[Steps, dict[str, Any]]]] = {
    "faces": lambda: (Steps(faces=3), upload_event()),
    "no_faces": lambda: (Steps(faces=0), upload_event()),
    "superseded": lambda: (Steps(faces=3, outcome="STALE"), upload_event()),
    "unversioned": lambda: (Steps(faces=3), upload_event(None)),
    "rejected": lambda: (_rejected(), upload_event()),
    "throttled_once": lambda: (_throttled(), upload_event()),
    "notify_failure": lambda: (_notify_refused(), upload_event()),
}


def run_path(machine: StateMachine, path: str) -> tuple[ExecutionResult, Steps]:
    steps, event = PATHS[path]()
    result = machine.run(event, resolver=steps.resolver(), clock=FakeClock(), execution_name="x")
    return result, steps


def _comparable(value: Any) -> Any:
    """Without what differs between any two executions: the ARN and the Lambda request id."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k != "executionArn"}
    if isinstance(value, list | tuple):
        return [_comparable(item) for item in value]
    if isinstance(value, str):
        return re.sub(r'"requestId": "[^"]*"', "", value)
    return value


def outcome(result: ExecutionResult, steps: Steps) -> Any:
    return _comparable([result.status, result.error, result.cause, result.output, steps.calls])


def median_us(machine: StateMachine, path: str, count: int) -> float:
    for _ in range(min(50, count)):  # warm caches
        run_path(machine, path)
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        run_path(machine, path)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=2000)
    args = parser.parse_args()
    machines = {
        name: StateMachine(path.read_text(encoding="utf-8"), FUNCTIONS)
        for name, path in DEFINITIONS.items()
    }
    figures: dict[str, dict[str, tuple[int, float]]] = {name: {} for name in machines}
    for path in PATHS:
        ends = {name: run_path(machine, path) for name, machine in machines.items()}
        first, second = (outcome(*ended) for ended in ends.values())
        if first != second:
            raise SystemExit(f"{path}: the definitions end differently:\n"
                             f"{json.dumps(first)[:800]}\n{json.dumps(second)[:800]}")  # fmt: skip
        for name, machine in machines.items():
            transitions = billed_transitions(ends[name][0].history)
            figures[name][path] = (transitions, median_us(machine, path, args.executions))

    print("same step payloads, status, error, cause and output on every path: yes")
    print(f"{'path':15} {'transitions':>12} {'$ per 1,000 images':>20} "
          f"{'% of Rekognition':>17} {'engine µs/execution':>22}")  # fmt: skip
    for path in PATHS:
        (old, old_us), (new, new_us) = figures["jsonpath"][path], figures["jsonata"][path]
        old_cost, new_cost = (n * PRICE_PER_1000_TRANSITIONS for n in (old, new))
        share = (f"{old_cost / REKOGNITION_PER_1000_IMAGES:.1%} -> "
                 f"{new_cost / REKOGNITION_PER_1000_IMAGES:.1%}")  # fmt: skip
        print(f"{path:15} {f'{old} -> {new}':>12} {f'{old_cost:.3f} -> {new_cost:.3f}':>20} "
              f"{share:>17} {f'{old_us:.0f} -> {new_us:.0f}':>22}")  # fmt: skip
    (old, old_us), (new, new_us) = figures["jsonpath"]["faces"], figures["jsonata"]["faces"]
    print(f"jsonpath_us_faces={old_us:.1f} jsonata_us_faces={new_us:.1f} "
          f"ratio={new_us / old_us:.2f} transitions_faces={old}->{new} "
          f"cost_per_1000_faces={old * PRICE_PER_1000_TRANSITIONS:.3f}->"
          f"{new * PRICE_PER_1000_TRANSITIONS:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
