"""core/definitions is the one place for states, event kinds, sources, sort fields and limits.

These tests check that every layer agrees with it (the SQLite schema, the socket, the
store, the CLI, the window's columns) and fail when a module defines one of its names or
spells out one of its groups again. The GUI modules are read as source, not imported:
unit tests never import Qt.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

import acacia_gui
from acacia_gui.cli.parser import UsageError, build_parser
from acacia_gui.config import load_config
from acacia_gui.core import definitions
from acacia_gui.core.definitions import (
    SORT_FIELDS,
    WATCHABLE_EVENT_KINDS,
    EventKind,
    JobState,
    SortField,
    Source,
)
from acacia_gui.core.errors import InvalidOptionError
from acacia_gui.core.events import JobEvent
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.ipc.dispatch import Dispatcher, StandaloneServices
from acacia_gui.ipc.protocol import InvalidParamsError
from acacia_gui.store.sqlite import SqliteJobStore

PACKAGE = Path(acacia_gui.__file__).parent
DEFINITIONS = PACKAGE / "core" / "definitions.py"
VOCABULARIES = {enum.__name__: frozenset(member.value for member in enum) for enum in (JobState, EventKind, Source, SortField)}
SHARED_NAMES = {name for name, value in vars(definitions).items()
                if name.isupper() or (isinstance(value, type) and value.__module__ == definitions.__name__)}  # fmt: skip


def modules() -> list[tuple[str, ast.Module]]:
    """Every module of the package but definitions itself, parsed."""
    return [(str(path.relative_to(PACKAGE.parent)), ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted(PACKAGE.rglob("*.py")) if path != DEFINITIONS]  # fmt: skip


def top_level(tree: ast.Module) -> list[ast.stmt]:
    """Module statements and class bodies: where constants and enums are defined."""
    found = list(tree.body)
    found += [stmt for node in tree.body if isinstance(node, ast.ClassDef) for stmt in node.body]
    return found


def assigned_names(stmt: ast.stmt) -> list[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
    return [t.id for t in targets if isinstance(t, ast.Name)]


def strings(node: ast.AST) -> list[str] | None:
    """The elements of a tuple/list/set literal if all are strings, else None."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set) and node.elts:
        values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        return values if len(values) == len(node.elts) else None
    return None


def migrations_sql() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((PACKAGE / "store" / "migrations").glob("*.sql")))


def check_values(sql: str, column: str) -> set[str]:
    """The values of the last `CHECK (column IN (...))` in the migrations (a later one replaces an earlier)."""
    found = re.findall(rf"CHECK\s*\(\s*{column}\s+IN\s*\(([^)]*)\)", sql, re.IGNORECASE)
    assert found, f"no CHECK constraint on {column} in the migrations"
    return set(re.findall(r"'([^']*)'", found[-1]))


@pytest.fixture
def dispatcher(tmp_path):
    config = load_config(tmp_path / "data", tmp_path / "plugins")
    store = SqliteJobStore(config.database)
    yield Dispatcher(JobQueue(store, Registry()), StandaloneServices(config), source=Source.SOCKET)
    store.close()


# -- every layer agrees with the definitions ----------------------------------------------

def test_the_schema_checks_exactly_the_states_and_sources(tmp_path):
    """As a migrated database has them (a Python step widens the state CHECK in place)."""
    store = SqliteJobStore(tmp_path / "acacia.db")
    try:
        sql = "\n".join(row[0] for row in store.conn.execute("SELECT sql FROM sqlite_master WHERE name IN ('jobs', 'events')"))
    finally:
        store.close()
    assert check_values(sql, "state") == VOCABULARIES["JobState"]
    assert check_values(sql, "source") == VOCABULARIES["Source"]


def test_state_groups_partition_the_states():
    assert definitions.ACTIVE_STATES | definitions.FINAL_STATES == set(JobState)
    assert not definitions.ACTIVE_STATES & definitions.FINAL_STATES
    assert definitions.WAITING_STATES < definitions.ACTIVE_STATES
    assert definitions.PROBLEM_STATES <= definitions.RETRYABLE_STATES <= definitions.FINAL_STATES
    assert all(state.is_final == (state in definitions.FINAL_STATES) for state in JobState)
    assert definitions.state_names(definitions.WAITING_STATES) == ("waiting", "queued", "scheduled")


def test_the_watch_op_accepts_exactly_the_watchable_event_kinds(dispatcher):
    watch = dispatcher.open_watch({})
    assert watch.kinds == WATCHABLE_EVENT_KINDS and all(isinstance(kind, EventKind) for kind in watch.kinds)
    for kind in EventKind:
        if kind in WATCHABLE_EVENT_KINDS:
            assert dispatcher.open_watch({"kinds": [kind.value]}).kinds == {kind}
        else:
            with pytest.raises(InvalidParamsError):
                dispatcher.open_watch({"kinds": [kind.value]})


def test_event_kinds_are_plain_strings_on_the_wire():
    wire = JobEvent(EventKind.STATE, 1, "default", JobState.FAILED).to_dict()
    assert wire["kind"] == "state" and type(wire["kind"]) is str and type(wire["state"]) is str


def list_reply(dispatcher: Dispatcher, order_by: str) -> dict:
    return dispatcher.handle_line(json.dumps({"id": 1, "op": "list", "params": {"order_by": order_by}}).encode())


