"""A runner that has exited without releasing its lease: what ``kill -9`` leaves behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_LEAVE_A_LEASE = (
    "import sys; from pathlib import Path; from facepipe.local.runners import RunnerLease; "
    "print(RunnerLease(Path(sys.argv[1])).id)"
)


def dead_runner(folder: Path) -> str:
    """The id of a runner of ``folder`` (a data home's ``runners/``) whose process is gone."""
    return subprocess.run(
        [sys.executable, "-c", _LEAVE_A_LEASE, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
