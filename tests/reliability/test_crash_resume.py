"""kill -9 of ``facepipe run`` in the middle of a batch of 200 images, then start again.

A real subprocess runs the batch; the test SIGKILLs it once some executions have finished
and others have not, then ``facepipe resume`` picks up what was left. Afterwards: one
terminal record per image, nothing RUNNING or pending, one email per image with faces and
no duplicates, and every SQLite file passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from email import policy
from email.parser import BytesParser
from pathlib import Path

from PIL import Image

from facepipe.local.executions import ExecutionStore, executions_db_path
from facepipe.local.home import DataHome
from facepipe.local.mail.message import DEDUP_HEADER, dedup_id_from_header
from facepipe.local.recordstore import SqliteRecordStore
from facepipe.samples import NO_FACES, PORTRAIT, sample_images

IMAGES = 200
KILL_AFTER = 25  # finished executions before the kill
MAIL_ENV = {"FACEPIPE_EMAIL_TO": "alice@example.com", "FACEPIPE_EMAIL_FROM": "pipe@example.com"}


def small_batch(folder: Path, samples: Path) -> list[Path]:
    """200 small JPEGs, one in three a face (a downscaled portrait), the rest without."""
    by_name = {path.name: path for path in sample_images(samples)}
    face = Image.open(by_name[PORTRAIT]).convert("RGB")
    face.thumbnail((240, 240))
    empty = Image.open(by_name[NO_FACES]).convert("RGB")
    empty.thumbnail((240, 240))
    folder.mkdir()
    files = []
    for n in range(IMAGES):
        path = folder / f"img{n:03}.jpg"
        (face if n % 3 == 0 else empty).save(path, quality=80)
        files.append(path)
    return files


def facepipe(home: Path, *args: str) -> list[str]:
    command = [sys.executable, "-m", "facepipe.cli", "--home", str(home), *args]
    return [*command, "--detector", "yunet", "--workers", "2"]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPIPE_")}
    return {**env, **MAIL_ENV}


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0


def kill_mid_batch(process: subprocess.Popen[bytes], db: Path) -> None:
    deadline = time.monotonic() + 240
    finished = "SELECT count(*) FROM executions WHERE status != 'RUNNING'"
    while count(db, finished) < KILL_AFTER:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the batch did not get going"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_kill_9_mid_batch_then_resume(tmp_path: Path) -> None:
    files = small_batch(tmp_path / "batch", tmp_path / "samples")
    home = tmp_path / "home"
    db = executions_db_path(DataHome(home))
    run = subprocess.Popen(
        facepipe(home, "run", str(tmp_path / "batch")),
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    kill_mid_batch(run, db)
    assert run.returncode == -signal.SIGKILL
    left_pending = count(db, "SELECT count(*) FROM pending_events")
    left_running = count(db, "SELECT count(*) FROM executions WHERE status = 'RUNNING'")
    left_unuploaded = count(db, "SELECT count(*) FROM planned_uploads")
    assert 0 < left_pending + left_unuploaded < IMAGES, "the kill did not land mid-batch"

    resumed = subprocess.run(
        facepipe(home, "resume"), env=child_env(), capture_output=True, text=True, timeout=400
    )

    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.startswith(
        f"resumed {left_pending + left_unuploaded} executions ({left_running} interrupted "
        f"mid-run, now ABORTED; {left_unuploaded} for files not uploaded before)"
    )
    records = SqliteRecordStore(home / "records.sqlite3")
    executions = ExecutionStore(db)
    try:
        stored = records.list_records(limit=10 * IMAGES)
        ran = executions.list_executions(limit=10 * IMAGES)
        statuses = Counter(e.status for e in ran)
        assert executions.pending.count() == 0
    finally:
        records.close()
        executions.close()
    assert sorted(r.key for r in stored) == sorted(f"uploads/{f.name}" for f in files)
    assert {r.status for r in stored} <= {"DETECTED", "FAILED"}
    assert statuses["RUNNING"] == 0 and statuses["ABORTED"] == left_running
    emails = [
        dedup_id_from_header(
            str(BytesParser(policy=policy.default).parsebytes(p.read_bytes())[DEDUP_HEADER]).strip()
        )
        for p in (home / "outbox" / "new").iterdir()
    ]
    with_faces = {f"facepipe-uploads/{r.key}#{r.version_id}" for r in stored if r.face_count}
    assert len(emails) == len(set(emails)) and set(emails) == with_faces
    # The outbox would drop a second copy on its own: the claims alone must hold sends to
    # one per version among the executions that ended (a killed one may have sent first).
    sent = Counter(
        f"{e.bucket}/{e.image_key}#{e.version_id}"
        for e in ran
        if e.status == "SUCCEEDED" and (e.output.get("notification") or {}).get("sent")
    )
    assert set(sent.values()) <= {1} and set(sent) <= with_faces
    assert all(r.notified_at for r in stored if r.face_count)
    for database in home.rglob("*.sqlite3"):
        assert integrity(database) == "ok", database
    print(
        f"{len(files)} files, killed with {left_pending} pending ({left_running} running), "
        f"{left_unuploaded} not uploaded; "
        f"{resumed.stdout.strip().splitlines()[0]}; {len(stored)} records, {len(emails)} emails"
    )
