"""The store contract suite: every backend of JobStore and WorkerStore (core/interfaces.py) passes it.

Each test here takes the `store` fixture (or `open_store`, for a second handle on the
same database) and runs once per backend in BACKENDS; a test's id names it
(`test_x[sqlite]`). The tests go through the Protocols only, never through a backend's
SQL or connections: what a backend-specific test needs (WAL, pragmas, old files, disk
full) belongs with the backend (tests/unit/test_store.py for SQLite).

Adding a backend is one line in BACKENDS: its name → a context manager that, given
pytest's `tmp_path`, makes one fresh, empty database and yields a function opening a
store object on it (called again for a second handle: another connection, as another
process would have). For example, once store/postgres exists:

    "postgres": postgres_database,  # CREATE DATABASE acacia_test_<random> from $ACACIA_TEST_POSTGRES; DROP it after

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

import pytest

from acacia_gui.store.sqlite import SqliteJobStore

Opener = Callable[[], Any]  # a new store object (a JobStore and a WorkerStore) on the test's database


@contextmanager
def sqlite_database(tmp_path: Path) -> Iterator[Opener]:
    path = tmp_path / "contract.db"
    yield lambda: SqliteJobStore(path)


BACKENDS: dict[str, Callable[[Path], AbstractContextManager[Opener]]] = {
    "sqlite": sqlite_database,
}


class SqliteSabotage:
    """What another program can do to a SQLite database behind the store's back: the `sqlite3`
    shell or a script, through a plain connection of Python's sqlite3 module."""

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


# Per backend: what another program could do to its database (see SqliteSabotage).
SABOTAGE: dict[str, Callable[[Path], Any]] = {
    "sqlite": SqliteSabotage,
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
