"""PostgresJobStore's shape, checked without a server: it forwards each part's methods with the
same names and signatures, as SqliteJobStore does (tests/unit/test_store.py), and offers every
public method SqliteJobStore offers, so the engine and the window can take either."""

from __future__ import annotations

import importlib
import inspect

import pytest

from acacia_gui.store.sqlite import SqliteJobStore

PARTS = [("jobs", "PostgresJobs"), ("worker", "PostgresWorkerStore"), ("artifacts", "PostgresArtifacts"),
         ("stalls", "PostgresStalls"), ("checkpoints", "PostgresCheckpoints"), ("rates", "PostgresRates"),
         ("schedules", "PostgresSchedules")]  # fmt: skip
SQLITE_ONLY = {"conn"}  # a SQLite connection of this thread (tests and diagnostics)


def public_methods(cls: type) -> dict[str, object]:
    return {name: value for name, value in vars(cls).items() if callable(value) and not name.startswith("_")}


def store_class() -> type:
    return importlib.import_module("acacia_gui.store.postgres.store").PostgresJobStore


@pytest.mark.parametrize(("module", "name"), PARTS, ids=[name for _, name in PARTS])
def test_the_store_offers_each_part_s_methods_unchanged(module, name):
    part = getattr(importlib.import_module(f"acacia_gui.store.postgres.{module}"), name)
    store = store_class()
    for method_name, method in public_methods(part).items():
        assert method_name in public_methods(store), f"PostgresJobStore lacks {name}.{method_name}"
        assert inspect.signature(getattr(store, method_name)) == inspect.signature(method), method_name


def test_the_store_offers_what_the_sqlite_store_offers():
    store = store_class()
    missing = sorted(set(public_methods(SqliteJobStore)) - set(public_methods(store)) - SQLITE_ONLY)
    assert not missing, f"PostgresJobStore lacks {missing}"
    for name in public_methods(store):
        if name in public_methods(SqliteJobStore):
            assert inspect.signature(getattr(store, name)) == inspect.signature(getattr(SqliteJobStore, name)), name
