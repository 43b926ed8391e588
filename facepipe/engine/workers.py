"""Threads for Parallel branches and Map iterations, kept for reuse between fan-outs.

Starting a thread costs about 100 µs, more than running a Pass state, so a fan-out borrows
idle threads from this pool and returns them when its lanes are done. The pool grows
whenever every thread is busy, so a branch waiting for its own nested Map never waits for a
free thread; a thread idle for a while ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

IDLE_SECONDS = 30.0


class _Worker(threading.Thread):
    def __init__(self, pool: _Pool) -> None:
        super().__init__(name="asl-worker", daemon=True)
        self.pool = pool
        self.tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def run(self) -> None:
        while True:
            try:
                task = self.tasks.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                if self.pool.retire(self):
                    return
                continue  # handed a task as the wait ended: take it
            task()
            self.pool.park(self)


class _Pool:
    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def submit(self, task: Callable[[], None]) -> None:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker(self)
            worker.start()
        worker.tasks.put(task)

    def park(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def retire(self, worker: _Worker) -> bool:
        with self._lock:
            if worker in self._idle:
                self._idle.remove(worker)
                return True
            return False


_POOL = _Pool()


def run_lanes(lanes: int, lane: Callable[[], None]) -> None:
    """Run `lane` on `lanes` threads at once (this one included) and wait for them all.

    An exception escaping a lane is raised here once every lane has finished.
    """
    done = threading.Semaphore(0)
    escaped: list[BaseException] = []

    def pooled() -> None:
        try:
            lane()
        except BaseException as unexpected:  # handed to the caller below
            escaped.append(unexpected)
        finally:
            done.release()

    for _ in range(lanes - 1):
        _POOL.submit(pooled)
    try:
        lane()
    finally:
        for _ in range(lanes - 1):
            done.acquire()
    if escaped:
        raise escaped[0]
