"""Nothing lost under load: N images with bad inputs, faults, a kill -9, resume and duplicates.

Images: N image versions in all (default 1,000), every one different:

- N - 2P files for the ``facepipe run`` batch: small JPEGs (at most 320 px a side) cut from
  the sample photos by seeded random crops, one in three each of the portrait (a face), the
  group (faces) and the coffee cup (no face); among them about 3 % bad inputs made on the
  spot (empty file, truncated JPEG, text named .jpg, GIF named .jpg, WebP named .jpg, a PNG
  under 80 px), which must end FAILED with a reason;
- P keys of that batch (default 2 % of N) that get two more versions later, in phase 3.

Phases, all on one fresh data home:

1. crash: ``facepipe run DIR`` in a subprocess with ``FACEPIPE_FAULTS`` (detector and record
   store errors at 5 %, the mail server down for the first 10 s), SIGKILLed once a third of
   its executions have ended.
2. resume: ``facepipe resume`` (same faults; its first line says how many executions it
   resumed), then ``facepipe outbox --retry`` if emails were kept unsent.
3. duplicates: in this process, a LocalPipeline on the same home (same faults) gets every
   stored "Object Created" event again (the original event, as EventBridge redelivers it),
   in shuffled order, and for each of the P keys two new versions whose events arrive newest
   first and then both again (duplicates and reversed pairs); then ``outbox --retry`` again
   if needed.

4. runners at once, each on a fresh data home over the same C files (default 150, taken from
   the batch, bad inputs among them; no faults): two ``facepipe run`` started together,
   three started together, and one ``facepipe run`` naming every file twice (a glob and its
   folder). Each file must have one execution, one terminal record, and its image version
   one Notify send and one email when it has faces.

Every figure is read back from the stores at the end, not from this script's bookkeeping:
records and their status/reason from records.sqlite3; executions, and what each Persist and
Notify step answered (``outcome`` WRITTEN / DUPLICATE / STALE, ``sent``) from the stored
histories, so "duplicates suppressed" counts the executions whose Persist found that image
version already recorded; emails from the Maildir outbox by their dedup header; the image
versions from the local bucket's index. ``lost`` = input images whose newest upload has no
DETECTED/FAILED record + records with faces and no email. ``duplicate_emails`` = emails
sharing a dedup header beyond the first (the Maildir outbox names a message by that id, so
the histories' successful Notify sends per image version are printed next to it: more than
one there is a second email the outbox absorbed, which SMTP would not). Also checked: no
execution left RUNNING, no pending event or planned upload left, each key's latest record is
its newest version, ``PRAGMA integrity_check`` of every SQLite file.

Memory: the children's peak is their VmHWM from /proc/<pid>/status, sampled every 50 ms
while they run, not RUSAGE_CHILDREN's ru_maxrss: Linux counts the parent's resident set at
the spawn into it (``true`` started from a 400 MB Python reports 410 MB), so it would
overstate a child started late. The bench's own VmHWM includes phase 3's pipeline and
detector. The runner's RSS is printed at quarters
of its run too, to see it flat. Wall time per phase and in all.

YuNet is the default detector, at 80 % minimum confidence as README advises for it (at the
pipeline's default 90 % it left 8 of 620 face images with no face in a 1,000-image run): it is
about 3x faster than MTCNN per image. Detection is not what is measured here; its check line
(good images found with faces, per kind) is printed so a detector problem is not mistaken for
a loss. Most of the wall time is the retry waits the ASL prescribes for the injected faults
(2 s, doubling, full jitter, on the worker that retries), not CPU.

Run: .venv/bin/python bench/reliability.py [--images 1000] [--workers W] [--detector yunet]
     [--min-confidence 80] [--faults SPEC] [--kill-at 0.33] [--concurrent 150] [--keep DIR]
Exit status 1 when anything is lost, emailed twice or left inconsistent.
The last line is ``images=N records=N failed_with_reason=K emails=E lost=L
duplicate_executions=X duplicate_emails=D resumed=R peak_rss_mb=M`` (lost and duplicates
counted over all phases; X from phase 4, where each file is uploaded once).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from PIL import Image

from facepipe.local.events.bus import object_created_event
from facepipe.local.executions import ExecutionStore, StoredExecution, executions_db_path
from facepipe.local.faults import parse_faults
from facepipe.local.home import DataHome
from facepipe.local.mail.message import DEDUP_HEADER, dedup_id_from_header
from facepipe.local.mail.undelivered import UndeliveredMail
from facepipe.local.objectstore import LocalObjectStore, StoredObject
from facepipe.local.recordstore import SqliteRecordStore
from facepipe.local.runtime import DEFAULT_BUCKET, LocalPipeline, PipelineOptions, route_step_logs
from facepipe.samples import GROUP, NO_FACES, PORTRAIT, sample_images
from lambdas.domain.model import FaceRecord

SEED = 20261130
SIDE = 320  # longest side of the generated images
BAD_SHARE = 0.03
PAIR_SHARE = 0.02
KILL_AT = 1 / 3  # share of the batch's executions ended before the kill
FAULTS = "detector:0.05,store:0.05,smtp_down_for:10s,seed:7"
MAIL_ENV = {"FACEPIPE_EMAIL_TO": "alice@example.com", "FACEPIPE_EMAIL_FROM": "pipe@example.com"}
TERMINAL = {"DETECTED", "FAILED"}
KIND_OF = {PORTRAIT: "portrait", GROUP: "group", NO_FACES: "no face"}


# --- inputs --------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str  # "portrait", "group", "no face", or a bad-input kind

    @property
    def key(self) -> str:
        return f"uploads/{self.path.name}"

    @property
    def bad(self) -> bool:
        return self.kind not in KIND_OF.values()


class Variants:
    """Distinct small JPEGs from seeded random crops of the sample photos."""

    def __init__(self, samples: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.photos = [
            (KIND_OF[p.name], Image.open(p).convert("RGB")) for p in sample_images(samples)
        ]

    def jpeg(self, index: int) -> tuple[str, bytes]:
        kind, photo = self.photos[index % len(self.photos)]
        scale = self.rng.uniform(0.75, 1.0)
        width, height = round(photo.width * scale), round(photo.height * scale)
        left = self.rng.randint(0, photo.width - width)
        top = self.rng.randint(0, photo.height - height)
        variant = photo.crop((left, top, left + width, top + height))
        variant.thumbnail((SIDE, SIDE))
        return kind, encoded(variant, "JPEG", quality=self.rng.randint(75, 92))


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def bad_input(index: int, jpeg: bytes) -> tuple[str, str, bytes]:
    """(kind, file suffix, bytes) of a bad upload, made from a good JPEG."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    kinds: list[tuple[str, str, Callable[[], bytes]]] = [
        ("empty file", ".jpg", lambda: b""),
        ("truncated JPEG", ".jpg", lambda: jpeg[: len(jpeg) // 2]),
        ("text named .jpg", ".jpg", lambda: b"name,age\nada,36\ngrace,45\n" * 20),
        ("GIF named .jpg", ".jpg", lambda: encoded(image, "GIF")),
        ("WebP named .jpg", ".jpg", lambda: encoded(image, "WEBP")),
        ("under 80 px", ".png", lambda: encoded(image.resize((60, 60)), "PNG")),
    ]
    kind, suffix, make = kinds[index % len(kinds)]
    return kind, suffix, make()


def make_batch(count: int, bad: int, folder: Path, variants: Variants) -> list[InputFile]:
    """``count`` files, ``bad`` of them bad inputs spread through the batch."""
    folder.mkdir(parents=True)
    every = count // bad if bad else count + 1
    files = []
    for index in range(count):
        kind, data = variants.jpeg(index)
        suffix = ".jpg"
        if bad and index % every == every - 1 and index // every < bad:
            kind, suffix, data = bad_input(index // every, data)
        path = folder / f"img{index:04d}{suffix}"
        path.write_bytes(data)
        files.append(InputFile(path, kind))
    return files


# --- children ------------------------------------------------------------------------------
@dataclass
class Child:
    """A finished ``facepipe`` subprocess: how it ended, its output, its memory."""

    name: str
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float  # VmHWM, sampled while it ran
    rss_samples: list[tuple[int, float]] = field(default_factory=list)  # (ended, VmRSS MB)
    seconds: float = 0.0
    pid: int = 0


def facepipe_command(home: Path, args: argparse.Namespace, *words: str) -> list[str]:
    command = [sys.executable, "-m", "facepipe.cli", "--home", str(home), *words]
    if words[0] in ("run", "resume"):
        command += ["--detector", args.detector, "--workers", str(args.workers)]
        if args.min_confidence is not None:
            command += ["--min-confidence", str(args.min_confidence)]
    return command


def child_env(faults: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPIPE_")}
    env.update(MAIL_ENV)
    if faults:
        env["FACEPIPE_FAULTS"] = faults
    return env


def proc_status_mb(pid: int, field_name: str) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def ended_executions(db: Path) -> int:
    """Executions no longer RUNNING, read as another process would (0 before the schema)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            row = conn.execute("SELECT count(*) FROM executions WHERE status != 'RUNNING'")
            return int(row.fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def run_child(
    name: str,
    command: list[str],
    env: dict[str, str],
    scratch: Path,
    db: Path,
    *,
    kill_at: int | None = None,
    timeout: float = 3600,
) -> Child:
    """Run ``command``, sampling its memory; SIGKILL it once ``kill_at`` executions ended."""
    out, err = scratch / f"{name}.out", scratch / f"{name}.err"
    started = time.monotonic()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
    peak, samples, said = 0.0, [], started
    while process.poll() is None:
        peak = max(peak, proc_status_mb(process.pid, "VmHWM") or 0.0)
        ended = ended_executions(db)
        rss = proc_status_mb(process.pid, "VmRSS")
        if rss is not None:
            samples.append((ended, rss))
        if kill_at is not None and ended >= kill_at:
            process.send_signal(signal.SIGKILL)
            process.wait()
            break
        if time.monotonic() - said > 10:
            said = time.monotonic()
            progress(f"  {name}: {ended} executions ended, {rss or 0:.0f} MB")
        if time.monotonic() - started > timeout:
            process.kill()
            process.wait()
            raise RuntimeError(f"{name} ran over {timeout:.0f} s")
        time.sleep(0.05)
    return Child(
        name,
        process.returncode,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
        peak,
        samples,
        time.monotonic() - started,
        process.pid,
    )


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- phase 3: duplicates and reversed pairs -----------------------------------------------
def stored_events(home: DataHome) -> list[dict[str, Any]]:
    """One original "Object Created" event per image version, from the executions' inputs."""
    executions = ExecutionStore(executions_db_path(home))
    try:
        found = executions.list_executions(limit=10**9)
    finally:
        executions.close()
    by_version: dict[tuple[str, str], dict[str, Any]] = {}
    for execution in reversed(found):  # oldest first: the first delivery's event
        by_version.setdefault((execution.image_key, execution.version_id), execution.input)
    return list(by_version.values())


def new_pairs(
    home: DataHome, keys: list[str], variants: Variants
) -> list[tuple[StoredObject, StoredObject]]:
    """Two new versions per key, stored without announcing them (the bench delivers)."""
    quiet = LocalObjectStore(home.buckets)
    try:
        return [
            (
                quiet.put_object(DEFAULT_BUCKET, key, variants.jpeg(2 * n)[1]),
                quiet.put_object(DEFAULT_BUCKET, key, variants.jpeg(2 * n + 1)[1]),
            )
            for n, key in enumerate(keys)
        ]
    finally:
        quiet.close()


def redeliver(
    home: DataHome, args: argparse.Namespace, pairs: list[tuple[StoredObject, StoredObject]]
) -> int:
    """Every stored event again (shuffled), and each pair newest first then both again."""
    rng = random.Random(SEED)
    deliveries = stored_events(home)
    rng.shuffle(deliveries)
    for older, newer in pairs:
        old, new = object_created_event(older), object_created_event(newer)
        at = rng.randint(0, len(deliveries))
        deliveries[at:at] = [new, old, new, old]
    options = PipelineOptions(detector=args.detector, workers=args.workers)
    if args.min_confidence is not None:
        detect = replace(options.detect, min_confidence=args.min_confidence)
        options = replace(options, detect=detect)
    with LocalPipeline(home, options, faults=parse_faults(args.faults), environ=MAIL_ENV) as pipe:
        for event in deliveries:
            pipe.bus.put_event(json.loads(json.dumps(event)))  # a copy per delivery
        # leaving the block waits for every execution
    return len(deliveries)


# --- reading the stores back ---------------------------------------------------------------
@dataclass
class StepAnswers:
    """What the Persist and Notify steps of one execution answered, from its history."""

    persist: str | None = None  # WRITTEN / DUPLICATE / STALE
    sent: bool | None = None


def step_answers(executions: ExecutionStore, execution: StoredExecution) -> StepAnswers:
    answers = StepAnswers()
    for event in executions.history(execution.execution_arn):
        if event.get("type") != "TaskSucceeded":
            continue
        output = json.loads(event["taskSucceededEventDetails"]["output"])
        payload = output.get("Payload") if isinstance(output, dict) else None
        if not isinstance(payload, dict):
            continue
        if "outcome" in payload:
            answers.persist = str(payload["outcome"])
        if "sent" in payload:
            answers.sent = bool(payload["sent"])
    return answers


def outbox_dedup_ids(outbox: Path) -> list[str]:
    parser = BytesParser(policy=policy.default)
    return [
        dedup_id_from_header(str(parser.parsebytes(path.read_bytes())[DEDUP_HEADER]).strip())
        for folder in ("new", "cur")
        if (outbox / folder).is_dir()
        for path in (outbox / folder).iterdir()
    ]


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def email_id(record: FaceRecord) -> str:
    return f"{record.bucket}/{record.key}#{record.version_id}"


@dataclass
class Findings:
    images: int = 0
    records: int = 0
    failed_with_reason: int = 0
    emails: int = 0
    duplicate_emails: int = 0
    suppressed: int = 0
    lost: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def verify(
    home: DataHome,
    files: list[InputFile],
    pairs: list[tuple[StoredObject, StoredObject]],
    phase_of_pid: dict[int, str],
) -> Findings:
    found = Findings(images=len(files) + 2 * len(pairs))
    store = SqliteRecordStore(home.records_db)
    executions = ExecutionStore(executions_db_path(home))
    bucket = LocalObjectStore(home.buckets)
    try:
        records = {(r.key, r.version_id): r for r in store.list_records(limit=10**9)}
        latest = {f.key: store.latest_version_id(f.key) for f in files}
        stored = executions.list_executions(limit=10**9)
        answers = {e.execution_arn: step_answers(executions, e) for e in stored}
        pending = executions.pending.count()
        versions = {f.key: bucket.list_versions(DEFAULT_BUCKET, f.key) for f in files}
        keys_in_bucket = {o.key for o in bucket.list_objects(DEFAULT_BUCKET)}
    finally:
        store.close()
        executions.close()
        bucket.close()
    with sqlite3.connect(executions_db_path(home)) as conn:
        planned = int(conn.execute("SELECT count(*) FROM planned_uploads").fetchone()[0])

    found.records = len(records)
    found.failed_with_reason = sum(
        r.status == "FAILED" and bool(r.reason) for r in records.values()
    )
    pair_versions = {str(o.version_id) for pair in pairs for o in pair}

    # Every input image: its newest upload has a terminal record.
    orphans = 0
    with_faces_by_kind: Counter[str] = Counter()
    failed_good: list[str] = []
    bad_reasons: dict[str, str] = {}
    for file in files:
        uploads = [
            v
            for v in versions[file.key]
            if not v.is_delete_marker and str(v.version_id) not in pair_versions
        ]
        if not uploads:
            found.lost.append(f"{file.key}: never uploaded")
            continue
        record = records.get((file.key, str(uploads[0].version_id)))
        if record is None or record.status not in TERMINAL:
            found.lost.append(f"{file.key}: no terminal record")
        elif record.face_count:
            with_faces_by_kind[file.kind] += 1
        elif record.status == "FAILED" and not file.bad:
            failed_good.append(file.key)
        if file.bad and record is not None and record.reason:
            bad_reasons.setdefault(file.kind, record.reason)
        orphans += sum((file.key, str(v.version_id)) not in records for v in uploads[1:])
        if file.bad and (record is None or record.status != "FAILED" or not record.reason):
            found.problems.append(f"{file.key} ({file.kind}) did not end FAILED with a reason")
    for pair in pairs:
        for obj in pair:
            record = records.get((obj.key, str(obj.version_id)))
            if record is None or record.status not in TERMINAL:
                found.lost.append(f"{obj.key}#{obj.version_id}: no terminal record")
    for file in files:
        newest = next((v for v in versions[file.key] if not v.is_delete_marker), None)
        if newest is not None and latest[file.key] != str(newest.version_id):
            found.problems.append(f"{file.key}: the latest record is not the newest version")
    extra_keys = keys_in_bucket - {f.key for f in files}
    if extra_keys:
        found.problems.append(f"{len(extra_keys)} keys in the bucket that were never uploaded")

    # Emails: one per image version with faces, none twice.
    emails = outbox_dedup_ids(home.outbox)
    found.emails = len(emails)
    found.duplicate_emails = len(emails) - len(set(emails))
    with_faces = {
        email_id(r): r for r in records.values() if r.status == "DETECTED" and r.face_count
    }
    for dedup_id, record in with_faces.items():
        if dedup_id not in emails:
            found.lost.append(f"{dedup_id}: faces and no email")
        elif not record.notified_at:
            found.problems.append(f"{dedup_id}: emailed but not marked notified")
    if set(emails) - set(with_faces):
        found.problems.append(f"{len(set(emails) - set(with_faces))} emails for no face record")
    unsent = UndeliveredMail(home.undelivered).unsent()
    if unsent:
        found.problems.append(f"{len(unsent)} emails still kept unsent")

    # Executions: none left behind; what Persist and Notify answered, per phase.
    statuses = Counter(e.status for e in stored)
    if statuses["RUNNING"] or pending or planned:
        found.problems.append(
            f"left behind: {statuses['RUNNING']} RUNNING, {pending} pending events, "
            f"{planned} planned uploads"
        )
    for db in sorted(home.root.rglob("*.sqlite3")):
        if (verdict := integrity(db)) != "ok":
            found.problems.append(f"{db.relative_to(home.root)}: integrity_check {verdict}")
    sends = Counter(
        (e.image_key, e.version_id) for e in stored if answers[e.execution_arn].sent is True
    )

    record_statuses = Counter(r.status for r in records.values())
    found.lines += [
        "executions: "
        + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        + f" ({len(stored)} in all)",
        "records: "
        + ", ".join(f"{n} {status}" for status, n in sorted(record_statuses.items()))
        + f"; {len(with_faces)} with faces",
        f"good images that ended FAILED (retries ran out): {len(failed_good)}",
        *(f"  reason for {kind}: {reason}" for kind, reason in sorted(bad_reasons.items())),
        "executions per phase:",
    ]
    by_phase: dict[str, Counter[str]] = {}
    for e in stored:
        tally = by_phase.setdefault(phase_of_pid.get(e.owner_pid, f"pid {e.owner_pid}"), Counter())
        tally["executions"] += 1
        tally[f"persist {answers[e.execution_arn].persist or 'none'}"] += 1
        sent = answers[e.execution_arn].sent
        if sent is not None:
            tally["email sent" if sent else "email skipped"] += 1
    for phase, tally in by_phase.items():
        found.lines.append(f"  {phase}: " + ", ".join(f"{n} {what}" for what, n in tally.items()))
    suppressed = sum(a.persist in ("DUPLICATE", "STALE") for a in answers.values())
    found.lines += [
        f"duplicates suppressed: {suppressed} executions found their image version already "
        f"recorded (Persist DUPLICATE/STALE); "
        f"{sum(a.sent is False for a in answers.values())} Notify steps found it already emailed",
        f"Notify sends per image version with faces: max {max(sends.values(), default=0)}, "
        f"{sum(n > 1 for n in sends.values())} versions sent more than once",
        f"bucket versions with no record (uploaded again after the kill): {orphans}",
        "detector check, first upload of each good file: "
        + ", ".join(
            f"{kind} {with_faces_by_kind[kind]}/{sum(f.kind == kind for f in files)} with faces"
            for kind in KIND_OF.values()
        ),
    ]
    found.suppressed = suppressed
    return found


# --- phase 4: runners at once on one home -------------------------------------------------
@dataclass
class Concurrent:
    """What one phase-4 round left in its data home, read back from the stores."""

    name: str
    files: int
    executions: int = 0
    duplicate_executions: int = 0  # executions beyond one per file
    duplicate_sends: int = 0  # Notify sends beyond one per image version
    duplicate_emails: int = 0
    lost: list[str] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"  {self.name}: {self.files} files, {self.executions} executions, exits "
            f"{self.exits}, {self.seconds:.1f} s; duplicate executions "
            f"{self.duplicate_executions}, duplicate Notify sends {self.duplicate_sends}, "
            f"duplicate emails {self.duplicate_emails}, lost {len(self.lost)}"
        )


def runners_at_once(
    name: str, scratch: Path, folder: Path, args: argparse.Namespace, commands: list[list[str]]
) -> Concurrent:
    """Start ``commands`` (``facepipe`` words) back to back on a fresh home; read it back."""
    home = DataHome(scratch / f"home-{name}")
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            facepipe_command(home.root, args, *words),
            env=child_env(None),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for words in commands
    ]
    errors = [process.communicate(timeout=3600)[1] for process in processes]
    found = Concurrent(name, len(list(folder.iterdir())), seconds=time.monotonic() - started)
    found.exits = [process.returncode for process in processes]
    for process, err in zip(processes, errors, strict=True):
        if process.returncode not in (0, 1) or b"Traceback" in err:  # 1: the bad inputs
            found.lost.append(f"runner exited {process.returncode}: {err.decode()[-500:]}")
    executions = ExecutionStore(executions_db_path(home))
    store = SqliteRecordStore(home.records_db)
    try:
        stored = executions.list_executions(limit=10**9)
        answers = [step_answers(executions, e) for e in stored]
        records = store.list_records(limit=10**9)
    finally:
        executions.close()
        store.close()
    found.executions = len(stored)
    per_key = Counter(e.image_key for e in stored)
    found.duplicate_executions = sum(n - 1 for n in per_key.values())
    sends = Counter(
        (e.image_key, e.version_id) for e, a in zip(stored, answers, strict=True) if a.sent
    )
    found.duplicate_sends = sum(n - 1 for n in sends.values())
    emails = outbox_dedup_ids(home.outbox)
    found.duplicate_emails = len(emails) - len(set(emails))
    terminal = {r.key for r in records if r.status in TERMINAL}
    for path in sorted(folder.iterdir()):
        if f"uploads/{path.name}" not in terminal:
            found.lost.append(f"{name}: uploads/{path.name} has no record")
    for record in records:
        if record.status == "DETECTED" and record.face_count and email_id(record) not in emails:
            found.lost.append(f"{name}: {email_id(record)}: faces and no email")
    return found


def concurrent_phase(
    scratch: Path, files: list[InputFile], args: argparse.Namespace
) -> list[Concurrent]:
    folder = scratch / "concurrent"
    folder.mkdir()
    for file in files[: args.concurrent]:
        (folder / file.path.name).write_bytes(file.path.read_bytes())
    run = ["run", str(folder)]
    named_twice = ["run", *(str(p) for p in sorted(folder.iterdir())), str(folder)]
    rounds = [
        ("two at once", [run, run]),
        ("three at once", [run, run, run]),
        ("each file named twice", [named_twice]),
    ]
    results = []
    for name, commands in rounds:
        progress(f"phase 4: {name}")
        results.append(runners_at_once(name.replace(" ", "-"), scratch, folder, args, commands))
        results[-1].name = name
    return results


# --- the run -------------------------------------------------------------------------------
def count_rows(db: Path, table: str, where: str = "") -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0])


