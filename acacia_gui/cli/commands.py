"""One function per `acacia` subcommand: (args, config) → exit status.

Data goes to stdout (a table, or JSON with --json); notices and errors go to stderr.
Input that can be checked before anything is contacted is checked first, so bad input
never leaves a half-done change. With several ids, cancel/retry first check that every
job exists and allows the action, then change them one by one: not one transaction, so a
job that changes state in between can still stop the run part-way.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config
from ..core.definitions import CANCELLABLE_STATES, RETRYABLE_STATES, JobState
from ..core.errors import AcaciaError, InvalidTransitionError
from ..ipc.protocol import (
    InvalidJsonError,
    LineTooLongError,
    NotRunningError,
    decode_json,
    encode_message,
    error_details,
    request_message,
    with_details,
)
from . import render
from .backend import Backend, connect
from .output import echo
from .parser import UsageError


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
                                                         "cancel_grace", "memory_limit", "cpu_time_limit", "nice")
             if getattr(args, name) is not None]  # fmt: skip
    if args.type is not None or given or args.wait:
        extra = ", ".join(([args.type] if args.type is not None else []) + given + (["--wait"] if args.wait else []))
        raise UsageError(f"acacia enqueue: --batch takes every job from the file; drop {extra}")
    jobs, numbers = read_batch(args.batch)
    backend = connect(config, fallback=True, plugins=True, create=True)
    with _closing(backend):
        try:
            ids = backend.ops.enqueue_many(jobs, allow_unknown=args.allow_unknown)
        except LineTooLongError as exc:
            raise UsageError(_batch_too_big(exc, jobs, args.allow_unknown)) from None
        except AcaciaError as exc:
            index = (error_details(exc) or {}).get("index")
            if isinstance(index, int) and 0 <= index < len(numbers):
                message = str(exc).split(": ", 1)[1] if str(exc).startswith("jobs[") else str(exc)
                raise with_details(exc, f"batch line {numbers[index]}: {message}", line=numbers[index]) from None
            raise
        if args.json:
            emit_json({"ids": ids})
        else:
            echo("\n".join(str(i) for i in ids))
        backend.notice(f"queued {len(ids)} jobs in the database directly; they run when the app next starts")
    return 0


def _batch_too_big(exc: LineTooLongError, jobs: list[dict[str, Any]], allow_unknown: bool) -> str:
    """The app refused the batch's one request line: say its size, the app's limit and both ways out."""
    params: dict[str, Any] = {"jobs": jobs, **({"allow_unknown": True} if allow_unknown else {})}
    size = len(encode_message(request_message(1, "enqueue", params)))
    found = re.search(r"longer than (\d+) bytes", str(exc))
    limit = f"the app's limit of {found.group(1)} bytes" if found else "the app's request size limit"
    return (f"acacia enqueue: the batch is {size} bytes as one request, over {limit}; split the file, "
            f"or restart the app with --max-line-bytes {size}")


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
                                  offset=args.offset)  # fmt: skip
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


def cmd_info(args: argparse.Namespace, config: Config) -> int:
    from ..ipc.client import probe

    info: dict[str, Any] = dict(config.describe())
    hello = probe(config.socket_address, timeout=1.0)
    info["running"] = hello is not None
    info["pid"] = hello.get("pid") if hello else None
    if args.json:
        emit_json(info)
        return 0
    for key in ("data_dir", "database", "plugins_dir", "socket", "durability"):
        echo(f"{key + ':':<13}{info[key]}")
    echo(f"{'running:':<13}{'yes (pid ' + str(info['pid']) + ')' if info['running'] else 'no'}")
    return 0


def cmd_handlers(args: argparse.Namespace, config: Config) -> int:
    from ..ipc.client import Client

    try:
        with Client(config.socket_address, data_dir=config.data_dir) as client:
            result = client.handlers()
    except NotRunningError:
        from ..plugins.loader import load_plugins

        report = load_plugins(config.plugins_dir)
        result = {"handlers": report.to_dict()["handlers"], "plugins": report.to_dict()}
    emit_json(result) if args.json else echo(render.handlers_text(result))
    return 0


def _checked_jobs(backend: Backend, ids: list[int], allowed: frozenset[JobState], verb: str) -> None:
    """Every id exists and allows the action, checked before the first change (not atomic: see the module doc)."""
    for job_id in dict.fromkeys(ids):
        job = backend.ops.get(job_id)
        if JobState(job["state"]) not in allowed:
            raise InvalidTransitionError(f"job {job_id} is {job['state']} and cannot be {verb}")


def _act_on_jobs(args: argparse.Namespace, config: Config, action: str, allowed: frozenset[JobState], verb: str,
                 describe: Callable[[dict[str, Any]], str], notice: str) -> int:  # fmt: skip
    """cancel/retry: check every id, then act on each (through the app, or on the database)."""
    with _closing(connect(config, fallback=True)) as backend:
        _checked_jobs(backend, args.ids, allowed, verb)
        results = [getattr(backend.ops, action)(job_id) for job_id in dict.fromkeys(args.ids)]
        if args.json:
            emit_json(results)
        for job in results if not args.json else []:
            echo(f"job {job['id']}: {describe(job)}")
        backend.notice(notice)
    return 0


def cmd_cancel(args: argparse.Namespace, config: Config) -> int:
    return _act_on_jobs(
        args, config, "cancel", CANCELLABLE_STATES, "cancelled",
        lambda job: "cancel requested; it stops shortly" if job["state"] == "running" else job["state"],
        "changed the database directly",
    )  # fmt: skip


def cmd_retry(args: argparse.Namespace, config: Config) -> int:
    return _act_on_jobs(
        args, config, "retry", RETRYABLE_STATES, "retried", lambda job: f"{job['state']} again",
        "changed the database directly; the jobs run when the app next starts",
    )  # fmt: skip


def cmd_delete(args: argparse.Namespace, config: Config) -> int:
    if bool(args.ids) == bool(args.finished):
        raise UsageError("acacia delete: give job IDs or --finished (not both)")
    if args.queue and not args.finished:
        raise UsageError("acacia delete: --queue only goes with --finished")
    with _closing(connect(config, fallback=True)) as backend:
        if args.finished:
            ids = backend.ops.delete_finished(args.queue)
            result = {"deleted": len(ids), "ids": ids}
        else:
            result = {"deleted": backend.ops.delete(list(dict.fromkeys(args.ids))), "ids": args.ids}
        emit_json(result) if args.json else echo(f"deleted {result['deleted']} job(s)")
        backend.notice("changed the database directly")
    return 0


def cmd_pause(args: argparse.Namespace, config: Config) -> int:
    return _queue_action(args, config, lambda ops: ops.pause(args.queue))


def cmd_resume(args: argparse.Namespace, config: Config) -> int:
    return _queue_action(args, config, lambda ops: ops.resume(args.queue))


def cmd_concurrency(args: argparse.Namespace, config: Config) -> int:
    if args.workers is not None:
        if args.queue is not None:
            raise UsageError("acacia concurrency: give QUEUE N or --workers N, not both")
        with _closing(connect(config, fallback=False)) as backend:
            workers = backend.ops.set_workers(args.workers)
            emit_json({"workers": workers}) if args.json else echo(f"workers: {workers}")
        return 0
    if args.queue is None or args.limit is None:
        raise UsageError("acacia concurrency: give QUEUE N (0: no limit), or --workers N")
    return _queue_action(args, config, lambda ops: ops.set_concurrency(args.queue, args.limit))


def _queue_action(args: argparse.Namespace, config: Config, action: Any) -> int:
    with _closing(connect(config, fallback=True, create=True)) as backend:
        info = action(backend.ops)
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
    "cancel": cmd_cancel, "retry": cmd_retry, "delete": cmd_delete, "pause": cmd_pause, "resume": cmd_resume,
    "concurrency": cmd_concurrency, "stats": cmd_stats, "watch": cmd_watch,
}  # fmt: skip
