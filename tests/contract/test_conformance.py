"""The Protocols themselves: each backend has every method with a compatible signature, and the
Protocols name exactly what the app calls (JobStore: reads and user actions; WorkerStore: the engine)."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from acacia_gui.core.interfaces import JobStore, WorkerStore

PACKAGE = Path(__file__).resolve().parents[2] / "acacia_gui"
PROTOCOLS = (JobStore, WorkerStore)
P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)

# Read on the store object but in no Protocol: the scheduler falls back to the SQLite file's
# folder for its instance lock files when the composition root gives it no instances_dir.
SQLITE_ONLY = {"path"}


def members(protocol: type) -> dict[str, Any]:
    """The methods a Protocol declares (its own, public)."""
    return {name: value for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")}


def signature_problems(protocol: type, backend: object) -> list[str]:
    """What keeps `backend` from standing in for `protocol`: missing methods, incompatible signatures."""
    problems = []
    for name, declared in members(protocol).items():
        method = getattr(backend, name, None)
        if not callable(method):
            problems.append(f"{name}: missing")
            continue
        wanted = list(inspect.signature(declared).parameters.values())[1:]  # without self
        problems += [f"{name}: {p}" for p in _incompatible(wanted, list(inspect.signature(method).parameters.values()))]
    return problems


def _incompatible(wanted: list[inspect.Parameter], got: list[inspect.Parameter]) -> list[str]:
    """A call written against `wanted` must work, and mean the same, against `got`."""
    problems = []
    by_name = {p.name: p for p in got}
    wanted_positional = [p.name for p in wanted if p.kind in POSITIONAL]
    got_positional = [p.name for p in got if p.kind in POSITIONAL]
    for p in wanted:
        q = by_name.get(p.name)
        if q is None:
            problems.append(f"no parameter {p.name!r}")
            continue
        if p.kind in POSITIONAL:
            index = wanted_positional.index(p.name)
            if q.kind is not P.POSITIONAL_OR_KEYWORD or got_positional.index(q.name) != index:
                problems.append(f"{p.name!r} must be positional-or-keyword, at position {index}")
        elif p.kind is P.KEYWORD_ONLY and q.kind not in (P.KEYWORD_ONLY, P.POSITIONAL_OR_KEYWORD):
            problems.append(f"{p.name!r} must be accepted as a keyword")
        if p.default is not P.empty and q.default is P.empty:
            problems.append(f"{p.name!r} needs a default ({p.default!r})")
        elif p.default is not P.empty and q.default != p.default:
            problems.append(f"{p.name!r} defaults to {q.default!r}, the contract says {p.default!r}")
    wanted_names = {p.name for p in wanted}
    for q in got:
        if q.name not in wanted_names and q.default is P.empty and q.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD):
            problems.append(f"extra parameter {q.name!r} without a default")
    return problems


# -- the backends -----------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_the_backend_has_every_method_with_a_compatible_signature(store, protocol):
    assert isinstance(store, protocol)
    assert signature_problems(protocol, store) == []


# -- the check itself --------------------------------------------------------------------

class _WrongBackend:
    def get_job(self, id):  # renamed parameter
        ...

    def list_jobs(self, state=None):  # lost every other filter
        ...

    def cancel_job(self, source, job_id):  # swapped
        ...

    def clear_finished(self, source, queue=None, *, reason):  # an extra required parameter
        ...

    def get_logs(self, job_id, *, after=0, limit=5, last=None):  # another default
        ...

    def promote_due(self, now):  # no default
        ...


def test_the_signature_check_finds_what_a_backend_got_wrong():
    problems = "\n".join(signature_problems(JobStore, _WrongBackend()) + signature_problems(WorkerStore, _WrongBackend()))
    for expected in ("get_job: no parameter 'job_id'", "list_jobs: no parameter 'queue'",
                     "cancel_job: 'job_id' must be positional-or-keyword, at position 0",
                     "clear_finished: extra parameter 'reason' without a default",
                     "get_logs: 'limit' defaults to 5", "promote_due: 'now' needs a default", "insert_jobs: missing",
                     "complete_and_claim: missing"):  # fmt: skip
        assert expected in problems
    assert not isinstance(_WrongBackend(), WorkerStore)


def test_every_protocol_method_states_its_contract():
    for protocol in PROTOCOLS:
        assert protocol.__doc__ and len(members(protocol)) > 5
        for name, method in members(protocol).items():
            assert method.__doc__, f"{protocol.__name__}.{name} needs a docstring stating its contract"
            assert inspect.signature(method).return_annotation is not P.empty, f"{protocol.__name__}.{name}: return type"


# -- the Protocols name what the app calls ----------------------------------------------

_STORE = re.compile(r"(^|_)store$")


def store_uses(modules: Iterable[Path]) -> dict[str, set[str]]:
    """`store.x`, `self._store.x`, `queue.store.x`, … in these modules: x → the modules using it."""
    uses: dict[str, set[str]] = {}
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if _STORE.search(name):
                uses.setdefault(node.attr, set()).add(str(path.relative_to(PACKAGE.parent)))
    return uses


def app_modules(engine: bool) -> list[Path]:
    """The package's modules but the store's own: the engine's, or all the others."""
    paths = [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "store"]
    return [p for p in paths if (p.relative_to(PACKAGE).parts[0] == "engine") == engine]


def test_the_engine_calls_exactly_the_worker_store():
    used = store_uses(app_modules(engine=True))
    assert set(used) - SQLITE_ONLY == set(members(WorkerStore)), used


def test_everything_else_calls_only_the_job_store():
    used = store_uses(app_modules(engine=False))
    assert used, "found no store calls: has the scan stopped matching?"
    assert {name: where for name, where in used.items() if name not in members(JobStore)} == {}
