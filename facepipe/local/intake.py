"""The one intake: how files (``run``, ``watch``) and uploaded bytes (the console) get into
the local bucket. Every entry point goes through ``LocalPipeline.take_in``.

Names. A file's key is the prefix plus its path inside the folder it was found in (a file
named itself: its name), each part cleaned as the console cleans an upload's name (control
characters, backslashes and undecodable bytes become ``_``). When two different files of one
batch would share a key, each takes as many of its parent folders as makes them differ
(``A/same.jpg`` and ``B/same.jpg`` are ``uploads/A/same.jpg`` and ``uploads/B/same.jpg``),
so the same command names the same files the same way every time.

Rows. Every file found gets a row: taken in, or why not (SKIPPED: hidden, not a regular
file, named twice, the rule would not take its key, already run; NOT_UPLOADED: gone,
unreadable, a key S3 refuses). One bad file never stops the others.

Claims. Before anything is uploaded, each file's bytes (their MD5, the ETag S3 gives them)
are claimed under its key in one SQLite transaction that also checks what is queued,
running or recorded (``UploadJournal.claiming``): of two live runners of one data home,
only one ever uploads the same bytes under the same key. The claim is the planned upload a
killed runner leaves for ``resume``; it ends when the upload's event is queued.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from facepipe.local.events.bus import (
    accepted_key_patterns,
    load_upload_rule,
    object_created_shape,
    skip_reason,
)
from facepipe.local.executions import RUNNING, UploadClaims
from facepipe.local.objectstore import (
    InvalidObjectName,
    bytes_etag,
    file_etag,
    validate_key,
)
from lambdas.domain.ordering import FAILED

if TYPE_CHECKING:
    import threading

    from facepipe.local.executions import ExecutionStore
    from facepipe.local.objectstore import LocalObjectStore
    from facepipe.local.outcome import ExecutionOutcome, Upload
    from facepipe.local.recordstore import SqliteRecordStore

SKIPPED = "SKIPPED"  # not taken in, on purpose: the reason says why
NOT_UPLOADED = "NOT_UPLOADED"  # could not be taken in: a failure, for the exit status
CLAIMS_PER_TRANSACTION = 200  # each holds the write lock briefly; other runners' writes wait

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\\ud800-\udfff]")


def safe_name(name: str) -> str:
    """One part of a key, as a person can read and type it: control characters, slashes,
    backslashes and bytes that are not UTF-8 become ``_``; '' for nothing usable."""
    cleaned = _UNSAFE.sub("_", name).strip()
    return "" if cleaned in ("", ".", "..") else cleaned


def folder_prefix(prefix: str) -> str:
    """A prefix is taken as a folder: "uploads" means "uploads/"."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def prefix_refusal(bucket: str, prefix: str) -> str | None:
    """Why no file could run under ``prefix`` (the rule takes no image key there), or None."""
    rule = load_upload_rule(bucket)
    folder = folder_prefix(prefix)
    for example in ("photo.jpg", "photo.jpeg", "photo.png"):
        event = object_created_shape(bucket, folder + example)
        if rule.matches(event):
            return None
    return (
        f"--prefix {prefix!r}: the upload rule takes no image under it (it takes keys like "
        + ", ".join(accepted_key_patterns())
        + "), so every file would be skipped"
    )


@dataclass
class Source:
    """One file or upload to take in, and its row once it is settled."""

    label: str  # how the person named it: the path as given or found, or the upload's name
    key: str
    path: Path | None = None
    data: bytes | None = None
    # Where the file lives, for telling apart two files that would share a key.
    anchor: tuple[str, ...] = ()
    depth: int = 1  # how many trailing parts of ``anchor`` make the key
    skipped: str | None = None
    not_uploaded: str | None = None
    upload: Upload | None = None
    claim: int | None = None  # the planned upload's id, once claimed

    @property
    def settled(self) -> bool:
        return self.skipped is not None or self.not_uploaded is not None

    @property
    def status(self) -> str | None:
        """SKIPPED or NOT_UPLOADED when not taken in; None when uploaded (or not yet)."""
        if self.not_uploaded is not None:
            return NOT_UPLOADED
        return SKIPPED if self.skipped is not None else None

    @property
    def reason(self) -> str | None:
        return self.not_uploaded if self.not_uploaded is not None else self.skipped

    @property
    def execution(self) -> Future[ExecutionOutcome] | None:
        return self.upload.execution if self.upload is not None else None


