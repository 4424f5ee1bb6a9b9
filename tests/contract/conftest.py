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
"""

from __future__ import annotations

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
