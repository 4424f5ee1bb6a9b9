"""`acacia logs ID [-f]`: a job's whole log from its first line; with -f, followed to the job's end.

Without -f the lines come a page at a time (LOGS_PAGE lines, or less when they are long:
the `logs` op's limits), through the app or, when none runs, from the database. With -f
the app's job watch (kinds ["log"], since "start") replays the log and streams new lines
until the job ends, like `tail -f` plus `wait`: exit 0 if the job succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..config import Config
from ..core.definitions import EventKind, JobState
from . import render
from .backend import connect
from .output import echo

LOGS_PAGE = 1000  # lines asked for per `logs` request (the app may send fewer, for long lines)


def format_line(line: dict[str, Any], *, as_json: bool, timestamps: bool) -> str:
    """One log line as printed: the message as the handler wrote it, or JSON, or with its time and level."""
    if as_json:
        return json.dumps({k: line.get(k) for k in ("id", "at", "level", "message")}, ensure_ascii=False)
    if timestamps:
        return f"{render.when(line.get('at'))} {line.get('level', ''):<7} {line.get('message', '')}"
    return str(line.get("message", ""))


def cmd_logs(args: argparse.Namespace, config: Config) -> int:
    backend = connect(config, fallback=not args.follow)
    try:
        if args.follow:
            return _follow(backend.ops, args.id, as_json=args.json, timestamps=args.timestamps)
        after = 0
        while True:
            page = backend.ops.logs(args.id, after=after, limit=LOGS_PAGE)
            if page["lines"]:
                echo("\n".join(format_line(line, as_json=args.json, timestamps=args.timestamps) for line in page["lines"]))
            if not page["more"]:
                break
            after = page["next"]
        backend.notice("read the database directly")
        return 0
    finally:
        backend.close()


def _follow(ops: Any, job_id: int, *, as_json: bool, timestamps: bool) -> int:
    stream = ops.watch(job=job_id, kinds=[EventKind.LOG.value], since="start", since_log=0)
    try:
        for event in stream:
            if event is not None and event.get("kind") == EventKind.LOG:
                line = {"id": event.get("log_id"), **{k: event.get(k) for k in ("at", "level", "message")}}
                echo(format_line(line, as_json=as_json, timestamps=timestamps))
    finally:
        stream.close()
    job = (stream.end or {}).get("job")
    if job is None:
        echo(f"acacia: job {job_id} was deleted", err=True)
        return 1
    if job["state"] == JobState.SUCCEEDED.value:
        return 0
    detail = f": {job['error']}" if job.get("error") else ""
    echo(f"acacia: job {job_id} {job['state']}{detail}", err=True)
    return 1
