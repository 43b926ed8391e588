"""One runner's executions file, its three jobs over it: the execution history (this class),
the pending-event queue (``pending``) and the upload journal (``uploads``)."""

from __future__ import annotations

from pathlib import Path

from facepipe.local.executions.file import ExecutionsFile
from facepipe.local.executions.history import ExecutionHistory
from facepipe.local.executions.map_runs import SqliteMapRunStore
from facepipe.local.executions.pending import PendingEvents
from facepipe.local.executions.uploads import UploadJournal


class ExecutionStore(ExecutionHistory):
    """The execution history of one SQLite file, with its pending events and planned uploads
    (threads and processes may share the file; each store is a runner while it is open)."""

    def __init__(self, path: Path) -> None:
        self._file = ExecutionsFile(path)
        super().__init__(self._file)
        self.pending = PendingEvents(self._file)
        self.uploads = UploadJournal(self._file)
        self.map_runs = SqliteMapRunStore(self._file)

    @property
    def path(self) -> Path:
        return self._file.path

    @property
    def runner_id(self) -> str:
        return self._file.runner_id

    def runner_gone(self, runner_id: str) -> bool:
        """Whether ``runner_id`` (not this store's own runner) no longer runs."""
        return self._file.gone(runner_id)

    def close(self) -> None:
        self._file.close()

    def stop_unstarted(self) -> None:
        """A deliberate stop: this run's own files not yet uploaded are forgotten; events
        whose objects are in the bucket are handed to the next runner (``resume``), as S3
        would still deliver them; what this runner took over from a dead one goes back."""
        with self._file.write() as conn:
            self.uploads.hand_back(conn)
            self.pending.hand_back(conn)