def rss_at_quarters(child: Child) -> str:
    """The child's RSS when a quarter, half, ... of the executions it ended had ended."""
    if not child.rss_samples:
        return "no samples"
    first, last = child.rss_samples[0][0], child.rss_samples[-1][0]
    picks = []
    for quarter in (1, 2, 3, 4):
        target = first + (last - first) * quarter // 4
        picks.append(next(s for s in child.rss_samples if s[0] >= target))
    return ", ".join(f"{mb:.0f} MB at {ended} ended" for ended, mb in picks)


def kept_unsent(home: DataHome) -> int:
    return len(UndeliveredMail(home.undelivered).unsent())


def retry_outbox(
    name: str, home: DataHome, args: argparse.Namespace, scratch: Path, children: list[Child]
) -> tuple[int, int]:
    """``facepipe outbox --retry`` when emails were kept unsent: (kept before, kept after)."""
    kept = kept_unsent(home)
    if kept:
        command = facepipe_command(home.root, args, "outbox", "--retry")
        children.append(
            run_child(name, command, child_env(None), scratch, executions_db_path(home))
        )
    return kept, kept_unsent(home)


def said(kept: tuple[int, int]) -> str:
    before, after = kept
    if not before:
        return "no email kept unsent"
    return f"{before} email(s) kept unsent, then `outbox --retry`: {after} still unsent"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="image versions in all")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--detector", default="yunet")
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=None,
        help="passed to the pipeline (default: 80 for yunet, as README advises; else its own)",
    )
    parser.add_argument("--faults", default=FAULTS, help=f"FACEPIPE_FAULTS (default {FAULTS})")
    parser.add_argument("--kill-at", type=float, default=KILL_AT, help="share ended at the kill")
    parser.add_argument(
        "--concurrent", type=int, default=150, help="files for the runners at once (phase 4)"
    )
    parser.add_argument("--keep", metavar="DIR", help="work in DIR (new) and keep it")
    args = parser.parse_args()
    if args.images < 20:
        parser.error("--images must be at least 20")
    if args.min_confidence is None and args.detector == "yunet":
        args.min_confidence = 80.0
    route_step_logs()
    started = time.monotonic()
    seconds: dict[str, float] = {}
    children: list[Child] = []

    with tempfile.TemporaryDirectory(prefix="facepipe-reliability-") as temp:
        scratch = Path(args.keep) if args.keep else Path(temp)
        scratch.mkdir(parents=True, exist_ok=bool(not args.keep))
        home = DataHome(scratch / "home")
        db = executions_db_path(home)

        pair_count = max(1, round(args.images * PAIR_SHARE))
        batch_count = args.images - 2 * pair_count
        bad_count = max(1, round(args.images * BAD_SHARE))
        variants = Variants(scratch / "samples", SEED)
        files = make_batch(batch_count, bad_count, scratch / "batch", variants)
        seconds["generate"] = time.monotonic() - started
        print(
            f"{args.images} image versions: {batch_count} files for `facepipe run` "
            f"({bad_count} bad inputs: {', '.join(sorted({f.kind for f in files if f.bad}))}) "
            f"+ {pair_count} of their keys x 2 new versions; at most {SIDE} px; "
            f"{args.detector} (min confidence {args.min_confidence or 'default'}), "
            f"{args.workers} workers; FACEPIPE_FAULTS={args.faults}",
            flush=True,
        )

        # 1. crash: kill -9 mid-batch
        phase = time.monotonic()
        kill_at = max(1, round(batch_count * args.kill_at))
        progress(f"phase 1: facepipe run, SIGKILL after {kill_at} executions ended")
        command = facepipe_command(home.root, args, "run", str(scratch / "batch"))
        run = run_child("run", command, child_env(args.faults), scratch, db, kill_at=kill_at)
        children.append(run)
        seconds["crash"] = time.monotonic() - phase
        killed = run.returncode == -signal.SIGKILL
        left = (
            count_rows(db, "executions", "WHERE status = 'RUNNING'"),
            count_rows(db, "pending_events"),
            count_rows(db, "planned_uploads"),
        )
        print(
            "phase 1 crash: `facepipe run` "
            + (
                f"killed (SIGKILL) with {ended_executions(db)} of {batch_count} executions ended"
                if killed
                else f"ENDED BEFORE THE KILL (exit {run.returncode}): no crash exercised"
            )
            + f" after {run.seconds:.1f} s; left {left[0]} RUNNING, {left[1]} pending events, "
            f"{left[2]} planned uploads",
            flush=True,
        )

        # 2. resume, then the kept emails
        phase = time.monotonic()
        progress("phase 2: facepipe resume")
        command = facepipe_command(home.root, args, "resume")
        resume = run_child("resume", command, child_env(args.faults), scratch, db)
        children.append(resume)
        first_line = (resume.stdout.strip().splitlines() or [""])[0]
        matched = re.match(r"resumed (\d+) executions", first_line)
        if matched is None:
            raise RuntimeError(f"facepipe resume said {first_line!r}: {resume.stderr[-2000:]}")
        resumed = int(matched.group(1))
        kept_after_resume = retry_outbox("outbox-1", home, args, scratch, children)
        seconds["resume"] = time.monotonic() - phase
        print(
            f"phase 2 resume: {first_line!r} (exit {resume.returncode}; 1 when any execution "
            f"failed, as the bad inputs do; {resume.seconds:.1f} s); "
            f"{said(kept_after_resume)}",
            flush=True,
        )

        # 3. every event again, and reversed pairs of new versions
        phase = time.monotonic()
        good = [f for f in files if not f.bad]
        keys = [good[n * len(good) // pair_count].key for n in range(pair_count)]
        pairs = new_pairs(home, keys, variants)
        progress(f"phase 3: every event again + {pair_count} reversed pairs, in this process")
        delivered = redeliver(home, args, pairs)
        kept_after_duplicates = retry_outbox("outbox-2", home, args, scratch, children)
        seconds["duplicates"] = time.monotonic() - phase
        print(
            f"phase 3 duplicates: {delivered} events delivered ({delivered - 4 * pair_count} "
            f"stored events again, {pair_count} pairs as new, old, new, old) in "
            f"{seconds['duplicates']:.1f} s; {said(kept_after_duplicates)}",
            flush=True,
        )

        phase = time.monotonic()
        concurrent = concurrent_phase(scratch, files, args)
        seconds["concurrent"] = time.monotonic() - phase
        print("phase 4 runners at once (each on a fresh home, no faults):", flush=True)
        for round_ in concurrent:
            print(round_.line(), flush=True)

        phase = time.monotonic()
        progress("verifying from the stores")
        phase_of_pid = {run.pid: "run (killed)", resume.pid: "resume", os.getpid(): "duplicates"}
        found = verify(home, files, pairs, phase_of_pid)
        seconds["verify"] = time.monotonic() - phase
        if args.keep:
            print(f"kept: {scratch}")

    total = time.monotonic() - started
    bench_peak = proc_status_mb(os.getpid(), "VmHWM") or 0.0
    runner_peak = max(c.peak_mb for c in children)
    peak = max(bench_peak, runner_peak)
    for line in found.lines:
        print(line)
    print(f"runner RSS over the killed run: {rss_at_quarters(run)}")
    print(f"runner RSS over resume: {rss_at_quarters(resume)}")
    print(
        f"images in: {found.images}\nrecords out: {found.records}\n"
        f"failed with reason: {found.failed_with_reason}\nemails sent: {found.emails} "
        f"({kept_after_resume[0] + kept_after_duplicates[0]} had been kept unsent by the "
        f"notifier; `facepipe outbox --retry` left {kept_after_duplicates[1]} unsent)\n"
        f"duplicates suppressed: {found.suppressed}\nresumed: {resumed}\n"
        f"peak RSS: {peak:.0f} MB (runner: "
        + ", ".join(f"{c.name} {c.peak_mb:.0f}" for c in children)
        + f" MB; this process, with phase 3's pipeline: {bench_peak:.0f} MB)\n"
        f"wall time: {total:.1f} s ("
        + ", ".join(f"{name} {s:.1f}" for name, s in seconds.items())
        + ")"
    )
    for round_ in concurrent:
        found.lost += round_.lost
        found.duplicate_emails += round_.duplicate_emails + round_.duplicate_sends
    duplicate_executions = sum(round_.duplicate_executions for round_ in concurrent)
    for what, items in (("LOST", found.lost), ("PROBLEM", found.problems)):
        for item in items[:20]:
            print(f"{what}: {item}")
        if len(items) > 20:
            print(f"{what}: ... and {len(items) - 20} more")
    print(
        f"images={found.images} records={found.records} "
        f"failed_with_reason={found.failed_with_reason} emails={found.emails} "
        f"lost={len(found.lost)} duplicate_executions={duplicate_executions} "
        f"duplicate_emails={found.duplicate_emails} "
        f"resumed={resumed} peak_rss_mb={peak:.0f}"
    )
    failed = found.lost or found.duplicate_emails or found.problems or duplicate_executions
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
