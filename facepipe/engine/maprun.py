"""Map Runs: what a Distributed Map leaves behind, and the API calls that read it.

A DISTRIBUTED Map state starts a Map Run (`MapRunStarted` in the parent history) whose child
workflow executions are executions of their own, each with its own history. The records kept
here answer as Step Functions' `ListMapRuns`, `DescribeMapRun`, `ListExecutions
--map-run-arn`, `DescribeExecution` and `GetExecutionHistory` do (field names, statuses,
counts): https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html

The records go to a `MapRunStore` (a Protocol, so a host can persist them);
`InMemoryMapRunStore` is the default. A child's history is handed to the store once the child
has finished, so the engine never holds more than the running children's histories.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# The four MapRunStatus values and the six ExecutionStatus values of the API.
RUNNING, SUCCEEDED, FAILED, ABORTED, TIMED_OUT, PENDING = (
    "RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "PENDING",
)  # fmt: skip
_COUNTED = ("pending", "running", "succeeded", "failed", "timedOut", "aborted")
_COUNT_OF_STATUS = {PENDING: "pending", RUNNING: "running", SUCCEEDED: "succeeded",
                    FAILED: "failed", TIMED_OUT: "timedOut", ABORTED: "aborted"}  # fmt: skip


class ApiError(LookupError):
    """What the API would answer instead of a result: `code` as Step Functions names it
    (ResourceNotFound, ExecutionDoesNotExist, InvalidArn...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass
class ChildExecution:
    """One child workflow execution of a Map Run (DescribeExecution's fields)."""

    execution_arn: str
    name: str
    state_machine_arn: str  # the labelled one: arn:...:stateMachine:<machine>/<label>
    map_run_arn: str
    execution_type: str  # STANDARD | EXPRESS
    item_count: int
    input: str  # JSON text
    start_date: datetime
    status: str = RUNNING
    stop_date: datetime | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    index: int | None = None  # its place among the Map Run's children (batches)
    # Where it stopped (the engine's checkpoint, JSON), for a redrive of its Map Run.
    checkpoint: dict[str, Any] | None = None
    redrive_count: int = 0
    redrive_date: datetime | None = None

    def describe(self) -> dict[str, Any]:
        """DescribeExecution's answer."""
        answer: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "input": self.input,
            "inputDetails": {"included": True},
            "mapRunArn": self.map_run_arn,
            "redriveCount": self.redrive_count,
            "redriveStatus": self._redrive_status(),
        }
        if self.redrive_date is not None:
            answer["redriveDate"] = self.redrive_date
        if self.status == SUCCEEDED:
            answer["redriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
        elif self.status == RUNNING:
            answer["redriveStatusReason"] = "Execution is RUNNING and cannot be redriven"
        if self.stop_date is not None:
            answer["stopDate"] = self.stop_date
        if self.output is not None:
            answer["output"] = self.output
            answer["outputDetails"] = {"included": True}
        if self.error is not None:
            answer["error"] = self.error
        if self.cause is not None:
            answer["cause"] = self.cause
        return answer

    def _redrive_status(self) -> str:
        # A child is run again by redriving its Map Run (that is, its parent).
        if self.status in (FAILED, ABORTED, TIMED_OUT):
            return "REDRIVABLE_BY_MAP_RUN"
        return "NOT_REDRIVABLE"

    def list_item(self) -> dict[str, Any]:
        """One entry of ListExecutions --map-run-arn (with mapRunArn and itemCount)."""
        item: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "mapRunArn": self.map_run_arn,
            "itemCount": self.item_count,
            "redriveCount": self.redrive_count,
        }
        if self.redrive_date is not None:
            item["redriveDate"] = self.redrive_date
        if self.stop_date is not None:
            item["stopDate"] = self.stop_date
        return item


