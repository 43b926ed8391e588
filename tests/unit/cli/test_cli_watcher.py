"""Picking up files in a watched folder only once they have stopped changing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from facepipe.local.watcher import FolderWatcher


class SteppedClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


def touch(path: Path, data: bytes, mtime_ns: int) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_growing_file_is_ready_only_after_it_settles(tmp_path: Path, clock: SteppedClock) -> None:
    watcher = FolderWatcher(tmp_path, settle_seconds=2, clock=clock)
    photo = tmp_path / "a.jpg"
    touch(photo, b"half", 1)
    assert watcher.poll() == []
    clock.now += 1.5
    touch(photo, b"half and more", 2)  # still being written
    assert watcher.poll() == []
    clock.now += 1.5
    assert watcher.poll() == []  # 1.5 s unchanged: not yet
    clock.now += 0.5
    assert watcher.poll() == [photo]
    clock.now += 5
    assert watcher.poll() == []  # handed over once


def test_a_changed_file_is_handed_over_again(tmp_path: Path, clock: SteppedClock) -> None:
    watcher = FolderWatcher(tmp_path, settle_seconds=1, clock=clock)
    photo = tmp_path / "a.jpg"
    touch(photo, b"v1", 1)
    watcher.poll()
    clock.now += 1
    assert watcher.poll() == [photo]
    touch(photo, b"version 2", 2)
    watcher.poll()
    clock.now += 1
    assert watcher.poll() == [photo]


def test_existing_and_hidden_files_are_left_alone_unless_asked(
    tmp_path: Path, clock: SteppedClock
) -> None:
    (tmp_path / "old.jpg").write_bytes(b"old")
    (tmp_path / ".incoming.jpg").write_bytes(b"partial download")
    (tmp_path / "sub").mkdir()

    ignoring = FolderWatcher(tmp_path, settle_seconds=1, clock=clock)
    including = FolderWatcher(tmp_path, settle_seconds=1, clock=clock, include_existing=True)
    ignoring.poll(), including.poll()
    clock.now += 1

    assert ignoring.poll() == []
    assert including.poll() == [tmp_path / "old.jpg"]


def test_watching_something_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        FolderWatcher(tmp_path / "missing")
