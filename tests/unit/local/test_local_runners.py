"""Runner leases: alive while the process holds its lock, gone as soon as it is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from dead_runner import dead_runner

from facepipe.local.runners import RunnerLease, runner_alive, sweep_dead

HOLD = """
import sys, time
from pathlib import Path
from facepipe.local.runners import RunnerLease
lease = RunnerLease(Path(sys.argv[1]))
print(lease.id, flush=True)
time.sleep(600)
"""


def test_a_lease_is_alive_while_its_process_runs_and_gone_after_kill_9(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        runner_id = holder.stdout.readline().strip()
        assert runner_alive(tmp_path, runner_id)
        assert runner_alive(tmp_path, runner_id)  # asking does not take it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()

    assert not runner_alive(tmp_path, runner_id)
    assert list(tmp_path.iterdir()) == []  # the dead one's file is cleaned up


def test_a_released_lease_is_gone_and_a_held_one_is_alive_in_its_own_process(
    tmp_path: Path,
) -> None:
    held, released = RunnerLease(tmp_path), RunnerLease(tmp_path)
    released.release()

    assert runner_alive(tmp_path, held.id)
    assert not runner_alive(tmp_path, released.id)
    assert not runner_alive(tmp_path, "never-was")
    held.release()


def test_sweep_removes_only_dead_runners_files(tmp_path: Path) -> None:
    dead = dead_runner(tmp_path)
    alive = RunnerLease(tmp_path)

    sweep_dead(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{alive.id}.lock"]
    assert not runner_alive(tmp_path, dead)
    alive.release()


def test_a_dead_runner_looks_dead_to_two_probes_at_once(tmp_path: Path) -> None:
    import fcntl
    import os

    dead = dead_runner(tmp_path)
    first_probe = os.open(tmp_path / f"{dead}.lock", os.O_RDWR)
    try:
        fcntl.flock(first_probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe under way

        assert not runner_alive(tmp_path, dead)
    finally:
        os.close(first_probe)