@dataclass
class MapRun:
    """One Map Run, updated while it runs (DescribeMapRun's fields)."""

    map_run_arn: str
    execution_arn: str  # the execution whose Map state started it
    state_machine_arn: str  # the labelled state machine ARN
    max_concurrency: int
    tolerated_failure_percentage: float
    tolerated_failure_count: int
    start_date: datetime
    status: str = RUNNING
    stop_date: datetime | None = None
    # Counts by DescribeMapRun's names; items and child executions differ once batched.
    item_counts: dict[str, int] = field(default_factory=lambda: _zero_counts())
    execution_counts: dict[str, int] = field(default_factory=lambda: _zero_counts())
    redrive_count: int = 0
    redrive_date: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, items: int, before: str | None, after: str) -> None:
        """Move one child (of `items` items) from status `before` (None: new) to `after`."""
        with self.lock:
            for counts, step in ((self.execution_counts, 1), (self.item_counts, items)):
                if before is None:
                    counts["total"] += step
                else:
                    counts[_COUNT_OF_STATUS[before]] -= step
                counts[_COUNT_OF_STATUS[after]] += step

    def redriven(self, now: datetime) -> None:
        """Running again: the children that never started are read and counted afresh, and
        the results are written again."""
        with self.lock:
            self.redrive_count += 1
            self.redrive_date, self.status, self.stop_date = now, RUNNING, None
            for counts in (self.execution_counts, self.item_counts):
                counts["total"] -= counts["pending"]
                counts["pending"] = 0
                counts["resultsWritten"] = 0

    def results_written(self, executions: int, items: int) -> None:
        with self.lock:
            self.execution_counts["resultsWritten"] += executions
            self.item_counts["resultsWritten"] += items

    def describe(self) -> dict[str, Any]:
        """DescribeMapRun's answer."""
        with self.lock:
            answer: dict[str, Any] = {
                "mapRunArn": self.map_run_arn,
                "executionArn": self.execution_arn,
                "status": self.status,
                "startDate": self.start_date,
                "maxConcurrency": self.max_concurrency,
                "toleratedFailurePercentage": float(self.tolerated_failure_percentage),
                "toleratedFailureCount": self.tolerated_failure_count,
                "itemCounts": dict(self.item_counts),
                "executionCounts": dict(self.execution_counts),
                "redriveCount": self.redrive_count,
            }
            if self.redrive_date is not None:
                answer["redriveDate"] = self.redrive_date
        if self.stop_date is not None:
            answer["stopDate"] = self.stop_date
        return answer

    def list_item(self) -> dict[str, Any]:
        """One entry of ListMapRuns."""
        item: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "mapRunArn": self.map_run_arn,
            "stateMachineArn": self.state_machine_arn,
            "startDate": self.start_date,
        }
        if self.stop_date is not None:
            item["stopDate"] = self.stop_date
        return item


def _zero_counts() -> dict[str, int]:
    return {**dict.fromkeys(_COUNTED, 0), "total": 0, "resultsWritten": 0}


class MapRunStore(Protocol):
    """Where Map Runs and their child executions are kept (the engine writes, hosts read).

    `save_map_run` is called when a run starts and when it ends (the same object, updated in
    between); `save_child` when a child starts (history None) and when it ends (with its
    history, or None for an EXPRESS child, whose history AWS does not keep either).
    """

    def save_map_run(self, run: MapRun) -> None: ...

    def map_run(self, map_run_arn: str) -> MapRun | None: ...

    def map_runs_of(self, execution_arn: str) -> list[MapRun]: ...

    def save_child(self, child: ChildExecution, history: list[dict[str, Any]] | None) -> None: ...

    def child(self, execution_arn: str) -> ChildExecution | None: ...

    def children_of(self, map_run_arn: str) -> list[ChildExecution]: ...

    def child_history(self, execution_arn: str) -> list[dict[str, Any]] | None: ...


