"""The op table (ipc/ops.py) agrees with the Dispatcher's handlers and the Client's methods.

Handlers and client methods are read as source (ast), not run, so every branch counts;
anything the reader cannot follow is reported rather than passed. Each check also runs
on a deliberately broken table or class, to show that it can fail.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import replace
from typing import Any

import pytest

from acacia_gui.config import load_config
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.ipc import client as client_module
from acacia_gui.ipc.client import Client, LocalClient
from acacia_gui.ipc.dispatch import Dispatcher, StandaloneServices
from acacia_gui.ipc.ops import OP_TABLE, OPS_BY_NAME, Op
from acacia_gui.ipc.params import Params
from acacia_gui.ipc.protocol import OPS, InvalidParamsError, NotRunningError
from acacia_gui.store.sqlite import SqliteJobStore

FIELD_READERS = ("raw", "integer", "number", "string", "boolean", "strings", "job_id", "job_ids")
NOT_READERS = ("done", "error", "refuse_unknown")


def _tree(func: Any) -> ast.FunctionDef:
    node = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return node


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _field_name(method: str, call: ast.Call) -> str | None:
    """The field a `p.<reader>(...)` call reads: its literal name, or the reader's default name."""
    if call.args:
        return _literal(call.args[0])
    for keyword in call.keywords:
        if keyword.arg == "name":
            return _literal(keyword.value)
    default = inspect.signature(getattr(Params, method)).parameters["name"].default
    return default if isinstance(default, str) else None


def fields_read(cls: type, method: str, arg: str | None = None, seen: set[Any] | None = None) -> tuple[set[str], list[str]]:
    """The fields `cls.method` reads from its Params argument, following `self._helper(p)` calls."""
    tree = _tree(getattr(cls, method))
    arg = arg or tree.args.args[1].arg
    seen = seen if seen is not None else set()
    seen.add((method, arg))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    read: set[str] = set()
    problems: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id == arg):
            continue
        parent = parents[node]
        where = f"{cls.__name__}.{method} (line {node.lineno})"
        if isinstance(parent, ast.Attribute) and isinstance(parents[parent], ast.Call) and parents[parent].func is parent:
            if parent.attr in NOT_READERS:
                continue
            name = _field_name(parent.attr, parents[parent]) if parent.attr in FIELD_READERS else None
            if name is None:
                problems.append(f"{where}: cannot tell which field {arg}.{parent.attr}(...) reads")
            read.add(name or "?")
        elif isinstance(parent, ast.Compare) and _literal(parent.left) and isinstance(parent.ops[0], ast.In | ast.NotIn):
            read.add(_literal(parent.left) or "?")
        elif (isinstance(parent, ast.Call) and node in parent.args and isinstance(parent.func, ast.Attribute)
              and isinstance(parent.func.value, ast.Name) and parent.func.value.id == "self"):  # fmt: skip
            helper = parent.func.attr
            helper_arg = _tree(getattr(cls, helper)).args.args[parent.args.index(node) + 1].arg
            if (helper, helper_arg) not in seen:
                more, trouble = fields_read(cls, helper, helper_arg, seen)
                read |= more
                problems += trouble
        else:
            problems.append(f"{where}: {arg} goes where this check cannot follow it")
    return read, problems


def ops_sent(func: Any) -> set[str]:
    """Op names sent by literal: `x.call("op", ...)`, `x._request("op", ...)`, `request_message(id, "op", ...)`."""
    sent = set()
    for node in ast.walk(_tree(func)):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("call", "_request") and node.args:
                sent.add(_literal(node.args[0]))
            elif isinstance(node.func, ast.Name) and node.func.id == "request_message" and len(node.args) > 1:
                sent.add(_literal(node.args[1]))
    return sent - {None}  # type: ignore[arg-type]


def fields_sent(func: Any) -> set[str]:
    """Keys of dict literals and of `params["key"] = ...` in a client method: the fields it can send."""
    keys = set()
    for node in ast.walk(_tree(func)):
        if isinstance(node, ast.Dict):
            keys |= {_literal(key) for key in node.keys}
        elif isinstance(node, ast.Assign):
            keys |= {_literal(t.slice) for t in node.targets if isinstance(t, ast.Subscript)}
    return keys - {None}  # type: ignore[arg-type]


def _client_functions(*classes: type) -> list[tuple[str, Any]]:
    found = [(f"{c.__name__}.{n}", f) for cls in classes for c in cls.__mro__ if c is not object
             for n, f in vars(c).items() if inspect.isfunction(f)]  # fmt: skip
    found += [(n, f) for n, f in vars(client_module).items() if inspect.isfunction(f) and f.__module__ == client_module.__name__]
    return found


def table_problems(table: tuple[Op, ...], dispatcher: type = Dispatcher, client: type = Client,
                   local: type = LocalClient) -> list[str]:  # fmt: skip
    """Everything on which the table, the Dispatcher and the clients disagree; [] when complete."""
    problems = []
    names = [op.name for op in table]
    problems += [f"{name}: listed twice" for name in sorted({n for n in names if names.count(n) > 1})]
    for op in table:
        if not op.handler.startswith("_op_") or not callable(getattr(dispatcher, op.handler, None)):
            problems.append(f"{op.name}: no handler Dispatcher.{op.handler} (handlers are _op_* methods)")
            continue
        read, trouble = fields_read(dispatcher, op.handler)
        problems += trouble
        problems += [f"{op.name}: {op.handler} reads {f!r}, not in the table (it would be refused)"
                     for f in sorted(read - set(op.params) - {"?"})]  # fmt: skip
        problems += [f"{op.name}: the table lists {f!r}, {op.handler} never reads it" for f in sorted(set(op.params) - read)]
    handlers = {op.handler for op in table}
    problems += [f"Dispatcher.{name} is in no table entry" for name in sorted(dir(dispatcher))
                 if name.startswith("_op_") and name not in handlers]  # fmt: skip
    for op in table:
        if not op.client:
            problems.append(f"{op.name}: no client method")
        for method in op.client:
            missing = [cls.__name__ for cls in (client, local) if not callable(getattr(cls, method, None))]
            if missing:
                problems.append(f"{op.name}: {' and '.join(missing)} lack the method {method}()")
                continue
            func = getattr(client, method)
            if op.name not in ops_sent(func):
                problems.append(f"{op.name}: {client.__name__}.{method}() does not send it")
            problems += [f"{op.name}: {client.__name__}.{method}() sends {f!r}, not in the table"
                         for f in sorted(fields_sent(func) - set(op.params))]  # fmt: skip
    for where, func in _client_functions(client, local):
        problems += [f"{where} sends op {name!r}, which is not in the table" for name in sorted(ops_sent(func) - set(names))]
    return problems


