"""A batch of any size over a socket that takes requests of a bounded size (1 MiB by default).

A batch that fits in one request is sent as one: one transaction, all or nothing. A
larger one is cut into request-sized chunks, and then:

1. every chunk is sent with "validate_only": the app checks each job exactly as it would
   enqueue it (type, payload schema, options) and writes nothing, so a bad job anywhere
   fails the whole batch before any job is written;
2. the chunks are sent again to be written, each one transaction. If one fails (the app
   stopped, the disk is full, a plugin changed in between), the jobs of the chunks before
   it stay enqueued: the error says which (details "enqueued": their ids, "index": the
   first job not written, and "unconfirmed": the chunk whose answer never came, which may
   or may not have been written).

A chunk the app refuses as too long (it was started with a smaller --max-line-bytes) is
halved and sent again: nothing of a refused line was read, let alone written. A batch
whose jobs refer to each other ("ref", and refs in "after") is a pipeline the app
resolves in one transaction: it is never split, and one too large for a request is
refused, saying so. Pure Python, no I/O of its own: `send` is the client's request.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ..core.definitions import DEFAULT_MAX_LINE_BYTES
from ..core.errors import AcaciaError, InvalidJobError
from .protocol import ConnectionLostError, LineTooLongError, NoReplyError, error_details, with_details

MAX_CHUNK_JOBS = 10_000  # jobs in one request (one transaction)
REQUEST_OVERHEAD = 4096  # bytes of a request besides its jobs, with room to spare

Send = Callable[[dict[str, Any]], Any]


def plan_chunks(jobs: list[Any], max_bytes: int = DEFAULT_MAX_LINE_BYTES,
                max_jobs: int = MAX_CHUNK_JOBS) -> list[tuple[int, int]]:  # fmt: skip
    """[start, end) ranges of `jobs`, in order, each fitting one request line of `max_bytes`."""
    budget = max(1, max_bytes - REQUEST_OVERHEAD)
    chunks: list[tuple[int, int]] = []
    start, size = 0, 0
    for index, job in enumerate(jobs):
        try:
            job_bytes = len(json.dumps(job, ensure_ascii=True, allow_nan=False, separators=(",", ":"))) + 1
        except (TypeError, ValueError) as exc:
            raise with_details(InvalidJobError(f"jobs[{index}] cannot be sent as JSON: {exc}"),
                               f"jobs[{index}] cannot be sent as JSON: {exc}", index=index) from None  # fmt: skip
        if index > start and (size + job_bytes > budget or index - start >= max_jobs):
            chunks.append((start, index))
            start, size = index, 0
        size += job_bytes
    if start < len(jobs):
        chunks.append((start, len(jobs)))
    return chunks


def _sent(send: Send, jobs: list[Any], chunks: list[tuple[int, int]],
          base: dict[str, Any]) -> Iterator[tuple[int, int, Any]]:  # fmt: skip
    """Send each chunk; a chunk refused as too long is halved and sent again. Errors name the
    batch's index of the job (details "index") and the chunk ("chunk": [start, end))."""
    pending = deque(chunks)
    while pending:
        start, end = pending.popleft()
        try:
            result = send({**base, "jobs": jobs[start:end]})
        except LineTooLongError as exc:
            if end - start > 1:
                middle = (start + end) // 2
                pending.extendleft([(middle, end), (start, middle)])
                continue
            raise with_details(exc, f"jobs[{start}]: {exc}", index=start, chunk=[start, end]) from None
        except AcaciaError as exc:
            index = (error_details(exc) or {}).get("index")
            where = start + index if isinstance(index, int) else start
            raise with_details(exc, _renumbered(str(exc), index, where), index=where, chunk=[start, end]) from None
        yield start, end, result


def _renumbered(message: str, index: Any, where: int) -> str:
    """The app's "jobs[3]: …" is about the chunk; say which job of the whole batch it is."""
    prefix = f"jobs[{index}]: "
    return f"jobs[{where}]: {message[len(prefix):]}" if isinstance(index, int) and message.startswith(prefix) else message


def enqueue_in_chunks(send: Send, jobs: list[Any], base: dict[str, Any], max_bytes: int | None = None) -> list[int]:
    """Enqueue `jobs` through `send` (one "enqueue" request each call); returns their ids in order.

    Raises the app's error, its details "index" naming the batch's job it is about (or
    the first job of the chunk that failed). Once a chunk has been written, the error also
    has "enqueued" (the ids written so far, in batch order: jobs 0 to len-1) and, when an
    answer was lost, "unconfirmed": [start, end) of the chunk that may or may not be written.
    """
    chunks = plan_chunks(jobs, max_bytes or DEFAULT_MAX_LINE_BYTES)
    linked = any(isinstance(job, dict) and "ref" in job for job in jobs)
    if linked and len(chunks) > 1:
        message = (f"this batch uses refs, so it is one pipeline written in one transaction, but its {len(jobs)} jobs "
                   "do not fit in one request; split it into pipelines that do, or start the app with a larger "
                   "--max-line-bytes")  # fmt: skip
        raise with_details(InvalidJobError(message), message, index=0)
    if len(chunks) == 1:
        try:
            return send({**base, "jobs": jobs})["ids"]
        except LineTooLongError as exc:
            if len(jobs) == 1:
                raise with_details(exc, f"jobs[0]: {exc}", index=0) from None
            chunks = [(0, len(jobs) // 2), (len(jobs) // 2, len(jobs))]  # the app takes less than we thought
    for _ in _sent(send, jobs, chunks, {**base, "validate_only": True}):
        pass  # every job is checked before any is written
    ids: list[int] = []
    try:
        for _, _, result in _sent(send, jobs, chunks, base):
            ids += result["ids"]
    except AcaciaError as exc:
        details = dict(error_details(exc) or {})
        details["enqueued"] = list(ids)
        if isinstance(exc, ConnectionLostError | NoReplyError):
            details["unconfirmed"] = details.get("chunk")
        written = f"{len(ids)} of {len(jobs)} jobs" if ids else "none of the jobs"
        message = f"{exc} ({written} were enqueued before this: the batch was written in chunks)"
        raise with_details(exc, message, **details) from None
    return ids
