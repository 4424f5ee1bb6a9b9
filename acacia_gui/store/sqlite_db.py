"""SqliteDatabase: one SQLite file's connections, write transactions, schema and WAL checkpoints.

The one object the SQLite store's parts share (sqlite_jobs.SqliteJobs for reads and user
actions, sqlite_worker.SqliteWorkerStore for the engine's writes); they use only its
public methods.

Thread-safety: one connection per thread (made on first use), every write in `BEGIN
IMMEDIATE`, so two threads or two processes never write at once and never claim the
same job.
"""

from __future__ import annotations

import collections
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from ..core.errors import CorruptDatabaseError, InvalidOptionError, StoreError
from ..core.job import JobId
from .datadir import create_private_file, make_private_dir
from .migrations import PYTHON_STEPS

log = logging.getLogger(__name__)

SCHEMA_VERSION = 11  # the highest step: 0005, 0009 and 0010 are Python steps (migrations/__init__.py)
MAX_UNANNOUNCED_NOTES = 100_000  # dependency changes kept for announcing; a process that never announces drops the oldest
SYNCHRONOUS_LEVELS = {"off": "OFF", "normal": "NORMAL", "full": "FULL"}
BACKSTOP_CHECKPOINT_PAGES = 4_000  # see checkpoint_in_background (SQLite's default is 1,000)
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # the WAL is truncated back to this after a checkpoint
SWITCH_TO_INCREMENTAL_VACUUM_BELOW = 256 * 1024 * 1024  # a VACUUM at start that takes a second or two at most


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
        # Changes a transaction made beyond what its caller asked for (dependents released or
        # cancelled): noted inside it, kept here once it commits, until someone announces them.
        self.settle_backlog = True  # release_backlog may hold rows: the first engine transaction looks
        self._committed_notes: collections.deque[tuple[JobId, str, str]] = collections.deque(maxlen=MAX_UNANNOUNCED_NOTES)
        make_private_dir(self.path.parent)  # 0700 when created here (the CLI creates the data folder too)
        create_private_file(self.path)  # 0600 before SQLite opens it: its -wal and -shm take the same mode
        self._migrate()
        self._use_incremental_vacuum()

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
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
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
        except sqlite3.DatabaseError as exc:
            raise write_error(self.path, exc) from exc
        self._local.notes = []
        try:
            yield conn
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise write_error(self.path, exc) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise write_error(self.path, exc) from exc
        if self._local.notes:
            self._committed_notes.extend(self._local.notes)

    def note(self, changes: list[tuple[JobId, str, str]]) -> None:
        """Inside a write(): (job id, queue, new state) of jobs this transaction changed as a
        consequence (take_notes hands them out once it commits; a rollback forgets them)."""
        self._local.notes.extend(changes)

    def notes_mark(self) -> int:
        return len(self._local.notes)

    def forget_notes_since(self, mark: int) -> None:
        """A savepoint was rolled back: what it noted did not happen."""
        del self._local.notes[mark:]

    def take_notes(self) -> list[tuple[JobId, str, str]]:
        """The committed notes not taken yet, oldest first (any thread; each is handed out once)."""
        taken = []
        while True:
            try:
                taken.append(self._committed_notes.popleft())
            except IndexError:
                return taken

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
        scripts = {int(p.name.split("_", 1)[0]): p for p in folder.iterdir() if p.name.endswith(".sql")}
        with self.write() as c:
            current = c.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
            for number in sorted({*scripts, *PYTHON_STEPS}):
                if number <= current:
                    continue
                if number in PYTHON_STEPS:
                    PYTHON_STEPS[number](c)
                else:
                    for statement in _split_sql(scripts[number].read_text(encoding="utf-8")):
                        c.execute(statement)
                c.execute(f"PRAGMA user_version = {number}")

    # -- giving space back ---------------------------------------------------------------
    def _use_incremental_vacuum(self) -> None:
        """Switch the file to auto_vacuum=INCREMENTAL, so deletes can give free pages back (sqlite_jobs._give_back_free_pages).

        A new file switches for free (before its first table); an existing one needs a
        VACUUM, done here when the file is under SWITCH_TO_INCREMENTAL_VACUUM_BELOW and no
        other connection is using it; otherwise it is left as it is (deleted rows' pages are
        reused, the file does not shrink) and tried again at the next start."""
        conn = self.conn
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return  # an empty file: done
        pages, page_size = (conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "page_size"))
        if pages * page_size > SWITCH_TO_INCREMENTAL_VACUUM_BELOW:
            log.info("%s is %d MB: it will not shrink after deletes until a start finds it under %d MB",
                     self.path, pages * page_size // 10**6, SWITCH_TO_INCREMENTAL_VACUUM_BELOW // 10**6)  # fmt: skip
            return
        try:
            conn.execute("VACUUM")
        except sqlite3.Error as exc:  # another process has it open: the next start tries again
            log.debug("could not switch %s to incremental vacuum: %s", self.path, exc)

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


# -- damage: detect it, say so, and what to do ---------------------------------------------
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
QUICK_CHECK_SECONDS = 10.0  # at start, a quick_check longer than this stops and is reported as partial


def is_corruption(exc: BaseException) -> bool:
    """Is this SQLite error a damaged file (not a full disk, a lock or a read-only folder)?"""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "malformed" in text or "file is not a database" in text


def corruption_message(path: str | os.PathLike[str], what: str) -> str:
    return (f"the database {path} is damaged ({what}); stop Acacia and run `acacia db recover OUT` "
            f"to save what is readable into a new file OUT, then move OUT to {path}")  # fmt: skip


def write_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """The StoreError for a failed write: CorruptDatabaseError when the file is damaged."""
    if is_corruption(exc):
        return CorruptDatabaseError(corruption_message(path, str(exc)))
    return StoreError(f"cannot write to {path}: {exc}")


def check_database(path: str | os.PathLike[str], *, full: bool = False,
                   time_limit: float | None = None) -> tuple[list[str], bool]:  # fmt: skip
    """Run `PRAGMA quick_check` (or `integrity_check` with `full`) read-only on `path`.

    Returns (problems, complete): problems is empty when the file is sound; complete is
    False when `time_limit` seconds passed first (then the check stopped, partial)."""
    if not Path(path).is_file():
        raise StoreError(f"{path} does not exist")
    conn = sqlite3.connect(path, timeout=10.0)  # not mode=ro: a WAL file without its -shm would not open
    deadline = None if time_limit is None else time.monotonic() + time_limit
    if deadline is not None:
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        rows = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError as exc:
        if deadline is not None and time.monotonic() > deadline and "interrupt" in str(exc).lower():
            return [], False
        if is_corruption(exc):
            return [str(exc)], True
        raise
    except sqlite3.DatabaseError as exc:
        return [str(exc)], True
    finally:
        conn.close()
    problems = [str(row[0]) for row in rows if str(row[0]) != "ok" and not _row_content_problem(str(row[0]))]
    return problems, True


def _row_content_problem(problem: str) -> bool:
    """A row another program wrote past the CHECKs is not damage to the file: the store sets
    such a row aside when it meets it (see rows.py), and every other job runs. Only the
    file's structure (pages, b-trees, indexes) makes it unusable."""
    return problem.startswith(("CHECK constraint failed", "NULL value in"))
