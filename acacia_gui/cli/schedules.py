"""`acacia schedule add|list|show|edit|remove|pause|resume|run-now`: recurring jobs.

Why a module of its own: eight actions under one command, sharing how options become
schedule fields. Like the job commands, each goes to the running app's socket, or to the
database directly when no app runs (saying so on stderr): a schedule added that way
starts firing, with its catch-up, when the app next starts. Bad input exits 2 with one
line; the parser checks --every, --cron and --timezone before anything is contacted, the
app (or the same Dispatcher in-process) checks the rest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Callable
from typing import Any

from ..config import Config
from ..core.errors import AcaciaError
from ..ipc.client import OpsMixin
from ..ipc.protocol import InvalidJsonError, decode_json
from . import render
from .backend import connect
from .output import echo
from .parser import UsageError

_FIELDS = ("every", "cron", "catch_up", "max_backlog", "queue", "priority")  # the options that map 1:1 to fields


def _payload(args: argparse.Namespace) -> Any:
    try:
        return decode_json(args.payload.encode("utf-8", "surrogateescape"))
    except InvalidJsonError as exc:
        raise UsageError(f"acacia schedule {args.schedule_command}: --payload is not valid JSON: {exc}") from None


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    echo(json.dumps(data, ensure_ascii=False, allow_nan=False) if args.json else text)


def _summary(schedule: dict[str, Any]) -> str:
    """One line after a change: the schedule, its rule and when it runs next."""
    return f"schedule {schedule['name']}: {render.schedule_rule(schedule)}; next run {render.next_run(schedule, time.time())}"


CHANGED = "changed the database directly; the app applies it when it starts"


def _act(config: Config, action: Callable[[OpsMixin], Any], *, create: bool = False, plugins: bool = False,
         notice: str = CHANGED) -> Any:  # fmt: skip
    """Run one action on the app, or on the database when none runs."""
    backend = connect(config, fallback=True, plugins=plugins, create=create)
    try:
        result = action(backend.ops)
        backend.notice(notice)
        return result
    finally:
        backend.close()


def _add(args: argparse.Namespace, config: Config) -> int:
    payload = _payload(args) if args.payload is not None else {}
    options = {name: getattr(args, name) for name in _FIELDS if getattr(args, name) is not None}
    timezone = None if args.timezone in (None, "local") else args.timezone
    schedule = _act(config, lambda ops: ops.schedule_add(args.name, args.type, payload, timezone=timezone,
                                                               paused=args.paused, allow_unknown=args.allow_unknown,
                                                               **options),
                    create=True, plugins=True,
                    notice="added the schedule to the database directly; it starts when the app next starts")  # fmt: skip
    _emit(args, schedule, _summary(schedule))
    return 0


def _edit(args: argparse.Namespace, config: Config) -> int:
    changes = {name: getattr(args, name) for name in (*_FIELDS, "type") if getattr(args, name) is not None}
    if args.payload is not None:
        changes["payload"] = _payload(args)
    if args.timezone is not None:
        changes["timezone"] = None if args.timezone == "local" else args.timezone
    if not changes:
        raise UsageError("acacia schedule edit: give at least one of --type, --payload, --every, --cron, --catch-up, "
                         "--max-backlog, --queue, --priority or --timezone")  # fmt: skip
    schedule = _act(config, lambda ops: ops.schedule_edit(args.name, allow_unknown=args.allow_unknown, **changes),
                    plugins=True)  # fmt: skip
    _emit(args, schedule, _summary(schedule))
    return 0


def _list(args: argparse.Namespace, config: Config) -> int:
    if args.names:
        return _names(config)
    schedules = _act(config, lambda ops: ops.schedule_list(), notice="read the database directly")
    if args.json:
        echo(json.dumps({"schedules": schedules}, ensure_ascii=False, allow_nan=False))
    elif not schedules:
        echo("no schedules")
    else:
        echo(render.schedules_table(schedules, time.time(), max_width=shutil.get_terminal_size((120, 24)).columns))
    return 0


def _names(config: Config) -> int:
    """The running app's schedule names, one a line: shell completion calls this on every Tab,
    so it is quick and prints nothing at all when no app answers (as `handlers --names`)."""
    from ..ipc.client import Client

    try:
        with Client(config.socket_address, data_dir=config.data_dir, timeout=2.0, connect_timeout=0.5) as client:
            names = sorted(schedule["name"] for schedule in client.schedule_list())
    except (AcaciaError, OSError, KeyError, TypeError):
        return 0
    if names:
        echo("\n".join(names))
    return 0


def _show(args: argparse.Namespace, config: Config) -> int:
    schedule = _act(config, lambda ops: ops.schedule_get(args.name), notice="read the database directly")
    _emit(args, schedule, render.schedule_details(schedule, time.time()))
    return 0


def _remove(args: argparse.Namespace, config: Config) -> int:
    _act(config, lambda ops: ops.schedule_remove(args.name))
    _emit(args, {"removed": args.name}, f"schedule {args.name}: removed (the jobs it enqueued stay)")
    return 0


def _pause(args: argparse.Namespace, config: Config) -> int:
    schedule = _act(config, lambda ops: ops.schedule_pause(args.name))
    _emit(args, schedule, f"schedule {schedule['name']}: paused")
    return 0


def _resume(args: argparse.Namespace, config: Config) -> int:
    schedule = _act(config, lambda ops: ops.schedule_resume(args.name))
    _emit(args, schedule, _summary(schedule))
    return 0


def _run_now(args: argparse.Namespace, config: Config) -> int:
    job_id = _act(config, lambda ops: ops.schedule_run_now(args.name), create=False, plugins=True,
                  notice="queued the job in the database directly; it runs when the app next starts")  # fmt: skip
    _emit(args, {"job_id": job_id}, str(job_id))
    return 0


ACTIONS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "add": _add, "list": _list, "show": _show, "edit": _edit, "remove": _remove, "pause": _pause, "resume": _resume,
    "run-now": _run_now,
}  # fmt: skip


def cmd_schedule(args: argparse.Namespace, config: Config) -> int:
    """`acacia schedule ACTION`: the parser makes ACTION required and one of ACTIONS."""
    return ACTIONS[args.schedule_command](args, config)
