"""Noticing image files that appear in a folder or its subfolders, once completely written.

Polling with ``stat`` works on every file system (network shares, bind mounts) where change
notifications do not. A file is ready once its size and modification time have stayed the
same for ``settle_seconds``, so a copy still in progress is not uploaded half-written; a
file that changes after it was handed over is handed over again (a new version, as in S3).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

FileSignature = tuple[int, int]  # (size, mtime in ns)
DEFAULT_SETTLE_SECONDS = 2.0


class FolderWatcher:
    """Reports each new or changed file under one folder once it is stable.

    Subfolders are looked into (not links to folders, which could loop); hidden names are
    left alone, files and folders, as that is where downloaders and rsync write before
    renaming into place. Anything else is reported, even a FIFO or a link to nothing: the
    intake says why it is not taken.
    """

    def __init__(
        self,
        folder: Path,
        *,
        include_existing: bool = False,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
        self.folder = folder
        self.settle_seconds = settle_seconds
        self._clock = clock
        # Each file's current signature and since when it has had it.
        self._unchanged_since: dict[Path, tuple[FileSignature, float]] = {}
        self._handed_over: dict[Path, FileSignature] = (
            {} if include_existing else self._signatures()
        )

    def poll(self) -> list[Path]:
        """Files settled since they last changed, and not yet handed over as they are now."""
        now = self._clock()
        current = self._signatures()
        self._unchanged_since = {
            path: (
                self._unchanged_since[path]
                if path in self._unchanged_since and self._unchanged_since[path][0] == signature
                else (signature, now)
            )
            for path, signature in current.items()
        }
        ready = [
            path
            for path, (signature, since) in sorted(self._unchanged_since.items())
            if now - since >= self.settle_seconds and self._handed_over.get(path) != signature
        ]
        for path in ready:
            self._handed_over[path] = current[path]
        return ready

    def _signatures(self) -> dict[Path, FileSignature]:
        found: dict[Path, FileSignature] = {}
        folders = [self.folder]
        while folders:
            try:
                entries = list(os.scandir(folders.pop()))
            except OSError:  # removed meanwhile, or not readable: nothing to report in it
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
                    continue
                try:
                    stat = entry.stat() if not entry.is_symlink() else _link_stat(entry.path)
                except FileNotFoundError:  # removed between listing and stat
                    continue
                found[Path(entry.path)] = (stat.st_size, stat.st_mtime_ns)
        return found


def _link_stat(path: str) -> os.stat_result:
    """What a link points to, or the link itself when it points to nothing."""
    try:
        return os.stat(path)
    except OSError:
        return os.lstat(path)
