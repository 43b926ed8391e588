"""``facepipe`` as a process: the installed console script, cheap imports, ``watch`` and Ctrl-C."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from cli_harness import FACEPIPE, Lines, clean_env

from facepipe.samples import GROUP, NO_FACES, PORTRAIT

HEAVY_MODULES = ("cv2", "numpy", "PIL", "rich", "facepipe.engine", "lambdas", "boto3")


def test_importing_the_cli_loads_nothing_heavy() -> None:
    probe = f"import sys, facepipe.cli; print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_installed_console_script_runs_outside_the_repository(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """From a temp folder, the ASL file and upload rule are still found (facepipe.resources)."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    shutil.copy(samples[PORTRAIT], workdir / "me.jpg")

    done = subprocess.run(
        [str(FACEPIPE), "--home", "data", "run", "me.jpg", "--json"],
        cwd=workdir,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)
    assert (result["key"], result["status"], result["faceCount"]) == (
        "uploads/me.jpg",
        "SUCCEEDED",
        1,
    )
    assert (workdir / "data" / "records.sqlite3").is_file()
    assert len(list((workdir / "data" / "outbox" / "new").iterdir())) == 1


def test_help_is_printed_without_loading_the_pipeline(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(FACEPIPE), "--help"], capture_output=True, text=True, env=clean_env(tmp_path)
    )
    assert done.returncode == 0
    for command in ("run", "watch", "records", "show", "outbox", "detect"):
        assert command in done.stdout


def test_watch_runs_new_complete_files_and_stops_cleanly_on_ctrl_c(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(samples[NO_FACES], inbox / "already-here.jpg")  # present before: not run
    home = tmp_path / "home"
    process = subprocess.Popen(
        [str(FACEPIPE), "--home", str(home), "watch", str(inbox), "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(tmp_path),
    )
    try:
        lines = Lines(process)
        lines.wait_for("watching")
        # A file written slowly: it must not be uploaded before it is complete.
        data = samples[GROUP].read_bytes()
        with open(inbox / "group.jpg", "wb") as slow:
            for start in range(0, len(data), len(data) // 4):
                slow.write(data[start : start + len(data) // 4])
                slow.flush()
                time.sleep(0.5)
        (inbox / "clip.gif").write_bytes(b"GIF89a" + bytes(32))
        assert "4 face(s)" in lines.wait_for("uploads/group.jpg")
        # Not named as an image: the state machine refuses it, and the line says so.
        lines.wait_for("uploads/clip.gif: FAILED InvalidImageFormatException")
        (inbox / "later" / "deeper").mkdir(parents=True)  # subfolders are watched too
        shutil.copy(samples[PORTRAIT], inbox / "later" / "deeper" / "me.jpg")
        assert "1 face(s)" in lines.wait_for("uploads/later/deeper/me.jpg")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 1  # an execution failed
        lines.wait_for("watched: 3 image(s) run (2 succeeded, 1 failed), 0 skipped")
    finally:
        if process.poll() is None:
            process.kill()
    assert not any("already-here" in line for line in lines.seen)
    assert "Traceback" not in (process.stderr.read() if process.stderr else "")


def test_ctrl_c_during_run_finishes_what_started_and_starts_nothing_more(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    from facepipe.local.executions import ExecutionStore

    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(12):
        shutil.copy(samples[GROUP], folder / f"group-{index:02d}.jpg")
    home = tmp_path / "home"
    process = subprocess.Popen(
        [str(FACEPIPE), "--home", str(home), "run", str(folder), "--workers", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(tmp_path),
    )
    try:
        deadline = time.monotonic() + 60
        while not (home / "outbox" / "new").is_dir() or not any(
            (home / "outbox" / "new").iterdir()
        ):
            assert time.monotonic() < deadline and process.poll() is None, "no email came"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130, err
    assert "interrupted:" in err and "Traceback" not in err
    results = json.loads(out)
    finished = [r for r in results if r.get("status") == "SUCCEEDED"]
    assert 1 <= len(finished) < 12
    assert {r["status"] for r in results} <= {"SUCCEEDED", "NOT_STARTED"}
    store = ExecutionStore(home / "executions.sqlite3")
    executions = store.list_executions(limit=100)
    store.close()
    assert len(executions) == len(finished)  # the rest never started: nothing half-done
    assert {e.status for e in executions} == {"SUCCEEDED"}


def test_watch_existing_after_a_kill_catches_up_without_running_anything_twice(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    inbox, home = tmp_path / "inbox", tmp_path / "home"
    inbox.mkdir()
    command = [str(FACEPIPE), "--home", str(home), "watch", str(inbox), "--interval", "0.2"]
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(tmp_path)
    )
    try:
        lines = Lines(first)
        lines.wait_for("watching")
        shutil.copy(samples[GROUP], inbox / "group.jpg")
        assert "4 face(s)" in lines.wait_for("uploads/group.jpg")
    finally:
        first.kill()  # SIGKILL: no goodbye
        first.wait()
    shutil.copy(samples[PORTRAIT], inbox / "while-down.jpg")  # arrives while nobody watches

    second = subprocess.Popen(
        [*command, "--existing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(tmp_path),
    )
    try:
        lines = Lines(second)
        assert "1 face(s)" in lines.wait_for("uploads/while-down.jpg")
        assert "already run: this file is version" in lines.wait_for("group.jpg")
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=60) == 0
    finally:
        if second.poll() is None:
            second.kill()
    assert len(list((home / "outbox" / "new").iterdir())) == 2  # group once, portrait once
