"""SQLite the way the local services use it: WAL, a busy timeout, one connection per thread,
write transactions that take the lock up front, and a schema version with forward-only steps.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# Generous: writers from several threads and processes queue on SQLite's lock, briefly each.
BUSY_TIMEOUT_SECONDS = 30.0

Migration = Sequence[str]  # the SQL statements of one schema step, run in one transaction


class SchemaTooNewError(RuntimeError):
    """The file was written by a newer facepipe than this one."""


class Database:
    """A SQLite file shared by threads (one connection each) and by processes (WAL + locks)."""

    def __init__(self, path: Path, migrations: Sequence[Migration], *, name: str) -> None:
        self.path = path
        self.name = name
        self._migrations = migrations
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    @property
    def schema_version(self) -> int:
        return len(self._migrations)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction holding the write lock from its first statement (no upgrade deadlock)."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection; use the object no more afterwards."""
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves; check_same_thread=False
        # only so close() may close other threads' connections at shutdown.
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _enter_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _migrate(self) -> None:
        with self.write() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current > self.schema_version:
                raise SchemaTooNewError(
                    f"{self.name} database {self.path} has schema version {current}, but this "
                    f"facepipe only knows up to {self.schema_version}; upgrade facepipe"
                )
            for migration in self._migrations[current:]:
                for statement in migration:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {self.schema_version}")


def _enter_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL, waiting out other processes opening it at the same moment.

    Changing the journal mode needs the exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, while another new process holds a lock in
    rollback mode: two ``facepipe run`` started together on a fresh home meet exactly that.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
