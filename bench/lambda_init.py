"""Lambda init cost of each handler, side by side with a bare ``import boto3`` in the same run.

A cold start runs the handler module's import, then the first invocation builds the step
(its boto3 clients). Each figure is measured in a fresh interpreter, rounds interleaved so
the machine's noise falls on all of them alike; the median of the rounds is printed.

- ``import``: ``import lambdas.<step>.handler``, against ``import boto3``;
- ``cold start``: that import plus ``aws_step()`` (the clients the first invocation makes),
  against ``import boto3`` plus the same clients made bare.

The goal is each handler within 100 ms of bare boto3 on both lines.

Run: .venv/bin/python bench/lambda_init.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL_MS = 100.0
STEPS = ("detect", "persist", "notify")
# The function environment infra/functions.py sets, with fake credentials (no call is made).
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "FacePipe",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "TABLE_NAME": "FaceRecords",
    "TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:faces",
}
# The clients each step builds on its first invocation (lambdas/<step>/handler.py).
BARE_CLIENTS = {
    "detect": "boto3.client('rekognition')",
    "persist": "boto3.resource('dynamodb').Table('FaceRecords')",
    "notify": "boto3.resource('dynamodb').Table('FaceRecords'); boto3.client('sns')",
}
TIMED = "import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"


def _seconds(code: str, step: str) -> float:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "POWERTOOLS_SERVICE_NAME": f"facepipe-{step}",
        **ENVIRONMENT,
    }
    run = subprocess.run(
        [sys.executable, "-c", TIMED.format(code=code)],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return float(run.stdout.strip().splitlines()[-1])


def _cases() -> dict[str, tuple[str, str]]:
    cases: dict[str, tuple[str, str]] = {"boto3": ("import boto3", "detect")}
    for step in STEPS:
        module = f"lambdas.{step}.handler"
        cases[f"{step} import"] = (f"import {module}", step)
        cases[f"{step} cold start"] = (f"import {module} as h; h.aws_step()", step)
        cases[f"boto3 + {step} clients"] = (f"import boto3; {BARE_CLIENTS[step]}", step)
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    cases = _cases()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (code, step) in cases.items():
            samples[name].append(_seconds(code, step) * 1000)
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"median of {args.rounds} fresh interpreters per figure (Python {sys.version.split()[0]})"
    )
    print(f"{'bare import boto3':<28} {median['boto3']:7.1f} ms")
    worst = 0.0
    for step in STEPS:
        imported = median[f"{step} import"] - median["boto3"]
        cold = median[f"{step} cold start"] - median[f"boto3 + {step} clients"]
        worst = max(worst, imported, cold)
        print(
            f"{step + ' import':<28} {median[f'{step} import']:7.1f} ms  "
            f"({imported:+6.1f} ms vs bare boto3)"
        )
        print(
            f"{step + ' cold start':<28} {median[f'{step} cold start']:7.1f} ms  "
            f"({cold:+6.1f} ms vs boto3 + the same clients, "
            f"{median[f'boto3 + {step} clients']:.1f} ms)"
        )
    print(f"worst_overhead_ms={worst:.1f} goal_ms={GOAL_MS:.0f} met={worst <= GOAL_MS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