class NoSuchPath(ValueError):
    """Paths named that do not exist at all (a typo): nothing is taken in."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(f"no such file or folder: {', '.join(paths)}")
        self.paths = paths


# --- finding files -------------------------------------------------------------------------
def files_named(paths: Sequence[str], prefix: str) -> list[Source]:
    """A row for every file named and every file under the folders named (walked whole)."""
    missing = [raw for raw in paths if not os.path.lexists(raw)]
    if missing:
        raise NoSuchPath(missing)
    found: list[Source] = []
    for raw in paths:
        if os.path.isdir(raw):
            found += _walk(Path(raw), (), prefix)
        else:
            found.append(_file(Path(raw), raw, (Path(raw).name,), prefix))
    _skip_named_twice(found)
    _tell_apart(found, prefix)
    return found


def files_in_folder(folder: Path, paths: Iterable[Path], prefix: str) -> list[Source]:
    """Rows for files found under ``folder`` (``watch``): keys by their path inside it."""
    found = []
    for path in sorted(paths):
        inside = path.relative_to(folder)
        found.append(_file(path, str(inside), inside.parts, prefix))
    _tell_apart(found, prefix)
    return found


def upload_named(filename: str, data: bytes, key: str) -> Source:
    """The row of bytes uploaded under a name (the console), already keyed."""
    return Source(label=filename, key=key, data=data, anchor=(key,))


def _walk(folder: Path, inside: tuple[str, ...], prefix: str) -> list[Source]:
    found: list[Source] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        row = _row(folder, str(folder), inside or (folder.name,), prefix)
        row.not_uploaded = f"folder cannot be read: {error.strerror or error}"
        return [row]
    for entry in entries:
        path, parts = Path(entry.path), (*inside, entry.name)
        if entry.name.startswith("."):
            row = _row(path, entry.path, parts, prefix)
            what = "folder" if entry.is_dir() else "file"
            row.skipped = f"a hidden {what} (its name starts with a dot): name it to run it"
            found.append(row)
        elif entry.is_dir(follow_symlinks=False):
            found += _walk(path, parts, prefix)
        elif entry.is_symlink() and entry.is_dir():
            row = _row(path, entry.path, parts, prefix)
            row.skipped = "a link to a folder, not followed: name the folder to run it"
            found.append(row)
        else:
            found.append(_file(path, entry.path, parts, prefix))
    return found


def _row(path: Path, label: str, parts: tuple[str, ...], prefix: str) -> Source:
    anchor = tuple(part for part in Path(os.path.abspath(path)).parts if part != os.sep)
    return Source(label=label, key=_key(prefix, parts), path=path, anchor=anchor, depth=len(parts))


def _file(path: Path, label: str, parts: tuple[str, ...], prefix: str) -> Source:
    """The row of one file: ready to claim, or why it cannot be."""
    row = _row(path, label, parts, prefix)
    try:
        info = path.stat()
    except FileNotFoundError:
        gone = "a link to nothing (its target is gone)" if path.is_symlink() else None
        row.not_uploaded = gone or "disappeared before it was read"
        return row
    except OSError as error:  # e.g. a link that loops
        row.not_uploaded = f"cannot be read: {error.strerror or error}"
        return row
    if not stat.S_ISREG(info.st_mode):
        row.skipped = f"not a regular file ({_file_kind(info.st_mode)})"
    return row


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
    }
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


def _key(prefix: str, parts: Sequence[str]) -> str:
    return folder_prefix(prefix) + "/".join(safe_name(part) or "_" for part in parts)


def _skip_named_twice(found: list[Source]) -> None:
    """The same file found again (named twice, a glob and its folder, a link to it)."""
    first: dict[tuple[int, int], Source] = {}
    for row in found:
        if row.settled or row.path is None:
            continue
        try:
            info = row.path.stat()
        except OSError:
            continue  # found out when it is read
        identity = (info.st_dev, info.st_ino)
        if identity in first:
            row.skipped = f"the same file as {first[identity].label}, named twice"
        else:
            first[identity] = row


def _tell_apart(found: list[Source], prefix: str) -> None:
    """Give files that would share a key as many parent folders as makes them differ."""
    for _ in range(len(found) + 1):  # each round lengthens some keys: it ends
        by_key: dict[str, list[Source]] = {}
        for row in found:
            if not row.settled:
                by_key.setdefault(row.key, []).append(row)
        shared = [rows for rows in by_key.values() if len(rows) > 1]
        if not shared or not any(_lengthen(rows, prefix) for rows in shared):
            break
    seen: dict[str, Source] = {}
    for row in found:
        if row.settled:
            continue
        if row.key in seen:  # e.g. "a\nb.jpg" and "a_b.jpg" side by side: rename one
            row.not_uploaded = f"its key {row.key!r} is also that of {seen[row.key].label}"
        else:
            seen[row.key] = row


def _lengthen(rows: list[Source], prefix: str) -> bool:
    """The least depth at which these rows' keys differ, for all of them; False if none."""
    longest = min(len(row.anchor) for row in rows)
    for depth in range(max(row.depth for row in rows) + 1, longest + 1):
        keys = {_key(prefix, row.anchor[-depth:]) for row in rows}
        if len(keys) == len(rows):
            for row in rows:
                row.depth, row.key = depth, _key(prefix, row.anchor[-depth:])
            return True
    return False


# --- taking in -----------------------------------------------------------------------------
RowListener = Callable[[Source], None]


class IntakeOptions(Protocol):
    @property
    def bucket(self) -> str: ...


