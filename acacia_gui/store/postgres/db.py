"""PostgresDatabase: one PostgreSQL database's connection pool, write transactions, events, notes and schema.

The counterpart of store/sqlite_db.SqliteDatabase and the one object the PostgreSQL store's
parts share (jobs.PostgresJobs, worker.PostgresWorkerStore, artifacts, checkpoints, ...);
they use only its public methods.

Thread-safety: the pool hands each `write()` or `read()` its own connection, so threads never
share one. Connections are in autocommit mode: `read()` holds no transaction (each statement
sees the latest commit, as SQLite's autocommit reads do), and `write()` opens exactly one.
Two writers are kept apart by row locks (`FOR UPDATE [SKIP LOCKED]`), not by one database-wide
lock as in SQLite.

Errors: a psycopg error that leaves a `write()` becomes core.errors.StoreError, like SQLite's;
a server that cannot be reached is a StoreError from `read()` too. No message ever carries
the password of the connection string (safe_target, without_secret).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from ...core.errors import StoreError
from ...core.job import JobId

log = logging.getLogger(__name__)

MAX_UNANNOUNCED_NOTES = 100_000  # as SQLite's: a process that never announces drops the oldest
CONNECT_TIMEOUT = 10.0  # seconds to reach the server when the store opens, and to get a pooled connection
# Any constant key: every Acacia that migrates this database takes the same transaction-level lock.
MIGRATION_LOCK_KEY = 0x41636163  # "Acac"
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at double precision NOT NULL)"


def schema_scripts() -> dict[int, str]:
    """The migrations/NNNN_name.sql scripts, number → text (read through importlib, so a frozen app has them)."""
    folder = resources.files("acacia_gui.store.postgres.migrations")
    return {int(p.name.split("_", 1)[0]): p.read_text(encoding="utf-8") for p in folder.iterdir() if p.name.endswith(".sql")}


SCHEMA_VERSION = max(schema_scripts())


def safe_target(url: str) -> str:
    """The connection string without its password, to name the database in messages and logs."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL database (its connection string does not parse)"
    params.pop("password", None)
    host = params.get("host") or "the local socket"
    port = params.get("port") or "5432"
    who = f"{params['user']}@" if params.get("user") else ""
    return f"postgresql://{who}{host}:{port}/{params.get('dbname', '')}"


def without_secret(text: str, url: str) -> str:
    """`text` with the connection string's password (if any) blanked out, in case a driver quoted it."""
    try:
        password = conninfo.conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        return text.replace(url, "<connection string>")
    return text.replace(str(password), "***") if password else text


