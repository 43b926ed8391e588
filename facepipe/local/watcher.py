"""Noticing image files that appear in a folder, once they are completely written.

Polling with ``stat`` works on every file system (network shares, bind mounts) where change
notifications do not. A file is ready when its size and modification time were the same at
two polls in a row, so a copy still in progress is not uploaded half-written; a file that
changes after it was handed over is handed over again (a new version, as in S3).
"""

from __future__ import annotations

from pathlib import Path

FileSignature = tuple[int, int]  # (size, mtime in ns)


class FolderWatcher:
    """Reports each new or changed file of one folder (not its subfolders) once it is stable."""

    def __init__(self, folder: Path, *, include_existing: bool = False) -> None:
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
        self.folder = folder
        self._last_seen: dict[Path, FileSignature] = {}
        self._handed_over: dict[Path, FileSignature] = (
            {} if include_existing else self._signatures()
        )

    def poll(self) -> list[Path]:
        """Files that were unchanged since the previous poll and not handed over as they are."""
        current = self._signatures()
        ready = [
            path
            for path, signature in sorted(current.items())
            if self._last_seen.get(path) == signature and self._handed_over.get(path) != signature
        ]
        for path in ready:
            self._handed_over[path] = current[path]
        self._last_seen = current
        return ready

    def _signatures(self) -> dict[Path, FileSignature]:
        found: dict[Path, FileSignature] = {}
        for entry in self.folder.iterdir():
            # Hidden names are where downloaders and rsync write before renaming into place.
            if entry.name.startswith("."):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:  # removed between listing and stat
                continue
            if entry.is_file():
                found[entry] = (stat.st_size, stat.st_mtime_ns)
        return found
