"""Which runners of a data home are alive: each holds a lock on its own file while it runs.

A runner killed with ``kill -9`` loses its lock at once (the OS drops a dead process's
locks), so "is the runner that wrote this row gone?" has a sure answer. A process id would
not do: ids are reused (a container's runner is often pid 1 every time), and a host name
changes when a container is recreated over the same data home.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

_SUFFIX = ".lock"

if sys.platform == "win32":
    import msvcrt

    def _hold(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    _probe = _hold  # no shared locks: probers may briefly see each other as the runner

else:
    import fcntl

    def _hold(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _probe(fd: int) -> None:
        # Shared: conflicts with the runner's exclusive lock only, not with other probers.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)


class RunnerLease:
    """This runner's lock, held from creation until ``release`` (or the process's end)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.id = uuid.uuid4().hex
        path = folder / f"{self.id}{_SUFFIX}"
        self._fd: int | None
        if sys.platform == "win32":  # an open file cannot be renamed there; nor deleted
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            _hold(self._fd)
        else:
            # Locked before it gets its name, so no one ever sees it unlocked and takes it
            # for a dead runner's.
            temp = folder / f".{self.id}.tmp"
            self._fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            _hold(self._fd)
            os.replace(temp, path)

    def release(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        (self.folder / f"{self.id}{_SUFFIX}").unlink(missing_ok=True)


def runner_alive(folder: Path, runner_id: str) -> bool:
    """Whether the runner ``runner_id`` still holds its lock; a dead one's file is removed."""
    path = folder / f"{runner_id}{_SUFFIX}"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False  # released on a clean exit, or removed as dead already
    try:
        _probe(fd)
    except OSError:
        return True  # locked: its runner is alive
    finally:
        os.close(fd)
    try:
        path.unlink(missing_ok=True)
    except PermissionError:  # Windows: its runner has it open after all
        return True
    return False


def sweep_dead(folder: Path) -> None:
    """Remove the lock files of runners that died without releasing them."""
    if folder.is_dir():
        for path in folder.glob(f"*{_SUFFIX}"):
            runner_alive(folder, path.name.removesuffix(_SUFFIX))
