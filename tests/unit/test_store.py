"""SqliteJobStore's own matters: WAL and pragmas, constraints, durability levels, old and newer files,
disk full, a locked file, and how it is composed. What every backend promises is in tests/contract."""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.errors import InvalidOptionError, StoreError
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.store import sqlite_jobs, sqlite_worker
from acacia_gui.store.sqlite import SCHEMA_VERSION, SqliteJobStore
from acacia_gui.store.sqlite_jobs import SqliteJobs
from acacia_gui.store.sqlite_worker import SqliteWorkerStore

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def store(tmp_path):
    s = SqliteJobStore(tmp_path / "acacia.db")
    yield s
    s.close()


def add(store, n=1, **options):
    return JobQueue(store, Registry()).enqueue_many(Context.background(), [Job("t", {"i": i}, **options) for i in range(n)])


def test_new_database_is_wal_with_schema_version(store):
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_full_durability_sets_synchronous_full(tmp_path):
    s = SqliteJobStore(tmp_path / "f.db", synchronous="full")
    assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    with pytest.raises(InvalidOptionError):
        SqliteJobStore(tmp_path / "g.db", synchronous="sometimes")


def test_check_constraints_refuse_invalid_states(store):
    add(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET state = 'exploded'")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET state = 'running'")  # running needs an owner
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET max_attempts = 0")


def test_the_checked_in_v1_database_still_opens(tmp_path):
    copy = tmp_path / "old.db"
    shutil.copy(DATA / "acacia-v1.db", copy)
    old = SqliteJobStore(copy)
    jobs = old.list_jobs()
    assert [j.state for j in jobs] == ["succeeded", "failed", "queued"]
    assert jobs[0].result == {"ok": True} and jobs[1].error == "boom"
    assert old.integrity_check() == "ok"


def test_a_newer_schema_is_refused_clearly(tmp_path):
    path = tmp_path / "new.db"
    SqliteJobStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer Acacia"):
        SqliteJobStore(path)


def test_disk_full_raises_store_error_and_keeps_the_file_sound(store):
    add(store, 5)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match="full"):
        add(store, 2000)
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.count_jobs() == 5
    assert store.integrity_check() == "ok"


def test_a_locked_file_raises_store_error_and_changes_nothing(tmp_path):
    store = SqliteJobStore(tmp_path / "locked.db", busy_timeout=0.05)
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked"):
            add(store)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.count_jobs() == 0 and add(store) == [1]
    store.close()


def public_methods(cls: type) -> dict[str, object]:
    return {name: value for name, value in vars(cls).items() if callable(value) and not name.startswith("_")}


@pytest.mark.parametrize("part", [SqliteJobs, SqliteWorkerStore], ids=lambda c: c.__name__)
def test_the_store_offers_each_part_s_methods_unchanged(part):
    """SqliteJobStore forwards to its parts: same names, same signatures, so callers keep one object."""
    for name, method in public_methods(part).items():
        assert name in public_methods(SqliteJobStore), f"SqliteJobStore lacks {part.__name__}.{name}"
        assert inspect.signature(getattr(SqliteJobStore, name)) == inspect.signature(method), name


def test_the_parts_share_only_the_database_s_public_methods():
    """No mixin reaching into another object's privates: each part holds the SqliteDatabase and
    uses its public methods; neither imports the other or the store that composes them."""
    for module in (sqlite_jobs, sqlite_worker):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert not re.findall(r"\bdb\._\w+", source), module.__name__
        siblings = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom) and node.level == 1}
        assert siblings == {"rows", "sqlite_db"}, (module.__name__, siblings)
