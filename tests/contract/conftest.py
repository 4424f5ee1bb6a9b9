"""The store contract suite: every backend of JobStore and WorkerStore (core/interfaces.py) passes it.

Each test here takes the `store` fixture (or `open_store`, for a second handle on the
same database) and runs once per backend in BACKENDS; a test's id names it
(`test_x[sqlite]`). The tests go through the Protocols only, never through a backend's
SQL or connections: what a backend-specific test needs (WAL, pragmas, old files, disk
full) belongs with the backend (tests/unit/test_store.py for SQLite).

Adding a backend is one line in BACKENDS: its name → a context manager that, given
pytest's `tmp_path`, makes one fresh, empty database and yields a function opening a
store object on it (called again for a second handle: another connection, as another
process would have).

"postgres" finds or starts a server once per session (tests/support/postgres_server.py:
$ACACIA_TEST_POSTGRES, else 127.0.0.1:5432, else a private throwaway cluster) and gives each
test its own database copied from a migrated template, dropped after. With no server its
tests are skipped with the reason, and `ACACIA_REQUIRE_POSTGRES=1` (`make test`) makes such
a skip fail the run. Run one backend with `-k sqlite` or `-k postgres`.

The stores opened are closed after the test, then the context manager exits.

A backend also gives SABOTAGE a class doing to its database what another program could
(a row the store cannot read, a queue's settings deleted): the `sabotage` fixture, for
the promise that such a row fails alone (test_broken_rows.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from acacia_gui.store.sqlite import SqliteJobStore
from tests.support.postgres_server import server_or_skip

Opener = Callable[[], Any]  # a new store object (a JobStore and a WorkerStore) on the test's database


@contextmanager
def sqlite_database(tmp_path: Path) -> Iterator[Opener]:
    path = tmp_path / "contract.db"
    yield lambda: SqliteJobStore(path)


POSTGRES_URL_FILE = "postgres-database.url"  # in tmp_path: where PostgresSabotage finds the test's database
POSTGRES_POOL_SIZE = 8  # connections per store object (a test opens one or two)


@contextmanager
def postgres_database(tmp_path: Path) -> Iterator[Opener]:
    from acacia_gui.store.postgres.store import PostgresJobStore

    server = server_or_skip()
    with server.database() as url:
        (tmp_path / POSTGRES_URL_FILE).write_text(url, encoding="utf-8")
        yield lambda: PostgresJobStore(url, min_size=1, max_size=POSTGRES_POOL_SIZE)


BACKENDS: dict[str, Callable[[Path], AbstractContextManager[Opener]]] = {
    "sqlite": sqlite_database,
    "postgres": postgres_database,
}


class SqliteSabotage:
    """What another program can do to a SQLite database behind the store's back: the `sqlite3`
    shell or a script, through a plain connection of Python's sqlite3 module."""

    # What the store's message says about each sabotage (the tests check it).
    spoiled_payload_says = "payload is not valid UTF-8"
    broken_row_says = ("priority is not a whole number", "type is not")

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "contract.db"

    def _write(self, sql: str, params: tuple = (), *, past_the_checks: bool = False) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            if past_the_checks:
                conn.execute("PRAGMA ignore_check_constraints = ON")
            conn.execute(sql, params)
        finally:
            conn.close()

    def spoil_payload(self, job_id: int) -> None:
        """A payload the schema lets through but that cannot be read: a JSON string whose bytes are not UTF-8."""
        self._write("UPDATE jobs SET payload = '\"' || CAST(x'ff' AS TEXT) || '\"' WHERE id = ?", (job_id,))

    def break_row(self, job_id: int) -> None:
        """A row no schema rule would let through (the rules switched off): a payload that is
        not JSON, a priority and a progress that are not numbers, a type and a queue name
        that are not even UTF-8."""
        self._write(
            "UPDATE jobs SET payload = '{not json', priority = 'high', progress = 'half',"
            " type = CAST(x'ff74' AS TEXT), queue = CAST(x'ff71' AS TEXT) WHERE id = ?",
            (job_id,), past_the_checks=True,
        )  # fmt: skip

    def forget_queue(self, name: str) -> None:
        """The queue's settings row deleted; its jobs stay."""
        self._write("DELETE FROM queues WHERE name = ?", (name,))