def test_the_store_the_socket_and_the_cli_sort_by_the_same_fields(dispatcher):
    assert SORT_FIELDS == tuple(field.value for field in SortField)
    store, parser = dispatcher.queue.store, build_parser()
    for field in SORT_FIELDS:
        assert store.list_jobs(order_by=field) == []
        assert list_reply(dispatcher, field)["ok"] is True
        assert parser.parse_args(["list", "--sort", field]).sort == field
    with pytest.raises(InvalidOptionError):
        store.list_jobs(order_by="payload")
    assert list_reply(dispatcher, "payload")["ok"] is False
    with pytest.raises(UsageError):
        parser.parse_args(["list", "--sort", "payload"])


def _dict_of(path: str, name: str) -> ast.Dict:
    tree = ast.parse((PACKAGE.parent / path).read_text(encoding="utf-8"))
    for stmt in tree.body:
        if name in assigned_names(stmt) and isinstance(stmt.value, ast.Dict):
            return stmt.value
    raise AssertionError(f"{path} has no dict {name}")


def _sort_fields_named(nodes: list[ast.expr | None], where: str) -> set[str]:
    """Each node must be `SortField.X` with X a member: a column cannot name a field the store lacks."""
    names = set()
    for node in nodes:
        is_member = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "SortField"
        assert is_member, f"{where}: write sort fields as SortField members, got {ast.unparse(node) if node else None}"
        names.add(SortField[node.attr].value)
    return names


def test_the_window_sorts_its_columns_by_fields_the_store_accepts():
    columns = _sort_fields_named(_dict_of("acacia_gui/gui/models/columns.py", "COLUMN_SORT_FIELDS").values,
                                 "columns.COLUMN_SORT_FIELDS")  # fmt: skip
    row_keys = _sort_fields_named(_dict_of("acacia_gui/gui/models/job_row.py", "SORT_KEYS").keys, "job_row.SORT_KEYS")
    assert columns <= row_keys <= set(SORT_FIELDS), "every column's field needs a SORT_KEYS entry in job_row.py"


def test_old_names_are_the_definitions_themselves():
    from acacia_gui import jobs
    from acacia_gui.core import job
    from acacia_gui.ipc import dispatch, protocol, watch
    from acacia_gui.store import sqlite

    assert job.JobState is jobs.JobState is JobState
    assert watch.EVENT_KINDS is WATCHABLE_EVENT_KINDS
    assert sqlite.LOG_LINES_PER_JOB is definitions.LOG_LINES_PER_JOB
    for name in ("MAX_PRIORITY", "MAX_DELAY", "MAX_TIMEOUT", "MAX_ATTEMPTS", "MAX_PAYLOAD_BYTES"):
        assert getattr(job, name) is getattr(definitions, name), name
    for name in ("MAX_LIST_LIMIT", "MAX_LOG_LINES", "MAX_OFFSET", "MAX_QUEUE_CONCURRENCY", "MAX_WORKERS", "SORT_FIELDS"):
        assert getattr(protocol, name) is getattr(definitions, name), name
        assert getattr(dispatch, name, getattr(definitions, name)) is getattr(definitions, name), name


# -- nothing is defined twice ---------------------------------------------------------------

def test_definitions_is_standard_library_only():
    tree = ast.parse(DEFINITIONS.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_no_module_defines_a_shared_name_again():
    """`MAX_WORKERS = 1024` or `class JobState` outside definitions; importing the name is how to share it."""
    found = []
    for path, tree in modules():
        for stmt in top_level(tree):
            if isinstance(stmt, ast.ClassDef) and stmt.name in SHARED_NAMES:
                found.append(f"{path}:{stmt.lineno} class {stmt.name}")
            for name in assigned_names(stmt):
                if name in SHARED_NAMES and not isinstance(stmt.value, ast.Name | ast.Attribute):
                    found.append(f"{path}:{stmt.lineno} {name} = ...")
    assert not found, "defined again (import it from acacia_gui.core.definitions): " + "; ".join(found)


def test_no_module_spells_out_a_group_of_states_kinds_sources_or_sort_fields():
    """`ACTIVE_STATES = ("queued", "scheduled", "running")` and the like belong in definitions."""
    found = []
    for path, tree in modules():
        for stmt in top_level(tree):
            if not isinstance(stmt, ast.Assign | ast.AnnAssign) or stmt.value is None:
                continue
            for node in ast.walk(stmt.value):
                values = set(strings(node) or ())
                vocabulary = next((name for name, known in VOCABULARIES.items() if len(values) >= 2 and values <= known), None)
                if vocabulary:
                    found.append(f"{path}:{node.lineno} {sorted(values)} ({vocabulary})")
    assert not found, "a group spelled out again (use or add one in acacia_gui.core.definitions): " + "; ".join(found)


def test_every_event_kind_and_source_the_code_names_exists():
    """JobEvent("...") anywhere (even where plain strings are still used), {"kind": ...}, source="..."."""
    bad = []

    def check(node: ast.AST | None, vocabulary: type, where: str) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value not in VOCABULARIES[vocabulary.__name__]:
            bad.append(f"{where}:{node.lineno} {node.value!r} is not a {vocabulary.__name__}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == vocabulary.__name__:
            if node.attr not in vocabulary.__members__:
                bad.append(f"{where}:{node.lineno} {vocabulary.__name__}.{node.attr} does not exist")

    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name == "JobEvent":
                    check(node.args[0] if node.args else None, EventKind, path)
                for keyword in node.keywords:
                    if keyword.arg == "kind" and name == "JobEvent":
                        check(keyword.value, EventKind, path)
                    elif keyword.arg == "source":
                        check(keyword.value, Source, path)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "kind":
                        check(value, EventKind, path)
                    elif isinstance(key, ast.Constant) and key.value == "source":
                        check(value, Source, path)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                for vocabulary in (EventKind, Source, SortField, JobState):
                    check(node, vocabulary, path)
    assert not bad, "; ".join(bad)
