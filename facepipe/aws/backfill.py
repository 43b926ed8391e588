"""Backfills on the deployed stack: count and price a prefix, start one, follow its Map Run,
list the latest.

The backfill state machine (statemachine/backfill.asl.json, output BackfillStateMachineArn)
runs one Distributed Map; its progress is that Map Run's item counts (DescribeMapRun).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from facepipe.aws.prices import cost_per_thousand_new_images, cost_per_thousand_recorded_images

# The backfill reads only where the pipeline does (its role's s3:prefix condition).
ALLOWED_PREFIX = "uploads/"
DEFAULT_PREFIX = ALLOWED_PREFIX
# ListObjectsV2 gives at most 1,000 keys a page: memory stays at one page whatever the count.
PAGE_SIZE = 1000
NAME_PREFIX = "backfill-"


class BackfillError(ValueError):
    """A backfill request AWS would refuse or that cannot work; one sentence saying why."""


def check_prefix(prefix: str) -> str:
    if not prefix.startswith(ALLOWED_PREFIX):
        hint = f" (did you mean {ALLOWED_PREFIX!r}?)" if f"{prefix}/" == ALLOWED_PREFIX else ""
        raise BackfillError(
            f"prefix {prefix!r} is outside {ALLOWED_PREFIX}: the pipeline (and the backfill's "
            f"role) reads only objects under {ALLOWED_PREFIX}{hint}"
        )
    return prefix


@dataclass(frozen=True)
class ObjectCount:
    objects: int
    bytes: int


def count_objects(s3: Any, bucket: str, prefix: str = DEFAULT_PREFIX) -> ObjectCount:
    """Objects and bytes under ``prefix``, one ListObjectsV2 page at a time."""
    check_prefix(prefix)
    objects = size = 0
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        for entry in page.get("Contents", []):
            objects += 1
            size += int(entry.get("Size", 0))
    return ObjectCount(objects, size)


@dataclass(frozen=True)
class CostEstimate:
    objects: int
    lines: list[tuple[str, float]]  # (service, USD) if every object is new
    if_all_recorded: float  # USD if every object was already recorded DETECTED

    @property
    def total(self) -> float:
        return sum(cost for _, cost in self.lines)


def estimate_cost(objects: int) -> CostEstimate:
    """The price table's cost for ``objects`` images (facepipe/aws/prices.py)."""
    scale = objects / 1000
    lines = [(line.service, line.per_thousand * scale) for line in cost_per_thousand_new_images()]
    return CostEstimate(objects, lines, cost_per_thousand_recorded_images() * scale)


def execution_name(now: datetime) -> str:
    """Unique and sortable: ``backfill-20261203T100000Z-1a2b3c`` (StartExecution's 80 chars)."""
    return f"{NAME_PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def start_backfill(
    sfn: Any,
    state_machine_arn: str,
    *,
    prefix: str = DEFAULT_PREFIX,
    notify_each: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str:
    """StartExecution of the backfill; returns the execution ARN."""
    payload = {"prefix": check_prefix(prefix), "notifyEach": notify_each}
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=execution_name(now()), input=json.dumps(payload)
    )
    return str(response["executionArn"])


@dataclass(frozen=True)
class MapRunProgress:
    map_run_arn: str
    status: str
    total: int
    succeeded: int
    failed: int
    pending: int
    running: int
    timed_out: int
    aborted: int
    rate: float | None  # items finished per second so far
    eta_seconds: float | None

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.timed_out + self.aborted


def map_run_progress(
    sfn: Any, execution_arn: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> MapRunProgress | None:
    """The backfill's Map Run counts, rate and ETA; None before the Map Run starts."""
    runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if not runs:
        return None
    described = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    counts = described["itemCounts"]
    progress = {
        name: int(counts.get(key, 0))
        for name, key in (
            ("total", "total"),
            ("succeeded", "succeeded"),
            ("failed", "failed"),
            ("pending", "pending"),
            ("running", "running"),
            ("timed_out", "timedOut"),
            ("aborted", "aborted"),
        )
    }
    finished = sum(progress[n] for n in ("succeeded", "failed", "timed_out", "aborted"))
    elapsed = ((described.get("stopDate") or now()) - described["startDate"]).total_seconds()
    rate = finished / elapsed if finished and elapsed > 0 else None
    remaining = progress["total"] - finished
    eta = remaining / rate if rate else None
    return MapRunProgress(
        map_run_arn=str(described["mapRunArn"]),
        status=str(described["status"]),
        rate=rate,
        eta_seconds=eta,
        **progress,
    )


@dataclass(frozen=True)
class BackfillRun:
    execution_arn: str
    name: str
    status: str
    started: datetime
    stopped: datetime | None


def latest_backfills(sfn: Any, state_machine_arn: str, limit: int = 10) -> list[BackfillRun]:
    """The newest backfill executions first (ListExecutions answers newest first)."""
    response = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=limit)
    return [
        BackfillRun(
            execution_arn=str(execution["executionArn"]),
            name=str(execution["name"]),
            status=str(execution["status"]),
            started=execution["startDate"],
            stopped=execution.get("stopDate"),
        )
        for execution in response.get("executions", [])
    ]
