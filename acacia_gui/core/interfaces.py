"""The seed's interfaces as Protocols, plus the JobStore every backend implements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from .context import Context
from .job import Job, JobId


@runtime_checkable
class Handler(Protocol):
    """Processes one job. Return a JSON value (the result) or raise.

    A plain function `(ctx, job)` is accepted wherever a Handler is; the registry wraps it.
    """

    def handle(self, ctx: Context, job: Job) -> Any: ...


@runtime_checkable
class Enqueuer(Protocol):
    def enqueue(self, ctx: Context, job: Job) -> JobId:
        """Validate and persist `job`; return its new id. Raises InvalidJobError."""
        ...


@runtime_checkable
class HandlerRegistry(Protocol):
    def register_handler(self, job_type: str, handler: Any, **options: Any) -> None:
        """Raises InvalidJobTypeError or DuplicateHandlerError."""
        ...

    def get_handler(self, job_type: str) -> Any | None: ...


@runtime_checkable
class Worker(Protocol):
    def start(self, ctx: Context, registry: HandlerRegistry) -> None: ...

    def stop(self, ctx: Context) -> None:
        """Claim nothing new; wait for running jobs until ctx's deadline; then cancel them."""
        ...


class JobStore(Protocol):
    """Durable storage of jobs, queues, events and logs (SQLite today, PostgreSQL later).

    Every method is thread-safe and every state change commits before it returns.
    `source` names who caused a change: api, cli, socket, gui, worker, recovery.
    """

    def insert_jobs(self, jobs: Sequence[Job], source: str, payload_texts: Sequence[str] | None = None) -> list[JobId]:
        """`payload_texts`: the payloads already encoded as JSON (validation did it once)."""
        ...

    def get_job(self, job_id: JobId) -> Job | None: ...

    def list_jobs(self, **filters: Any) -> list[Job]: ...

    def count_jobs(self, **filters: Any) -> int: ...

    def cancel_job(self, job_id: JobId, source: str) -> Job: ...

    def retry_job(self, job_id: JobId, source: str) -> Job: ...

    def delete_jobs(self, job_ids: Iterable[JobId], source: str) -> int: ...

    def clear_finished(self, source: str, *, queue: str | None = None) -> list[JobId]: ...

    def set_queue_paused(self, name: str, paused: bool) -> None: ...

    def set_queue_concurrency(self, name: str, concurrency: int) -> None: ...

    def close(self) -> None: ...