class PostgresDatabase:
    """A PostgreSQL database reached through a pool of `min_size` to `max_size` connections.

    Opening connects once (so a wrong URL or a down server fails here, with a StoreError);
    call `migrate()` to create or upgrade the schema (PostgresJobStore does).
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8, connect_timeout: float = CONNECT_TIMEOUT):
        self.url = url
        self.target = safe_target(url)
        self.connect_timeout = connect_timeout
        # Changes a transaction made beyond what its caller asked for (dependents released or
        # cancelled): noted inside it, kept here once it commits, until someone announces them.
        self.settle_backlog = True  # release_backlog may hold rows: the first engine transaction looks
        self.backlog_look_due = 0.0  # monotonic time of the next look for a backlog another instance left
        self._committed_notes: collections.deque[tuple[JobId, str, str]] = collections.deque(maxlen=MAX_UNANNOUNCED_NOTES)
        self._local = threading.local()
        try:  # one direct connection first: its error says why (the pool's would only say it timed out)
            psycopg.connect(url, connect_timeout=max(1, round(connect_timeout)), application_name="acacia").close()
        except psycopg.Error as exc:
            raise StoreError(f"cannot reach {self.target}: {without_secret(str(exc).strip(), url)}") from None
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, "application_name": "acacia"},
            timeout=connect_timeout,
            name="acacia",
            open=False,
        )
        try:
            self.pool.open(wait=True, timeout=connect_timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            self.pool.close()
            raise StoreError(f"cannot reach {self.target}: {without_secret(str(exc), url) or type(exc).__name__}") from None

    # -- connections -----------------------------------------------------------------
    def _error(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(f"{what} {self.target}: {without_secret(str(exc).strip(), self.url) or type(exc).__name__}")

    @contextmanager
    def read(self) -> Iterator[psycopg.Connection]:
        """A pooled connection for reads: autocommit, no transaction held between statements.

        An unreachable server (or a pool with no free connection after connect_timeout) is a
        StoreError; other errors (a broken row's value, say) reach the caller as psycopg raised them."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise self._error("cannot read from", exc) from None

    @contextmanager
    def write(self, pipeline: bool = False, single: bool = False) -> Iterator[psycopg.Connection]:
        """One write transaction on a pooled connection: committed when the block ends, rolled
        back if it raises. psycopg failures become StoreError (without the password).

        `pipeline`: BEGIN, the block's statements and COMMIT are sent in psycopg's pipeline mode,
        so a statement whose result the block does not read travels with the next one it reads,
        and the whole transaction costs one round trip when it reads nothing before COMMIT (its
        results read by after_commit()). A failing statement then raises at the next read or at
        the commit, not where it was written: only for blocks that do not catch a statement's
        error to go on (the engine's writes; see PostgresWorkerStore._write). Such a block must
        not open savepoints (conn.transaction()): psycopg does not know of this transaction.
        `single`: the block sends exactly one statement, run as its own transaction (autocommit:
        atomic, one round trip, no BEGIN or COMMIT to send); a second would be a transaction of its
        own (tests/unit/test_postgres_round_trips.py counts them for the callers)."""
        try:
            conn_context = self.pool.connection()
            conn = conn_context.__enter__()
        except (PoolTimeout, psycopg.Error) as exc:
            raise self._error("cannot write to", exc) from None
        self._local.notes = []
        self._local.after_commit = []
        try:
            try:
                with _transaction(conn, pipeline, single):
                    yield conn
                for read in self._local.after_commit:
                    read()
            except psycopg.Error as exc:
                raise self._error("cannot write to", exc) from exc
        except BaseException as exc:
            conn_context.__exit__(type(exc), exc, exc.__traceback__)
            raise
        finally:
            self._local.after_commit = []
        conn_context.__exit__(None, None, None)
        if self._local.notes:
            self._committed_notes.extend(self._local.notes)

    def after_commit(self, read: Callable[[], None]) -> None:
        """Inside a pipelined write(): call `read` once the transaction has committed, before its
        connection goes back to the pool (it reads results sent with the COMMIT: cursor.fetchall()).
        Not called if the transaction fails."""
        self._local.after_commit.append(read)

    # Shorthands for one statement outside any transaction.
    def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        with self.read() as conn:
            return conn.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with self.read() as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close every pooled connection (the object is not usable afterwards)."""
        self.pool.close()

    def integrity_check(self) -> str:
        """PostgreSQL checks its own pages; answering a query is what 'ok' can honestly mean here."""
        self.fetchone("SELECT 1")
        return "ok"

    # -- events and notes --------------------------------------------------------------
    @staticmethod
    def event(conn: psycopg.Connection, job_id: JobId, source: str, old: str | None, new: str,
              message: str = "", at: float | None = None) -> None:  # fmt: skip
        """Record one state change (inside the caller's transaction)."""
        conn.execute(
            "INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES (%s, %s, %s, %s, %s, %s)",
            (job_id, at or time.time(), source, old, new, message),
        )

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

    # -- schema ----------------------------------------------------------------------
    def schema_version(self) -> int:
        """The version recorded in the database (0: an empty database)."""
        exists = self.fetchone("SELECT to_regclass('schema_version') IS NOT NULL")[0]
        if not exists:
            return 0
        row = self.fetchone("SELECT max(version) FROM schema_version")
        return row[0] or 0

    def migrate(self) -> int:
        """Create or upgrade the schema to SCHEMA_VERSION and return it.

        Each pending script runs in its own transaction under a transaction-level advisory
        lock, re-reading the version under it, so two Acacias opening one database at once
        apply each script once. A database written by a newer Acacia is refused."""
        version = self.schema_version()
        self._refuse_newer(version)
        if version == SCHEMA_VERSION:
            return version
        scripts = schema_scripts()
        for number in sorted(scripts):
            if number <= version:
                continue
            with self.write() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
                conn.execute(VERSION_TABLE)
                current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
                self._refuse_newer(current)
                if number <= current:
                    version = current
                    continue
                conn.execute(scripts[number])  # no parameters: sent as one simple-query script
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)", (number, time.time()))
                log.info("%s: schema %d applied", self.target, number)
            version = number
        return version

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.target} was written by a newer Acacia (schema {version}, this one knows {SCHEMA_VERSION}); upgrade Acacia"
            )


@contextmanager
def _transaction(conn: psycopg.Connection, pipeline: bool, single: bool) -> Iterator[None]:
    """The transaction of PostgresDatabase.write() on an autocommit connection.

    Pipelined, BEGIN and COMMIT are sent as plain statements: psycopg's conn.transaction() in
    pipeline mode syncs after BEGIN, after the block and after COMMIT (measured: four round trips
    for a one-statement transaction, twice the time of one). A block that raises, or whose
    statement failed, leaves the transaction open or aborted: the pool's connection context
    rolls it back as the connection goes back (write() hands it the exception)."""
    if single:
        yield
    elif not pipeline:
        with conn.transaction():
            yield
    else:
        with conn.pipeline():
            conn.execute("BEGIN")
            yield
            conn.execute("COMMIT")
