"""`acacia enqueue --batch FILE`: JSON lines in, job ids out, and a clear record when it stops part-way.

Every line is parsed here first (bad JSON: exit 2, nothing sent). Through the app, a
batch that fits in one request is one transaction; a larger one is checked whole by the
app, then written in chunks, one transaction each (ipc/batch.py). Without an app, the
whole batch is one transaction. If writing stops part-way (the app stopped, the disk
filled up), the ids already enqueued are printed on stdout as usual, stderr names the
line that failed and the lines that were and were not enqueued, and the exit status is 1.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.errors import AcaciaError
from ..ipc.protocol import LineTooLongError, encode_message, error_details, request_message, with_details
from .backend import Backend
from .output import echo
from .parser import UsageError


def enqueue_batch(backend: Backend, jobs: list[dict[str, Any]], numbers: list[int], *, allow_unknown: bool,
                  as_json: bool) -> int:  # fmt: skip
    """Enqueue the jobs read from the batch's lines `numbers`; print their ids. Returns the exit status."""
    try:
        ids = backend.ops.enqueue_many(jobs, allow_unknown=allow_unknown)
    except AcaciaError as exc:
        return _failed(backend, exc, jobs, numbers, allow_unknown=allow_unknown, as_json=as_json)
    _print_ids(ids, as_json)
    backend.notice(f"queued {len(ids)} jobs in the database directly; they run when the app next starts")
    return 0


def _print_ids(ids: list[int], as_json: bool, **extra: Any) -> None:
    if as_json:
        echo(json.dumps({"ids": ids, **extra}, ensure_ascii=False))
    elif ids:
        echo("\n".join(str(i) for i in ids))


def _failed(backend: Backend, exc: AcaciaError, jobs: list[dict[str, Any]], numbers: list[int], *,
            allow_unknown: bool, as_json: bool) -> int:  # fmt: skip
    """Nothing written: raise (exit 2 for bad input). Part written: print what was, say what was not, return 1."""
    details = error_details(exc) or {}
    index = details.get("index")
    line = numbers[index] if isinstance(index, int) and 0 <= index < len(numbers) else None
    enqueued = details.get("enqueued") or []
    if isinstance(exc, LineTooLongError) and line is not None and not enqueued:
        raise UsageError(_job_too_big(exc, jobs[index], line, allow_unknown)) from None
    message = re.sub(r"^jobs\[\d+\]: ", "", str(exc))
    if line is not None:
        message = f"batch line {line}: {message}"
    if not enqueued:
        raise with_details(exc, message, **({"line": line} if line is not None else {})) from None
    done = len(enqueued)
    unconfirmed = details.get("unconfirmed")
    maybe = [numbers[unconfirmed[0]], numbers[unconfirmed[1] - 1]] if unconfirmed else None
    _print_ids(enqueued, as_json, error={"code": exc.code, "message": message}, failed_line=line,
               unconfirmed_lines=maybe)  # fmt: skip
    echo(f"acacia: {message}", err=True)
    echo(f"acacia: the batch was written in chunks: {_lines(numbers[0], numbers[done - 1])} ({done} jobs) were "
         f"enqueued (their ids are on stdout), {_lines(numbers[done], numbers[-1])} not", err=True)  # fmt: skip
    if maybe:
        echo(f"acacia: the app's answer for {_lines(*maybe)} never came: those jobs may or may not "
             f"be enqueued (see `acacia list`)", err=True)  # fmt: skip
    backend.notice("the jobs above were queued in the database directly")
    return 1


def _lines(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _job_too_big(exc: LineTooLongError, job: dict[str, Any], line: int, allow_unknown: bool) -> str:
    """One job alone is over the app's request limit: say its size, the limit and the way out."""
    params: dict[str, Any] = {"jobs": [job], **({"allow_unknown": True} if allow_unknown else {})}
    size = len(encode_message(request_message(1, "enqueue", params)))
    found = re.search(r"longer than (\d+) bytes", str(exc))
    limit = f"the app's limit of {found.group(1)} bytes" if found else "the app's request size limit"
    return (f"acacia enqueue: batch line {line} is {size} bytes as a request, over {limit}; "
            f"restart the app with --max-line-bytes {size} (or more); nothing was enqueued")