# -- the real table ----------------------------------------------------------------------

def test_the_table_is_complete():
    assert table_problems(OP_TABLE) == []


def test_the_protocol_knows_exactly_the_table_ops():
    assert frozenset(op.name for op in OP_TABLE) == OPS == frozenset(OPS_BY_NAME)


# -- the checks can fail -------------------------------------------------------------------

def _without(name: str) -> tuple[Op, ...]:
    return tuple(op for op in OP_TABLE if op.name != name)


def _changed(name: str, **changes: Any) -> tuple[Op, ...]:
    return tuple(replace(op, **changes) if op.name == name else op for op in OP_TABLE)


def test_detects_an_op_without_a_handler():
    table = (*OP_TABLE, Op("frobnicate", (), "_op_frobnicate", ("stats",), "a typo'd op"))
    assert "frobnicate: no handler Dispatcher._op_frobnicate (handlers are _op_* methods)" in table_problems(table)


def test_detects_a_handler_missing_from_the_table():
    problems = table_problems(_without("stats"))
    assert "Dispatcher._op_stats is in no table entry" in problems
    assert "OpsMixin.stats sends op 'stats', which is not in the table" in problems


def test_detects_a_client_method_sending_an_op_not_in_the_table():
    class TypoClient(Client):
        def frobnicate(self) -> Any:
            return self.call("frobnicate", {})

    assert table_problems(OP_TABLE, client=TypoClient) == [
        "TypoClient.frobnicate sends op 'frobnicate', which is not in the table"
    ]


def test_detects_an_op_without_a_client_method():
    assert table_problems(_changed("stats", client=())) == ["stats: no client method"]
    assert table_problems(_changed("stats", client=("statistics",))) == [
        "stats: Client and LocalClient lack the method statistics()"
    ]
    assert table_problems(_changed("stats", client=("stats", "handlers"))) == ["stats: Client.handlers() does not send it"]


def test_detects_params_that_differ_from_what_the_handler_reads():
    get = OPS_BY_NAME["get"]
    assert table_problems(_changed("get", params=("id", "events"))) == [
        "get: _op_get reads 'logs', not in the table (it would be refused)",
        "get: Client.get() sends 'logs', not in the table",
    ]
    assert table_problems(_changed("get", params=(*get.params, "verbose"))) == [
        "get: the table lists 'verbose', _op_get never reads it"
    ]
    watch_params = OPS_BY_NAME["watch"].params  # read by a helper, _watch_from
    assert "watch: _op_watch reads 'kinds', not in the table (it would be refused)" in table_problems(
        _changed("watch", params=tuple(f for f in watch_params if f != "kinds"))
    )


def test_detects_a_client_sending_a_field_the_table_does_not_list():
    class ChattyClient(Client):
        def stats(self) -> Any:
            return self.call("stats", {"verbose": True})

    assert table_problems(OP_TABLE, client=ChattyClient) == ["stats: ChattyClient.stats() sends 'verbose', not in the table"]


def _opaque(p: Params) -> Any:
    return p.raw("id")


class _UnreadableDispatcher(Dispatcher):
    def _op_get(self, p: Params) -> Any:
        return _opaque(p)

    def _op_extra(self, p: Params) -> Any:
        p.done()


def test_reports_reads_it_cannot_follow_instead_of_passing_them():
    problems = table_problems(OP_TABLE, dispatcher=_UnreadableDispatcher)
    assert any(p.startswith("_UnreadableDispatcher._op_get") and "cannot follow" in p for p in problems), problems
    assert "Dispatcher._op_extra is in no table entry" in problems


# -- the Dispatcher and LocalClient act on the table ----------------------------------------

@pytest.fixture
def dispatcher(tmp_path):
    config = load_config(tmp_path / "data", tmp_path / "plugins")
    store = SqliteJobStore(config.database)
    yield Dispatcher(JobQueue(store, Registry()), StandaloneServices(config))
    store.close()


@pytest.mark.parametrize("op", OP_TABLE, ids=lambda op: op.name)
def test_every_op_refuses_fields_its_entry_does_not_list(dispatcher, op):
    with pytest.raises(InvalidParamsError) as caught:
        dispatcher.call(op.name, {"bogus": 1})
    takes = ", ".join(sorted(op.params)) or "none"
    assert str(caught.value) == f"{op.name}: unknown field(s) bogus; this op takes: {takes}"


def test_local_client_refuses_ops_that_need_the_app(dispatcher):
    assert [op.name for op in OP_TABLE if op.needs_app] == ["kill", "extend", "watch"]
    for name, params in (("watch", {}), ("kill", {"id": 1}), ("extend", {"id": 1})):
        with pytest.raises(NotRunningError, match="acacia serve"):
            LocalClient(dispatcher).call(name, params)