class PostgresSabotage:
    """What another program can do to a PostgreSQL database behind the store's back: psql or a
    script, through its own connection.

    PostgreSQL enforces column types, and its CHECKs cannot be switched off per connection as
    SQLite's can. So a broken row is written the way a program with the owner's rights could:
    it drops the CHECKs in its way (they stay dropped for the rest of the test, as after a
    foreign schema change) and writes the row. Not re-added NOT VALID: PostgreSQL checks every
    CHECK of a row on any UPDATE of it, where SQLite checks only those naming a changed column,
    so the store's own state changes of the broken row would fail where SQLite's succeed.
    A value of the wrong type (a priority 'high') has no PostgreSQL equivalent; a payload that
    is not UTF-8 neither (a UTF8 database refuses such text), so the payload that cannot be read
    is JSON nested deeper than Python reads, which the schema accepts."""

    spoiled_payload_says = "payload is not valid JSON text"
    broken_row_says = ("progress is not empty or a number from 0 to 1", "type is not")
    NESTING = 10_000  # PostgreSQL's JSON parser takes it; Python's json.loads stops at ~1,000 levels

    def __init__(self, tmp_path: Path) -> None:
        self.url = (tmp_path / POSTGRES_URL_FILE).read_text(encoding="utf-8")

    def _write(self, sql: str, params: tuple = (), *, past_checks: tuple[str, ...] = ()) -> None:
        with psycopg.connect(self.url) as conn:  # one transaction, committed when the block ends
            for name in past_checks:
                conn.execute(f'ALTER TABLE jobs DROP CONSTRAINT IF EXISTS "{name}"')
            conn.execute(sql, params)

    def spoil_payload(self, job_id: int) -> None:
        """A payload the schema lets through but that cannot be read: JSON nested too deep for Python."""
        self._write("UPDATE jobs SET payload = repeat('[', %s) || repeat(']', %s) WHERE id = %s",
                    (self.NESTING, self.NESTING, job_id))  # fmt: skip

    def break_row(self, job_id: int) -> None:
        """A row no schema rule would let through (the CHECKs dropped for it): a payload that is
        not JSON, a progress out of range, a type and a queue name outside their alphabets."""
        self._write(
            "UPDATE jobs SET payload = '{not json', progress = 7, type = 'no such type!', queue = 'no queue!' WHERE id = %s",
            (job_id,),
            past_checks=("jobs_payload_check", "jobs_progress_check", "jobs_type_check", "jobs_queue_check"),
        )

    def forget_queue(self, name: str) -> None:
        """The queue's settings row deleted; its jobs stay."""
        self._write("DELETE FROM queues WHERE name = %s", (name,))


# Per backend: what another program could do to its database (see SqliteSabotage).
SABOTAGE: dict[str, Callable[[Path], Any]] = {
    "sqlite": SqliteSabotage,
    "postgres": PostgresSabotage,
}


@pytest.fixture(params=sorted(BACKENDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens store objects on one fresh database of the backend under test; closes them after."""
    opened: list[Any] = []
    with BACKENDS[request.param](tmp_path) as open_one:

        def opener() -> Any:
            store = open_one()
            opened.append(store)
            return store

        yield opener
        for store in opened:
            store.close()


@pytest.fixture
def store(open_store: Opener) -> Any:
    """A store on a fresh, empty database, parameterised over BACKENDS."""
    return open_store()


@pytest.fixture
def sabotage(open_store: Opener, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Another program's hands on the database under test (SABOTAGE of its backend)."""
    return SABOTAGE[request.node.callspec.params["open_store"]](tmp_path)
