"""Local executions in one SQLite file, split by job: ``history`` (executions and their
events, appended live), ``pending`` (upload events whose execution has not ended: what a
killed runner left), ``map_runs`` (Map Runs and their child executions), ``uploads`` (the
files a run means to upload, and the claims on their bytes), over ``file`` (the SQLite file
and its runner); ``store.ExecutionStore`` opens them all on one file."""

from facepipe.local.executions.file import RUNNING, executions_db_path
from facepipe.local.executions.history import (
    ABORTED,
    BACKFILL,
    IMAGE,
    HistoryWriter,
    StoredExecution,
)
from facepipe.local.executions.map_runs import SqliteMapRunStore
from facepipe.local.executions.pending import PendingEvent
from facepipe.local.executions.store import ExecutionStore
from facepipe.local.executions.uploads import QUEUED, UploadClaims

__all__ = [
    "ABORTED",
    "BACKFILL",
    "IMAGE",
    "QUEUED",
    "RUNNING",
    "ExecutionStore",
    "HistoryWriter",
    "PendingEvent",
    "SqliteMapRunStore",
    "StoredExecution",
    "UploadClaims",
    "executions_db_path",
]
