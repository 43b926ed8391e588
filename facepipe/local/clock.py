"""The engine's clock as a runner uses it: its waits (retry backoff, Wait states) end early
once the runner is asked to stop."""

from __future__ import annotations

import threading
from datetime import datetime

from facepipe.engine import Clock, SystemClock


class RunnerStopped(Exception):
    """Raised inside an execution waiting to retry when its runner is asked to stop."""


class StoppableClock:
    """The engine's clock, whose waits end when ``stop`` is set.

    ``raising``: an upload's execution that would sit out a retry raises RunnerStopped and
    is handed to the next runner; a backfill (``raising=False``) just stops waiting, and the
    engine's own stop then ends it before its next state, as StopExecution does.
    """

    def __init__(self, clock: Clock | None, stop: threading.Event, *, raising: bool = True) -> None:
        self._clock: Clock = clock or SystemClock()
        self._stop = stop
        self._raising = raising

    @property
    def is_real(self) -> bool:
        return self._clock.is_real

    def now(self) -> datetime:
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        if self._stop.is_set():
            self._stopped()
            return
        if self._clock.is_real:
            if self._stop.wait(seconds):
                self._stopped()
        else:
            self._clock.sleep(seconds)

    def _stopped(self) -> None:
        if self._raising:
            raise RunnerStopped