class Pipeline(Protocol):
    """What the intake needs of ``facepipe.local.runtime.LocalPipeline``."""

    @property
    def options(self) -> IntakeOptions: ...

    executions: ExecutionStore
    objects: LocalObjectStore
    records: SqliteRecordStore

    def rule_takes(self, key: str) -> bool: ...

    def upload(self, source: Path | bytes, key: str, *, planned: int | None = None) -> Upload: ...


class Intake:
    """Claims and uploads for one LocalPipeline (``LocalPipeline.take_in`` is the entry)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def take_in(
        self,
        rows: list[Source],
        *,
        force: bool = False,
        stop: threading.Event | None = None,
        queue_limit: int | None = None,
        on_row: RowListener | None = None,
    ) -> list[Source]:
        """Claim every row that can be, then upload the claimed ones in order; each row is
        passed to ``on_row`` once settled or uploaded.

        With ``queue_limit``, an upload waits while that many of this batch's executions are
        unfinished (a long batch is read as it runs, not all at once). After ``stop`` no more
        is uploaded: those rows are left unsettled, their claims for ``cancel_pending``.
        """
        tell = on_row or (lambda row: None)
        self._check(rows)
        self._claim([row for row in rows if not row.settled], force)
        unfinished: set[Future[ExecutionOutcome]] = set()
        for row in rows:
            if row.claim is None:
                if row.settled:
                    tell(row)
                continue
            while queue_limit is not None and len(unfinished) >= queue_limit:
                if stop is not None and stop.is_set():
                    break
                _, unfinished = wait(unfinished, timeout=0.2, return_when=FIRST_COMPLETED)
            if stop is not None and stop.is_set():
                break
            self._upload(row)
            if row.execution is not None:
                unfinished.add(row.execution)
            tell(row)
        return rows

    def _check(self, rows: list[Source]) -> None:
        """Keys S3 would refuse and keys the upload rule would not take, before any claim."""
        for row in rows:
            if row.settled:
                continue
            try:
                validate_key(row.key)
            except InvalidObjectName as refused:
                row.not_uploaded = str(refused)
                continue
            if not self._pipeline.rule_takes(row.key):
                row.skipped = skip_reason(row.key) + "; not uploaded"

    def _claim(self, rows: list[Source], force: bool) -> None:
        etags: list[tuple[Source, str]] = []
        for row in rows:
            try:
                etags.append((row, _etag(row)))
            except FileNotFoundError:
                row.not_uploaded = "disappeared before it was read"
            except OSError as error:
                row.not_uploaded = f"cannot be read: {error.strerror or error}"
        executions = self._pipeline.executions
        for start in range(0, len(etags), CLAIMS_PER_TRANSACTION):
            with executions.uploads.claiming(self._pipeline.options.bucket) as claims:
                for row, etag in etags[start : start + CLAIMS_PER_TRANSACTION]:
                    row.skipped = self._taken_already(claims, row.key, etag, force)
                    if row.skipped is None:
                        source = str(row.path.resolve()) if row.path else f"(upload {row.label})"
                        row.claim = claims.claim(source, row.key, etag)

    def _taken_already(self, claims: UploadClaims, key: str, etag: str, force: bool) -> str | None:
        """Why taking these bytes in as ``key`` would only run them twice, or None.

        Read inside the claim's transaction: a claim, or the object being the bucket's
        current version of ``key`` whose execution runs or waits, or (unless ``force``)
        whose record is DETECTED. A FAILED one is run again: its failure may have passed.
        """
        pipeline = self._pipeline
        holder = claims.holder(key, etag)
        if holder is not None:
            runner, pid = holder
            if runner == pipeline.executions.runner_id:
                return "already being uploaded by this run"
            if not pipeline.executions.runner_gone(runner):
                return f"being uploaded by another runner (process {pid})"
            return "noted by a run that stopped: `facepipe resume` uploads it"
        current = pipeline.objects.current(claims.bucket, key)
        if current is None or current.etag.strip('"') != etag:
            return None
        version = str(current.version_id)
        flight = claims.in_flight(key, version)
        if flight == RUNNING:
            return f"already running: this file is version {version}"
        if flight is not None:
            return f"already queued: this file is version {version}; `facepipe resume` runs it"
        status = None if force else pipeline.records.status_of(key, version)
        if status is not None and status != FAILED:
            return f"already run: this file is version {version}, {status} (--force runs it again)"
        return None

    def _upload(self, row: Source) -> None:
        assert row.claim is not None
        source: Path | bytes = row.data if row.data is not None else row.path  # type: ignore[assignment]
        try:
            row.upload = self._pipeline.upload(source, row.key, planned=row.claim)
        except OSError as error:
            self._pipeline.executions.uploads.done(row.claim)  # the claim ends with the row
            gone = isinstance(error, FileNotFoundError)
            row.not_uploaded = (
                "disappeared before it was uploaded"
                if gone
                else f"cannot be read: {error.strerror or error}"
            )


def _etag(row: Source) -> str:
    if row.data is not None:
        return bytes_etag(row.data)
    assert row.path is not None
    return file_etag(row.path)
