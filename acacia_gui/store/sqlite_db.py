"""SqliteDatabase: one SQLite file's connections, write transactions, schema and WAL checkpoints.

The one object the SQLite store's parts share (sqlite_jobs.SqliteJobs for reads and user
actions, sqlite_worker.SqliteWorkerStore for the engine's writes); they use only its
public methods.

Thread-safety: one connection per thread (made on first use), every write in `BEGIN
IMMEDIATE`, so two threads or two processes never write at once and never claim the
same job.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from ..core.errors import InvalidOptionError, StoreError
from ..core.job import JobId

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
SYNCHRONOUS_LEVELS = {"off": "OFF", "normal": "NORMAL", "full": "FULL"}
BACKSTOP_CHECKPOINT_PAGES = 4_000  # see checkpoint_in_background (SQLite's default is 1,000)


class SqliteDatabase:
    """A SQLite file in WAL mode, migrated to SCHEMA_VERSION when opened.

    `synchronous`: 'normal' (a commit survives any crash of the app) or 'full' (also
    power loss, at a cost in commits per second). Raises InvalidOptionError for another
    level, StoreError when the file cannot be opened in WAL mode or was written by a
    newer schema.
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "normal", busy_timeout: float = 10.0):
        if synchronous not in SYNCHRONOUS_LEVELS:
            raise InvalidOptionError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}, got {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._local = threading.local()
        self._all_connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._checkpoint_on_commit = True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # -- connections -----------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"could not switch {self.path} to WAL mode (got {mode}); is it on a network file system?")
            conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS_LEVELS[self.synchronous]}")
            conn.execute("PRAGMA foreign_keys = OFF")
            if not self._checkpoint_on_commit:
                conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
        except BaseException:
            conn.close()  # not kept anywhere yet: nobody else would close it
            raise
        with self._connections_lock:
            self._all_connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: reads outside `write` see the latest commit)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on this thread's connection: committed when the block ends,
        rolled back if it raises. SQLite failures become StoreError."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc

    @staticmethod
    def event(conn: sqlite3.Connection, job_id: JobId, source: str, old: str | None, new: str,
              message: str = "", at: float | None = None) -> None:  # fmt: skip
        """Record one state change (inside the caller's transaction)."""
        conn.execute(
            "INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, at or time.time(), source, old, new, message),
        )

    def release_thread_connection(self) -> None:
        """Close this thread's connection, if it has one (a thread about to end)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        with self._connections_lock:
            if conn in self._all_connections:
                self._all_connections.remove(conn)
        conn.close()

    def close(self) -> None:
        """Close every thread's connection; the next use on any thread opens a new one."""
        with self._connections_lock:
            conns, self._all_connections = self._all_connections, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap 'anything new?' poll."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # -- schema ----------------------------------------------------------------------
    def _migrate(self) -> None:
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer Acacia (schema {version}, this one knows {SCHEMA_VERSION}); upgrade Acacia"
            )
        if version == SCHEMA_VERSION:
            return
        folder = resources.files("acacia_gui.store.migrations")
        scripts = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
        with self.write() as c:
            current = c.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
            for script in scripts:
                number = int(script.name.split("_", 1)[0])
                if number <= current:
                    continue
                for statement in _split_sql(script.read_text(encoding="utf-8")):
                    c.execute(statement)
                c.execute(f"PRAGMA user_version = {number}")

    # -- checkpoints -----------------------------------------------------------------
    def checkpoint_in_background(self, every: float = 0.05) -> Callable[[], None]:
        """Move WAL checkpoints, and the fsync each one ends with, off the committing threads.

        By default SQLite checkpoints inside a commit every 1,000 WAL pages, which stalls
        that commit for milliseconds (the enqueue→start p99 showed it). From now on a
        daemon thread runs a PASSIVE checkpoint every `every` seconds, and this thread's
        connection and every new one checkpoint on commit only as a backstop, when a
        write storm with no pause has let the WAL reach BACKSTOP_CHECKPOINT_PAGES (a
        background checkpoint cannot finish while writes keep coming). Call it from the
        long-running app's main thread before other threads open connections. Returns a
        function that stops the thread, runs a last checkpoint and restores the default.
        """
        self._checkpoint_on_commit = False
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
        stop = threading.Event()

        def checkpoint_now() -> None:
            try:
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:  # busy or closed: the next round (or the next writer) does it
                log.debug("background checkpoint of %s skipped: %s", self.path, exc)

        def run() -> None:
            while not stop.wait(every):
                checkpoint_now()
            self.release_thread_connection()  # this thread's connection ends with it

        thread = threading.Thread(target=run, name="acacia-wal-checkpoint", daemon=True)
        thread.start()

        def stop_checkpoints() -> None:
            stop.set()
            thread.join()
            self._checkpoint_on_commit = True
            self.conn.execute("PRAGMA wal_autocheckpoint = 1000")
            checkpoint_now()

        return stop_checkpoints


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (ours never put ';' inside string literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]
