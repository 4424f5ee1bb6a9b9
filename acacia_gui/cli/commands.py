"""One function per `acacia` subcommand: (args, config) → exit status.

Data goes to stdout (a table, or JSON with --json); notices and errors go to stderr.
Input that can be checked before anything is contacted is checked first, so bad input
never leaves a half-done change. With several ids, cancel, retry and delete act on each
job that allows it and report each one that does not (one line on stderr, saying why):
exit 0 if all were done, 1 if any was not, 2 if none was and every id was bad input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config
from ..core.errors import AcaciaError
from ..core.job import JobState
from ..ipc.protocol import (
    InvalidJsonError,
    NotRunningError,
    decode_json,
    error_details,
)
from . import BAD_INPUT_CODES, render
from .backend import Backend, connect
from .batch import enqueue_batch
from .db import cmd_db
from .instances import cmd_instances
from .logs import cmd_logs
from .open_outputs import cmd_open
from .output import echo
from .parser import UsageError, shown
from .schedules import cmd_schedule
from .shell import cmd_autostart, cmd_completion, cmd_help
from .stalls import cmd_extend, cmd_kill


def emit_json(data: Any) -> None:
    echo(json.dumps(data, ensure_ascii=False, allow_nan=False))


def _width() -> int:
    return shutil.get_terminal_size((120, 24)).columns


def parse_payload(text: str | None) -> Any:
    if text is None:
        return {}
    try:
        return decode_json(text.encode("utf-8", "surrogateescape"))
    except InvalidJsonError as exc:
        raise UsageError(f"acacia enqueue: --payload is not valid JSON: {exc}") from None


def read_batch(source: str) -> tuple[list[dict[str, Any]], list[int]]:
    """JSON lines → (jobs, their line numbers); raises UsageError naming the bad line."""
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"acacia enqueue: cannot read batch file {source}: {exc.strerror or exc}") from None
    jobs: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = decode_json(line)
        except InvalidJsonError as exc:
            raise UsageError(f"acacia enqueue: batch line {number}: {exc}") from None
        if not isinstance(entry, dict):
            raise UsageError(f'acacia enqueue: batch line {number}: expected an object like {{"type": "…", "payload": …}}')
        jobs.append(entry)
        numbers.append(number)
    if not jobs:
        raise UsageError(f"acacia enqueue: the batch {'on stdin' if source == '-' else source} has no jobs")
    return jobs, numbers


def cmd_enqueue(args: argparse.Namespace, config: Config) -> int:
    if args.batch is not None:
        return _enqueue_batch(args, config)
    if args.type is None:
        raise UsageError("acacia enqueue: give a job TYPE (or --batch FILE)")
    if args.cancel_on_interrupt and not args.wait:
        raise UsageError("acacia enqueue: --cancel-on-interrupt only goes with --wait")
    payload = parse_payload(args.payload)
    try:
        backend = connect(config, fallback=not args.wait, plugins=True, create=True)
    except NotRunningError as exc:
        raise NotRunningError(f"{exc} (--wait needs a running app; without --wait the job is queued for later)") from None
    if args.wait:
        from .live import on_interrupt, wait_for_job  # before the job exists: Ctrl-C from then on is handled
    with _closing(backend):
        job_id = backend.ops.enqueue(args.type, payload, queue=args.queue, priority=args.priority, delay=args.delay,
                                     max_attempts=args.max_attempts, timeout=args.timeout,
                                     cancel_grace=args.cancel_grace, memory_limit=args.memory_limit,
                                     cpu_time_limit=args.cpu_time_limit, nice=args.nice,
                                     after=_flatten(args.after), after_policy=args.after_policy,
                                     unique_key=args.unique_key, on_conflict=args.on_conflict,
                                     allow_unknown=args.allow_unknown)  # fmt: skip
        if args.wait:
            try:
                if not args.json:
                    echo(job_id)
                return wait_for_job(backend.ops, job_id, as_json=args.json,
                                    cancel_on_interrupt=args.cancel_on_interrupt)  # fmt: skip
            except KeyboardInterrupt:
                return on_interrupt(backend.ops, job_id, args.cancel_on_interrupt)
        emit_json({"id": job_id}) if args.json else echo(job_id)
        backend.notice(f"queued job {job_id} in the database directly; it runs when the app next starts")
    return 0


def _enqueue_batch(args: argparse.Namespace, config: Config) -> int:
    given = [f"--{name.replace('_', '-')}" for name in ("payload", "queue", "priority", "delay", "max_attempts", "timeout",
                                                         "cancel_grace", "memory_limit", "cpu_time_limit", "nice", "after",
                                                         "after_policy", "unique_key", "on_conflict")
             if getattr(args, name) is not None]  # fmt: skip
    if args.type is not None or given or args.wait:
        extra = ", ".join(([args.type] if args.type is not None else []) + given + (["--wait"] if args.wait else []))
        raise UsageError(f"acacia enqueue: --batch takes every job from the file; drop {extra}")
    jobs, numbers = read_batch(args.batch)
    backend = connect(config, fallback=True, plugins=True, create=True)
    with _closing(backend):
        return enqueue_batch(backend, jobs, numbers, allow_unknown=args.allow_unknown, as_json=args.json)


class _closing:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __enter__(self) -> Backend:
        return self.backend

    def __exit__(self, *exc: object) -> None:
        self.backend.close()


def _flatten(values: list[list[str]] | None) -> list[str] | None:
    return [v for group in values for v in group] if values else None


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    with _closing(connect(config, fallback=True)) as backend:
        result = backend.ops.list(state=_flatten(args.state), queue=args.queue, type=args.type, search=args.search,
                                  order_by=args.sort, descending=args.desc or None, limit=args.limit,
                                  offset=args.offset, stalled=args.stalled or None)  # fmt: skip
        if args.json:
            emit_json(result)
        elif not result["jobs"]:
            echo("no jobs" if not result["total"] else f"no jobs on this page ({result['total']} match)")
        else:
            echo(render.jobs_table(result["jobs"], max_width=_width(), fancy=render.unicode_ok()))
            if len(result["jobs"]) < result["total"]:
                echo(f"({len(result['jobs'])} of {result['total']} matching jobs)")
        backend.notice("read the database directly")
    return 0


def cmd_show(args: argparse.Namespace, config: Config) -> int:
    with _closing(connect(config, fallback=True)) as backend:
        job = backend.ops.get(args.id, events=True, logs=args.logs)
        emit_json(job) if args.json else echo(render.job_details(job))
        backend.notice("read the database directly")
    return 0


def cmd_why(args: argparse.Namespace, config: Config) -> int:
    """One line: why the job is not running (the socket's `get` says it as "why")."""
    with _closing(connect(config, fallback=True, plugins=True)) as backend:
        job = backend.ops.get(args.id)
        emit_json({"id": job["id"], "state": job["state"], "why": job["why"]}) if args.json else echo(
            f"job {job['id']} ({job['state']}): {job['why']}")  # fmt: skip
    return 0


def cmd_info(args: argparse.Namespace, config: Config) -> int:
    from ..ipc.address import UntrustedSocketError
    from ..ipc.client import probe

    info: dict[str, Any] = dict(config.describe())
    refused = None
    try:
        hello = probe(config.socket_address, timeout=1.0)
    except UntrustedSocketError as exc:  # still say where things live, then why the socket is refused
        hello, refused = None, str(exc)
    info["running"] = hello is not None
    info["pid"] = hello.get("pid") if hello else None
    info["untrusted_socket"] = refused
    if args.json:
        emit_json(info)
    else:
        for key in ("data_dir", "database", "plugins_dir", "socket", "durability"):
            echo(f"{key + ':':<13}{info[key]}")
        echo(f"{'running:':<13}{'yes (pid ' + str(info['pid']) + ')' if info['running'] else 'no'}")
    if refused is not None:
        echo(f"acacia: {refused}", err=True)
        return 1
    return 0


def cmd_handlers(args: argparse.Namespace, config: Config) -> int:
    from ..ipc.client import Client

    if args.names:
        return _handler_names(config)
    try:
        with Client(config.socket_address, data_dir=config.data_dir) as client:
            result = client.handlers()
    except NotRunningError:
        from ..plugins.loader import load_plugins

        report = load_plugins(config.plugins_dir)
        result = {"handlers": report.to_dict()["handlers"], "plugins": report.to_dict()}
    emit_json(result) if args.json else echo(render.handlers_text(result))
    return 0


def _handler_names(config: Config) -> int:
    """The running app's job types, one a line: shell completion calls this on every Tab, so it
    is quick, never loads plugins itself and prints nothing at all when no app answers."""
    from ..ipc.client import Client

    try:
        with Client(config.socket_address, data_dir=config.data_dir, timeout=2.0, connect_timeout=0.5) as client:
            names = sorted(h["type"] for h in client.handlers()["handlers"])
    except (AcaciaError, OSError, KeyError, TypeError):
        return 0
    if names:
        echo("\n".join(names))
    return 0


def _why(error: dict[str, Any]) -> str:
    """One failed id's line: its error message, naming the job."""
    job_id = error.get("id")
    message = str((error.get("error") or {}).get("message") or "failed")
    return message if f"job {job_id}" in message or f"id {job_id}" in message else f"job {job_id}: {message}"


def _per_id_status(done: int, errors: list[dict[str, Any]]) -> int:
    """0: every id was acted on; 2: none was and every failure was bad input (no such job:
    nothing changed, as for any bad input); 1 otherwise (some could not be)."""
    if not errors:
        return 0
    codes = {str((error.get("error") or {}).get("code")) for error in errors}
    return 2 if not done and codes <= BAD_INPUT_CODES else 1


def _act_on_jobs(args: argparse.Namespace, config: Config, verb: str, describe: Callable[[dict[str, Any]], str],
                 notice: str) -> int:  # fmt: skip
    """cancel/retry: act on each id that allows it; report each one that does not, on its own line."""
    with _closing(connect(config, fallback=True)) as backend:
        ids = list(dict.fromkeys(args.ids))
        options = {"with_dependents": True} if getattr(args, "with_dependents", False) else {}
        result = getattr(backend.ops, f"{verb}_many")(ids, **options)  # per id, on the socket or the database
        errors = result.get("errors") or []
        if args.json:
            each = {job["id"]: job for job in result["jobs"]} | {error["id"]: error for error in errors}
            emit_json([each[job_id] for job_id in ids if job_id in each])
        else:
            for job in result["jobs"]:
                echo(f"job {job['id']}: {describe(job)}")
        for error in errors:
            echo(f"acacia {verb}: {_why(error)}", err=True)
        if result["jobs"]:
            backend.notice(notice)
    return _per_id_status(len(result["jobs"]), errors)


def cmd_cancel(args: argparse.Namespace, config: Config) -> int:
    return _act_on_jobs(
        args, config, "cancel",
        lambda job: "cancel requested; it stops shortly" if job["state"] == "running" else job["state"],
        "changed the database directly",
    )  # fmt: skip


def cmd_retry(args: argparse.Namespace, config: Config) -> int:
    return _act_on_jobs(
        args, config, "retry", lambda job: f"{job['state']} again",
        "changed the database directly; the jobs run when the app next starts",
    )  # fmt: skip


def cmd_edit(args: argparse.Namespace, config: Config) -> int:
    """Edit one waiting job; exit 2 on bad input (nothing changed), 1 when the job is running or over."""
    if args.priority is None and args.queue is None and args.payload is None and not args.front:
        raise UsageError("acacia edit: give at least one of --priority, --queue, --payload or --front")
    changes: dict[str, Any] = {"priority": args.priority, "queue": args.queue, "front": args.front}
    if args.payload is not None:
        try:
            changes["payload"] = decode_json(args.payload.encode("utf-8", "surrogateescape"))
        except InvalidJsonError as exc:
            raise UsageError(f"acacia edit: --payload is not valid JSON: {exc}") from None
    with _closing(connect(config, fallback=True, plugins=True)) as backend:
        job = backend.ops.edit(args.id, **changes)
        if args.json:
            emit_json(job)
        else:
            echo(f"job {job['id']}: {job['state']}, queue {job['queue']}, priority {job['priority']}")
        backend.notice("changed the database directly; the app sees it when it next looks")
    return 0


def cmd_delete(args: argparse.Namespace, config: Config) -> int:
    if bool(args.ids) == bool(args.finished):
        raise UsageError("acacia delete: give job IDs or --finished (not both)")
    if args.queue and not args.finished:
        raise UsageError("acacia delete: --queue only goes with --finished")
    if (args.older_than is not None or args.state) and not args.finished:
        raise UsageError("acacia delete: --older-than and --state only go with --finished")
    bad = [s for s in args.state or () if s not in FINAL_STATE_NAMES]
    if bad:
        raise UsageError(f"acacia delete: --state {bad[0]!r} is not a finished state; choose from "
                         f"{', '.join(sorted(FINAL_STATE_NAMES))}")  # fmt: skip
    with _closing(connect(config, fallback=True)) as backend:
        if args.finished:
            ids = backend.ops.delete_finished(args.queue, outputs=args.outputs, older_than=args.older_than,
                                              state=args.state)  # fmt: skip
            result: dict[str, Any] = {"deleted": len(ids), "ids": ids, "errors": []}
        else:  # per id: each job that can go goes; each that cannot is reported
            result = backend.ops.delete_many(list(dict.fromkeys(args.ids)), outputs=args.outputs)
        errors = result.get("errors") or []
        if args.json:
            emit_json(result)
        elif result["deleted"] or not errors:
            removed = result.get("outputs_removed")
            echo(f"deleted {result['deleted']} job(s)" + (f" and {len(removed)} output folder(s)" if removed else ""))
        for error in errors + (result.get("output_errors") or []):
            echo(f"acacia delete: {_why(error)}", err=True)
        if result["deleted"]:
            backend.notice("changed the database directly")
    return _per_id_status(result["deleted"], errors)


def cmd_pause(args: argparse.Namespace, config: Config) -> int:
    return _queue_action(args, config, lambda ops: ops.pause(args.queue, create=args.create))


def cmd_resume(args: argparse.Namespace, config: Config) -> int:
    return _queue_action(args, config, lambda ops: ops.resume(args.queue, create=args.create))


def cmd_concurrency(args: argparse.Namespace, config: Config) -> int:
    if args.workers is not None:
        if args.queue is not None:
            raise UsageError("acacia concurrency: give QUEUE N or --workers N, not both")
        if getattr(args, "rate", None) is not None:
            raise UsageError("acacia concurrency: --rate is a queue's: give QUEUE --rate RATE")
        with _closing(connect(config, fallback=False)) as backend:
            workers = backend.ops.set_workers(args.workers)
            emit_json({"workers": workers}) if args.json else echo(f"workers: {workers}")
        return 0
    rate = getattr(args, "rate", None)
    if args.queue is not None and args.limit is None and rate is not None:
        return _queue_action(args, config, lambda ops: ops.set_rate(args.queue, None if rate == "none" else rate,
                                                                    create=args.create))  # fmt: skip
    if args.queue is None or args.limit is None:
        raise UsageError("acacia concurrency: give QUEUE N (0: no limit), QUEUE --rate RATE, or --workers N")

    def both(ops: Any) -> dict[str, Any]:
        info = ops.set_concurrency(args.queue, args.limit, create=args.create)
        return info if rate is None else ops.set_rate(args.queue, None if rate == "none" else rate)

    return _queue_action(args, config, both)


def _queue_action(args: argparse.Namespace, config: Config, action: Any) -> int:
    """pause/resume/concurrency: an unknown queue (a typo) is refused, naming the known ones, unless --create."""
    with _closing(connect(config, fallback=True, create=True)) as backend:
        try:
            info = action(backend.ops)
        except AcaciaError as exc:
            known = (error_details(exc) or {}).get("known_queues")
            if exc.code != "not_found" or not isinstance(known, list):
                raise
            names = ", ".join(str(name) for name in known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
            raise UsageError(f"acacia {args.command}: no queue named {shown(args.queue)}; known queues: {names or 'none'} "
                             "(add --create to create it)") from None  # fmt: skip
        emit_json(info) if args.json else echo(render.queue_text(info))
        backend.notice("changed the database directly; the app applies it when it starts")
    return 0


def cmd_stats(args: argparse.Namespace, config: Config) -> int:
    with _closing(connect(config, fallback=True)) as backend:
        stats = backend.ops.stats()
        emit_json(stats) if args.json else echo(render.stats_text(stats))
        backend.notice("read the database directly")
    return 0


def cmd_watch(args: argparse.Namespace, config: Config) -> int:
    from .live import watch_jobs

    if args.id is not None and args.queue is not None:
        raise UsageError("acacia watch: watch one job ID or one --queue, not both")
    with _closing(connect(config, fallback=False)) as backend:
        return watch_jobs(backend.ops, job_id=args.id, queue=args.queue, as_json=args.json)


COMMANDS = {
    "enqueue": cmd_enqueue, "list": cmd_list, "show": cmd_show, "info": cmd_info, "handlers": cmd_handlers,
    "cancel": cmd_cancel, "retry": cmd_retry, "edit": cmd_edit, "delete": cmd_delete, "pause": cmd_pause, "resume": cmd_resume,
    "concurrency": cmd_concurrency, "stats": cmd_stats, "watch": cmd_watch,
}  # fmt: skip
COMMANDS.update({"completion": cmd_completion, "autostart": cmd_autostart, "help": cmd_help})
COMMANDS["logs"] = cmd_logs
COMMANDS["db"] = cmd_db
COMMANDS["open"] = cmd_open
COMMANDS["why"] = cmd_why
COMMANDS.update({"kill": cmd_kill, "extend": cmd_extend})
COMMANDS["schedule"] = cmd_schedule
COMMANDS["instances"] = cmd_instances


FINAL_STATE_NAMES = frozenset(s.value for s in JobState if s.is_final)  # what `delete --finished --state` takes
