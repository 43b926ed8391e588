"""The SQLite files of the data home, opened by several processes at the same moment."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from facepipe.local.database import Database

SCHEMA = [["CREATE TABLE IF NOT EXISTS seen (name TEXT PRIMARY KEY)"]]


def _open_and_write(path: str, name: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait()
    database = Database(Path(path), SCHEMA, name="test")
    with database.write() as conn:
        conn.execute("INSERT INTO seen (name) VALUES (?)", (name,))
    database.close()


def test_processes_creating_one_fresh_file_together_all_open_it(tmp_path: Path) -> None:
    # Switching a new file to WAL is refused at once ("database is locked") while another
    # process holds its first lock; two `facepipe run` on a fresh home hit it (issue 10).
    context = multiprocessing.get_context("spawn")
    for attempt in range(10):
        path = tmp_path / f"fresh-{attempt}.db"
        barrier = context.Barrier(4)
        processes = [
            context.Process(target=_open_and_write, args=(str(path), f"p{n}", barrier))
            for n in range(4)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        assert [process.exitcode for process in processes] == [0, 0, 0, 0]
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("SELECT count(*) FROM seen").fetchone()[0] == 4