class InMemoryMapRunStore:
    """The default store: everything in dicts, for the life of the StateMachine."""

    def __init__(self) -> None:
        self._runs: dict[str, MapRun] = {}
        self._children: dict[str, ChildExecution] = {}
        self._histories: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def save_map_run(self, run: MapRun) -> None:
        with self._lock:
            self._runs[run.map_run_arn] = run

    def map_run(self, map_run_arn: str) -> MapRun | None:
        return self._runs.get(map_run_arn)

    def map_runs_of(self, execution_arn: str) -> list[MapRun]:
        with self._lock:
            return [r for r in self._runs.values() if r.execution_arn == execution_arn]

    def save_child(self, child: ChildExecution, history: list[dict[str, Any]] | None) -> None:
        with self._lock:
            self._children[child.execution_arn] = child
            if history is not None:
                self._histories[child.execution_arn] = history

    def child(self, execution_arn: str) -> ChildExecution | None:
        return self._children.get(execution_arn)

    def children_of(self, map_run_arn: str) -> list[ChildExecution]:
        with self._lock:
            return [c for c in self._children.values() if c.map_run_arn == map_run_arn]

    def child_history(self, execution_arn: str) -> list[dict[str, Any]] | None:
        return self._histories.get(execution_arn)


class MapRunApi:
    """The read side, answering as the Step Functions API does, over one store."""

    def __init__(self, store: MapRunStore) -> None:
        self.store = store

    def list_map_runs(self, execution_arn: str) -> dict[str, Any]:
        """ListMapRuns: the Map Runs an execution started, oldest first."""
        runs = sorted(self.store.map_runs_of(execution_arn), key=lambda r: r.start_date)
        return {"mapRuns": [run.list_item() for run in runs]}

    def describe_map_run(self, map_run_arn: str) -> dict[str, Any]:
        """DescribeMapRun (ResourceNotFound for an unknown ARN)."""
        run = self.store.map_run(map_run_arn)
        if run is None:
            raise ApiError("ResourceNotFound", f"Map Run Does Not Exist: '{map_run_arn}'")
        return run.describe()

    def list_executions(
        self, *, map_run_arn: str, status_filter: str | None = None
    ) -> dict[str, Any]:
        """ListExecutions --map-run-arn: the child executions, newest first."""
        self.describe_map_run(map_run_arn)
        children = [
            child
            for child in self.store.children_of(map_run_arn)
            if status_filter is None or child.status == status_filter
        ]
        children.sort(key=lambda c: c.start_date, reverse=True)
        return {"executions": [child.list_item() for child in children]}

    def describe_execution(self, execution_arn: str) -> dict[str, Any]:
        """DescribeExecution of a child (ExecutionDoesNotExist for an unknown ARN)."""
        return self._child(execution_arn).describe()

    def get_execution_history(self, execution_arn: str) -> dict[str, Any]:
        """GetExecutionHistory of a finished STANDARD child. EXPRESS children have none
        (AWS sends theirs to CloudWatch Logs only); a running child's is not kept yet."""
        child = self._child(execution_arn)
        if child.execution_type == "EXPRESS":
            raise ApiError(
                "InvalidArn",
                f"Invalid Arn: 'This operation is not supported by EXPRESS state machines: "
                f"{execution_arn}'",
            )
        return {"events": list(self.store.child_history(execution_arn) or [])}

    def logged_history(self, execution_arn: str) -> dict[str, Any]:
        """An EXPRESS child's events as its state machine's log group holds them at level
        ALL without execution data (the Step Functions console draws an Express execution
        from those logs): each event without its input and output. Not an API of AWS's."""
        self._child(execution_arn)
        events = self.store.child_history(execution_arn) or []
        return {"events": [_without_execution_data(event) for event in events]}

    def _child(self, execution_arn: str) -> ChildExecution:
        child = self.store.child(execution_arn)
        if child is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{execution_arn}'")
        return child


_EXECUTION_DATA = ("input", "output", "inputDetails", "outputDetails")


def _without_execution_data(event: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (
            {k: v for k, v in value.items() if k not in _EXECUTION_DATA}
            if name.endswith("EventDetails") and isinstance(value, dict)
            else value
        )
        for name, value in event.items()
    }
