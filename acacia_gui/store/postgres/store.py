"""PostgresJobStore: the durable queue in a PostgreSQL database, as one object.

The counterpart of store/sqlite.SqliteJobStore, composed the same way and forwarding the
same methods, so callers (the engine, the socket, the window, the contract tests) keep one
`store` whatever the backend:

- `db`: db.PostgresDatabase, the connection pool, write transactions, events, notes and the
  schema: the only state the other parts share;
- `jobs`: jobs.PostgresJobs, the reads and user actions (the JobStore contract);
- `worker`: worker.PostgresWorkerStore, what the engine writes (the WorkerStore contract);
- artifacts, checkpoints, stalls, rates, schedules: the smaller tables' parts.

Thread-safety: each call takes a connection from the pool; every method that changes state
commits before it returns; callers announce changes only afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import psycopg

from ...core.definitions import MAX_LOG_LINES
from ...core.job import Job, JobId
from ...core.rates import Rate, TypeLimits
from ...core.recovery import RecoveryPolicy
from ...core.runner import Completion
from ...core.schedules import Fired, JobPreparer, Schedule
from ..rows import QueueInfo as QueueInfo  # re-exported, as store/sqlite.py does
from .artifacts import PostgresArtifacts
from .checkpoints import PostgresCheckpoints
from .db import SCHEMA_VERSION as SCHEMA_VERSION
from .db import PostgresDatabase
from .liveness import DEFAULT_LEASE, PostgresLiveness
from .rates import PostgresRates
from .schedules import PostgresSchedules
from .stalls import PostgresStalls

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .jobs import PostgresJobs
    from .worker import PostgresWorkerStore


class PostgresJobStore:
    """The JobStore and the WorkerStore on a PostgreSQL database at `url` (a libpq URL or
    key=value string), through a pool of `min_size` to `max_size` connections.

    Opening connects and migrates the schema (a no-op when it is current; refused when the
    database was written by a newer Acacia). Each method below is its part's method of the
    same name and signature (tests/unit/test_postgres_store_shape.py checks).
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8, migrate: bool = True,
                 lease: float = DEFAULT_LEASE):  # fmt: skip
        # Imported here: jobs.py and worker.py are written alongside this module, and the parts
        # above need neither.
        from .jobs import PostgresJobs
        from .worker import PostgresWorkerStore

        self.db = PostgresDatabase(url, min_size=min_size, max_size=max_size)
        try:
            if migrate:
                self.db.migrate()
        except BaseException:
            self.db.close()
            raise
        self.jobs: PostgresJobs = PostgresJobs(self.db)
        self.worker: PostgresWorkerStore = PostgresWorkerStore(self.db)
        self.artifacts = PostgresArtifacts(self.db)
        self.checkpoints = PostgresCheckpoints(self.db)
        self.stalls = PostgresStalls(self.db)
        self.rates = PostgresRates(self.db)
        self.schedules = PostgresSchedules(self.db)
        self.target = self.db.target  # the database, without the password: for messages
        # Instances on other machines: an advisory lock per instance and a heartbeat lease (liveness.py).
        # The engine's Upkeep finds it here and uses it instead of the local lock files.
        self.liveness = PostgresLiveness(self.db, lease)

    # -- the database ----------------------------------------------------------------------
    def _write(self) -> AbstractContextManager[psycopg.Connection]:
        """One write transaction (benchmarks fill a database with it)."""
        return self.db.write()

    def integrity_check(self) -> str:
        return self.db.integrity_check()

    def close(self) -> None:
        self.liveness.release()
        self.db.close()

    # -- JobStore: reads and user actions (PostgresJobs) ------------------------------------
    def insert_jobs(self, jobs: Sequence[Job], source: str, payload_texts: Sequence[str] | None = None) -> list[JobId]:
        return self.jobs.insert_jobs(jobs, source, payload_texts)

    def get_job(self, job_id: JobId) -> Job | None:
        return self.jobs.get_job(job_id)

    def require_job(self, job_id: JobId) -> Job:
        return self.jobs.require_job(job_id)

    def list_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None,
                  ids: Iterable[int] | None = None, order_by: str = "id", descending: bool = False,
                  limit: int | None = None, offset: int = 0, preview: bool = False) -> list[Job]:  # fmt: skip
        return self.jobs.list_jobs(state=state, queue=queue, type=type, search=search, ids=ids, order_by=order_by,
                                   descending=descending, limit=limit, offset=offset, preview=preview)  # fmt: skip

    def count_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None) -> int:
        return self.jobs.count_jobs(state=state, queue=queue, type=type, search=search)

    def counts_by_state(self) -> dict[str, int]:
        return self.jobs.counts_by_state()

    def finished_since(self, since: float) -> int:
        return self.jobs.finished_since(since)

    def starting_by_queue(self) -> dict[str, int]:
        return self.jobs.starting_by_queue()

    def get_events(self, job_id: JobId) -> list[dict[str, Any]]:
        return self.jobs.get_events(job_id)

    def get_logs(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                 last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        return self.jobs.get_logs(job_id, after=after, limit=limit, last=last)

    def count_logs(self, job_id: JobId) -> int:
        return self.jobs.count_logs(job_id)

    def get_events_page(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                        last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        return self.jobs.get_events_page(job_id, after=after, limit=limit, last=last)

    def list_queues(self) -> list[QueueInfo]:
        return self.jobs.list_queues()

    def get_queue(self, name: str) -> QueueInfo:
        return self.jobs.get_queue(name)

    def set_queue_paused(self, name: str, paused: bool) -> None:
        self.jobs.set_queue_paused(name, paused)

    def set_queue_concurrency(self, name: str, concurrency: int) -> None:
        self.jobs.set_queue_concurrency(name, concurrency)

    def cancel_job(self, job_id: JobId, source: str) -> Job:
        return self.jobs.cancel_job(job_id, source)

    def retry_job(self, job_id: JobId, source: str, *, with_dependents: bool = False) -> Job:
        return self.jobs.retry_job(job_id, source, with_dependents=with_dependents)

    def jobs_ahead(self, job_id: JobId) -> int:
        return self.jobs.jobs_ahead(job_id)

    def get_dependencies(self, job_id: JobId) -> dict[str, list[dict[str, Any]]]:
        return self.jobs.get_dependencies(job_id)

    def get_pipeline(self, job_id: JobId, limit: int = 500) -> dict[str, Any]:
        return self.jobs.get_pipeline(job_id, limit)

    def take_notes(self) -> list[tuple[JobId, str, str]]:
        """(job id, queue, new state) of jobs changed as a consequence of committed writes
        (dependents released or cancelled), each handed out once: the caller announces them."""
        return self.db.take_notes()

    def edit_job(self, job_id: JobId, source: str, *, priority: int | None = None, queue: str | None = None,
                 payload_text: str | None = None, front: bool = False) -> Job:  # fmt: skip
        return self.jobs.edit_job(job_id, source, priority=priority, queue=queue, payload_text=payload_text, front=front)

    def delete_jobs(self, job_ids: Iterable[JobId], source: str) -> int:
        return self.jobs.delete_jobs(job_ids, source)

    def clear_finished(self, source: str, *, queue: str | None = None) -> list[JobId]:
        return self.jobs.clear_finished(source, queue=queue)

    def delete_finished_before(self, source: str, *, before: float, states: Sequence[str],
                               queue: str | None = None, limit: int = 500) -> list[JobId]:  # fmt: skip
        return self.jobs.delete_finished_before(source, before=before, states=states, queue=queue, limit=limit)

    # -- a job's outputs (PostgresArtifacts) ------------------------------------------------
    def add_artifact(self, job_id: JobId, artifact: dict[str, Any]) -> bool:
        return self.artifacts.add_artifact(job_id, artifact)

    def get_artifacts(self, job_id: JobId) -> list[dict[str, Any]]:
        return self.artifacts.get_artifacts(job_id)

    # -- rate limits and caps (PostgresRates) ----------------------------------------------------
    def set_queue_rate(self, name: str, rate: Rate | str | None) -> None:
        self.rates.set_queue_rate(name, rate)

    def queue_rates(self) -> dict[str, Rate]:
        return self.rates.queue_rates()

    def rate_window(self, scope: str, rate: Rate, now: float | None = None) -> tuple[int, float | None]:
        return self.rates.rate_window(scope, rate, now)

    def running_of_type(self, job_type: str) -> int:
        return self.rates.running_of_type(job_type)

    # -- recurring schedules (PostgresSchedules) --------------------------------------------
    def add_schedule(self, schedule: Schedule) -> Schedule:
        return self.schedules.add_schedule(schedule)

    def edit_schedule(self, name: str, changes: dict[str, Any]) -> Schedule:
        return self.schedules.edit_schedule(name, changes)

    def remove_schedule(self, name: str) -> None:
        self.schedules.remove_schedule(name)

    def set_schedule_paused(self, name: str, paused: bool) -> Schedule:
        return self.schedules.set_schedule_paused(name, paused)

    def list_schedules(self) -> list[Schedule]:
        return self.schedules.list_schedules()

    def get_schedule(self, name: str) -> Schedule:
        return self.schedules.get_schedule(name)

    def run_schedule_now(self, name: str, source: str, prepare: JobPreparer | None = None) -> JobId:
        return self.schedules.run_schedule_now(name, source, prepare)

    def fire_due_schedules(self, now: float, source: str, prepare: JobPreparer | None = None) -> list[Fired]:
        return self.schedules.fire_due_schedules(now, source, prepare)

    def next_schedule_at(self) -> float | None:
        return self.schedules.next_schedule_at()

    def rebase_after_clock_step(self, step: float, now: float) -> int:
        return self.schedules.rebase_after_clock_step(step, now)

    # -- a job's checkpoint (PostgresCheckpoints) ---------------------------------------------
    def save_checkpoint(self, job_id: JobId, attempt: int, data: str) -> float | None:
        self.worker._forget_claimed_checkpoints()  # what the last claim read is no longer the last word
        return self.checkpoints.save_checkpoint(job_id, attempt, data)

    def get_checkpoint(self, job_id: JobId) -> dict[str, Any] | None:
        return self.checkpoints.get_checkpoint(job_id)

    def get_checkpoints(self, job_ids: Iterable[JobId]) -> dict[JobId, dict[str, Any]]:
        ids = list(job_ids)
        known = self.worker._checkpoints_of_claimed(ids)  # the engine asks for the jobs it just claimed (the claim read them)
        return known if known is not None else self.checkpoints.get_checkpoints(ids)

    # -- stalled jobs (PostgresStalls) --------------------------------------------------------
    def mark_stalled(self, job_id: JobId, since: float, stall_after: float) -> bool:
        return self.stalls.mark_stalled(job_id, since, stall_after)

    def clear_stall(self, job_id: JobId, message: str, source: str = "worker") -> bool:
        return self.stalls.clear_stall(job_id, message, source)

    def get_stall(self, job_id: JobId) -> dict[str, Any] | None:
        return self.stalls.get_stall(job_id)

    def stalled_job_ids(self) -> list[JobId]:
        return self.stalls.stalled_job_ids()

    # -- WorkerStore: the engine's writes (PostgresWorkerStore) -----------------------------
    def register_instance(self, instance_id: str) -> None:
        """The liveness lock first, then the row: a registered instance is never without its lock."""
        self.liveness.hold(instance_id)
        self.worker.register_instance(instance_id)

    def heartbeat(self, instance_id: str) -> None:
        """Beat; and if this process holds `instance_id` but its row is gone (survivors took it for
        dead: a partition, a freeze past the lease), register it again, with its lock checked."""
        self.worker.fold_counters_if_due()
        if not self.liveness.holds(instance_id):
            self.worker.heartbeat(instance_id)
            return
        self.liveness.ensure_held()
        if not self.liveness.beat(instance_id):
            log.warning("instance %s was taken for dead (no heartbeat within the %g s lease); its jobs were "
                        "recovered elsewhere, and what it finishes of them is ignored; registering again",
                        instance_id, self.liveness.lease)  # fmt: skip
            self.worker.register_instance(instance_id)

    def fold_counters_if_due(self) -> None:
        self.worker.fold_counters_if_due()

    def unregister_instance(self, instance_id: str) -> None:
        self.worker.unregister_instance(instance_id)
        self.liveness.release(instance_id)

    def instances(self) -> list[dict[str, Any]]:
        return self.worker.instances()

    def owners_of_running_jobs(self) -> list[str]:
        return self.worker.owners_of_running_jobs()

    def recover_instance(self, instance_id: str, policy: RecoveryPolicy | None = None) -> list[tuple[JobId, str]]:
        return self.worker.recover_instance(instance_id, policy)

    def promote_due(self, now: float | None = None) -> list[tuple[JobId, str]]:
        return self.worker.promote_due(now)

    def complete_and_claim(self, completions: Sequence[Completion], instance_id: str, free_slots: int,
                           prefetch: int = 0, no_prefetch_types: Iterable[str] = (),
                           started: Sequence[tuple[JobId, float]] = (),
                           type_limits: TypeLimits | None = None) -> tuple[list[Completion], list[Job]]:  # fmt: skip
        return self.worker.complete_and_claim(completions, instance_id, free_slots, prefetch, no_prefetch_types, started,
                                              type_limits)  # fmt: skip

    def cancel_requested_among(self, job_ids: Iterable[JobId]) -> list[JobId]:
        return self.worker.cancel_requested_among(job_ids)

    def settling_pending(self) -> bool:
        return self.worker.settling_pending()

    def more_claimable(self) -> bool:
        return self.worker.more_claimable()

    def next_claim_at(self) -> float | None:
        return self.worker.next_claim_at()

    def save_progress(self, updates: Sequence[tuple[JobId, float | None, str]]) -> None:
        self.worker.save_progress(updates)

    def append_logs(self, lines: Sequence[tuple[JobId, float, str, str]]) -> None:
        self.worker.append_logs(lines)

    def data_version(self) -> int:
        return self.worker.data_version()

    def checkpoint_in_background(self, every: float = 0.05) -> Callable[[], None]:
        return self.worker.checkpoint_in_background(every)

    def listen_for_wakeups(self, wake: Callable[[], None]) -> Callable[[], None]:
        return self.worker.listen_for_wakeups(wake)
