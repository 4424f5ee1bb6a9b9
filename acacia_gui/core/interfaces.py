"""The seed's interfaces as Protocols, plus the store contracts every backend implements.

`JobStore` is what reads and user actions need, `WorkerStore` what the engine needs; a
backend implements both (tests/contract is the suite each one passes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .context import Context
from .definitions import MAX_LOG_LINES
from .job import Job, JobId
from .rates import Rate, TypeLimits
from .recovery import RecoveryPolicy
from .runner import Completion
from .schedules import Fired, JobPreparer, Schedule


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


@dataclass(frozen=True)
class QueueInfo:
    """A queue as the store keeps it, with how many of its jobs are in each state (every state a key)."""

    name: str
    concurrency: int  # 0: no limit but the worker's
    paused: bool
    counts: dict[str, int]
    rate: str | None = None  # its rate limit ("30/h"), None: none

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "concurrency": self.concurrency, "paused": self.paused, "counts": self.counts,
                "rate": self.rate}


@runtime_checkable
class JobStore(Protocol):
    """Durable jobs, queues, events and logs: the reads and user actions (JobQueue, dispatcher, CLI, window).

    What every backend promises (tests/contract checks it on each one):

    - Thread-safe: any method may be called from any thread at once, and several store
      objects (in several processes) may share one database.
    - A method that changes something does it in one transaction, committed before it
      returns; if it raises, nothing changed. A database failure (disk full, read-only,
      locked too long) raises StoreError; the other errors are named per method.
    - Reads see everything committed before they start, by any store object.
    - `source` is a Source value (api, cli, socket, gui, worker, recovery): who asked. It is
      written with the event each state change records (`get_events`).
    - A Job returned is a new object with every attribute set (`context` None): changing
      it changes nothing stored.
    - Ids increase and are never reused, not even after the newest job is deleted.
    - A broken job (another program wrote what the backend cannot read) is still read:
      `get_job` and `list_jobs` return it with each broken value replaced (the payload
      None) and `error` saying what is broken; a queue named only by jobs (its settings
      gone) is listed with the default settings.
    """

    def insert_jobs(self, jobs: Sequence[Job], source: str, payload_texts: Sequence[str] | None = None) -> list[JobId]:
        """Insert jobs already validated by JobQueue.prepare, all or none; returns their ids, increasing.

        Sets on each job: `id`, `state` (`scheduled` when it has a delay, else `queued`),
        `created_at`, `run_at` (now + delay), `queue` ('default' when None) and
        `max_attempts` (1 when None). Creates the queues it names that do not exist yet
        (not paused, no limit) and records one event per job (old state None, message
        'enqueued'). `payload_texts`: the payloads already encoded as JSON, in order
        (JobQueue passes them so a payload is encoded once); encoded here when None.

        Dependencies (`job.after`: ids, or Jobs of the same call): every edge is stored and
        the job starts `waiting` until they are settled under `after_policy`, or `cancelled`
        ('dependency N failed') when one already ended badly under `success`. An unknown id
        or a cycle raises InvalidOptionError; the ids then increase in dependency order.
        Unique keys: a job that is not final holding `job.unique_key` is met per
        `job.on_conflict` (returned: `job.conflict` = 'returned' and the job takes the
        existing one's id and state; replaced: its payload updated when not started;
        otherwise UniqueKeyTakenError), enforced by the database, not by a check.
        """
        ...

    # -- reading ------------------------------------------------------------------------
    def get_job(self, job_id: JobId) -> Job | None:
        """The job as stored now, or None when there is no such job."""
        ...

    def require_job(self, job_id: JobId) -> Job:
        """get_job, but raises JobNotFoundError when there is no such job."""
        ...

    def list_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None,
                  ids: Iterable[int] | None = None, order_by: str = "id", descending: bool = False,
                  limit: int | None = None, offset: int = 0, preview: bool = False) -> list[Job]:  # fmt: skip
        """The jobs matching every filter given, in order, from `offset`, at most `limit`.
        `preview`: a payload or result whose JSON text is longer than LIST_PREVIEW_CHARS is
        returned as a core.job.Preview of its start (listings never carry whole values).

        `state`, `queue`, `type`: one value or a list of values (None or [] matches any).
        `search`: a substring of the type, the payload's JSON text, the error or the
        progress message (ASCII letters match either case; `%`, `_` and `\\` are plain
        characters), or the job's id written out in full. `ids`: only these jobs.
        Order: by `order_by` (a SortField) then by id, both ascending or both descending;
        an empty value (NULL) comes before every value ascending and after them descending,
        and text is ordered by code point: the window keeps loaded rows in this same order.
        Raises InvalidOptionError for a field that is not a SortField.
        """
        ...

    def count_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None) -> int:
        """How many jobs list_jobs would return with these filters and no limit."""
        ...

    def counts_by_state(self) -> dict[str, int]:
        """How many jobs are in each state; every JobState value is a key (0 when none)."""
        ...

    def starting_by_queue(self) -> dict[str, int]:
        """Per queue, the `running` jobs whose handler has not started yet (claimed ahead:
        no `started_at`); they are counted as running by `counts_by_state` too."""
        ...

    def finished_since(self, since: float) -> int:
        """How many jobs have `finished_at` >= `since` (a time.time() value)."""
        ...

    def get_events(self, job_id: JobId) -> list[dict[str, Any]]:
        """A job's state changes, oldest first: dicts of at, source, old_state, new_state, message.

        Empty for an unknown (or deleted) job.
        """
        ...

    def get_artifacts(self, job_id: JobId) -> list[dict[str, Any]]:
        """The files and folders a job registered (job.add_artifact), oldest first: dicts of id,
        path, name, label (or None), size (bytes, measured when added), kind, at.

        Empty for an unknown (or deleted) job; deleting a job deletes these rows, not the files.
        """
        ...

    def get_stall(self, job_id: JobId) -> dict[str, Any] | None:
        """The job's current stall (its handler went silent for its stall_after): a dict of since
        (epoch seconds of its last progress or log line), for (seconds since then), stall_after;
        None when it is not stalled. A flag counts only while the job is running in the run it
        was set in: one left by an app that died or by an earlier attempt reads as None."""
        ...

    def stalled_job_ids(self) -> list[JobId]:
        """Ids of the jobs stalled now (as get_stall says), in id order."""
        ...

    def get_checkpoint(self, job_id: JobId) -> dict[str, Any] | None:
        """A job's last checkpoint (job.save_checkpoint): a dict of data (the JSON value), saved_at and
        attempt (the attempt that saved it); None when it saved none, or for an unknown job."""
        ...

    def get_logs(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                 last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """A job's log lines, oldest first, as dicts of id, at, level, message.

        Those whose id is greater than `after` (up to `limit`), or, with `last`, its
        last `last` lines. Line ids increase in the order append_logs received the lines.
        """
        ...

    def count_logs(self, job_id: JobId) -> int:
        """How many log lines a job has."""
        ...

    def get_events_page(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                        last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """A job's events (get_events) with their ids, oldest first: dicts of id, at, source,
        old_state, new_state, message. Those whose id is greater than `after` (up to
        `limit`), or, with `last`, its last `last` ones. Event ids increase in commit order
        across all jobs and are never reused (a `watch` replays from them).
        """
        ...

    def list_queues(self) -> list[QueueInfo]:
        """Every queue, by name. 'default' always exists; a queue exists once a job or a
        queue setting named it, and is never removed."""
        ...

    def get_queue(self, name: str) -> QueueInfo:
        """One queue; raises JobNotFoundError when no queue has that name."""
        ...

    # -- user actions -------------------------------------------------------------------
    def cancel_job(self, job_id: JobId, source: str) -> Job:
        """Cancel a job that is not over; returns it as it is afterwards.

        Queued or scheduled: now `cancelled` (finished_at set, error 'cancelled before it
        ran', one event). Running: only `cancel_requested` is set (no event): the owning
        worker sees it (WorkerStore.cancel_requested_among) and writes the end.
        Raises JobNotFoundError, or InvalidTransitionError when the job is already over.
        """
        ...

    def retry_job(self, job_id: JobId, source: str, *, with_dependents: bool = False) -> Job:
        """A failed, cancelled or interrupted job → `queued` now (`waiting` while a dependency
        of its own is unfinished), with a fresh set of attempts.

        Clears attempts, result, error, traceback, progress, started_at, finished_at and
        cancel_requested; records an event with the message 'retry'. `with_dependents`: the
        jobs its end cancelled ('dependency N failed', transitively) go back to `waiting`,
        unless another dependency of theirs still stops them. Returns the job. Raises
        JobNotFoundError, or InvalidTransitionError for any other state or when a
        dependency of its own ended badly (retry that one with its dependents).
        """
        ...

    def jobs_ahead(self, job_id: JobId) -> int:
        """How many queued jobs of its queue a claim takes before this queued job (0 when it is not queued)."""
        ...

    def get_dependencies(self, job_id: JobId) -> dict[str, list[dict[str, Any]]]:
        """"upstream" (what it runs after) and "downstream" (what runs after it), each job as
        {id, type, state, progress, policy}, by id."""
        ...

    def get_pipeline(self, job_id: JobId, limit: int = 500) -> dict[str, Any]:
        """The connected dependency graph around a job: "nodes" ({id, type, state, progress,
        queue}), "edges" ({from, to, policy}: `to` runs after `from`), "truncated"."""
        ...

    def take_notes(self) -> list[tuple[JobId, str, str]]:
        """(job id, queue, new state) of each job a committed write changed as a consequence
        (a dependent released, cancelled or revived), oldest first, each handed out once:
        whoever takes them announces them. Bounded (the oldest go first)."""
        ...

    def edit_job(self, job_id: JobId, source: str, *, priority: int | None = None, queue: str | None = None,
                 payload_text: str | None = None, front: bool = False) -> Job:  # fmt: skip
        """Edit a waiting job: its priority, queue (created if missing) and/or payload (JSON text,
        already validated); returns the job afterwards. None leaves a field as it is.

        `front`: the priority becomes one more than the highest of the other queued or
        scheduled jobs of its (new) queue, at most MAX_PRIORITY (overrides `priority`; a job
        already ahead keeps its priority). One transaction, a compare-and-set on the state,
        and one event (old_state = new_state) whose message starts 'edited: ' and says what
        changed. Raises JobNotFoundError, or InvalidTransitionError unless the job is queued
        or scheduled.
        """
        ...

    def delete_jobs(self, job_ids: Iterable[JobId], source: str) -> int:
        """Delete jobs with their events and logs, all or none; returns how many (repeats count once).

        Raises JobNotFoundError for an unknown id, InvalidTransitionError when one is
        running (cancel it first); then nothing is deleted.
        """
        ...

    def clear_finished(self, source: str, *, queue: str | None = None) -> list[JobId]:
        """Delete every job that is over (of `queue`, or of all), with its events and logs.

        Returns the deleted ids, in no particular order.
        """
        ...

    def delete_finished_before(self, source: str, *, before: float, states: Sequence[str],
                               queue: str | None = None, limit: int = 500) -> list[JobId]:  # fmt: skip
        """Delete up to `limit` jobs in `states` that finished before `before` (a time.time()),
        oldest first, with their events and logs; a state that is not final is ignored, so a
        running or queued job is never touched. Returns the deleted ids (retention and
        `acacia delete --finished --older-than` call it until it returns fewer than `limit`).
        """
        ...

    def set_queue_paused(self, name: str, paused: bool) -> None:
        """Pause or resume a queue (created if missing). Claims skip a paused queue's jobs;
        its running jobs go on. Raises InvalidOptionError for a bad queue name."""
        ...

    def set_queue_concurrency(self, name: str, concurrency: int) -> None:
        """How many of a queue's jobs may run at once over every instance (0: no limit but
        the workers'); the queue is created if missing. Raises InvalidOptionError for a bad
        name or a number outside 0..MAX_QUEUE_CONCURRENCY."""
        ...

    def set_queue_rate(self, name: str, rate: Rate | str | None) -> None:
        """At most rate.count starts of a queue's jobs in any rate.seconds window, over every
        instance (None: no rate); the queue is created if missing. list_queues shows it.
        Raises InvalidOptionError for a bad name or rate (core.rates.parse_rate)."""
        ...

    def queue_rates(self) -> dict[str, Rate]:
        """The queues that have a rate, and their rates."""
        ...

    def rate_window(self, scope: str, rate: Rate, now: float | None = None) -> tuple[int, float | None]:
        """For a rate scope ('type:<job type>' or 'queue:<queue>'): (starts still allowed in the
        window ending now, and when none is: the time the next one is). Read only."""
        ...

    def running_of_type(self, job_type: str) -> int:
        """How many jobs of this type are running (claimed) over every instance."""
        ...

    # -- recurring schedules (core/schedules.py) --
    def add_schedule(self, schedule: Schedule) -> Schedule:
        """Store a new schedule (validated; created_at and next_at filled in unless given) and
        return it as stored. Raises InvalidOptionError for a bad field, a taken name ("schedule
        'x' already exists") or more than MAX_SCHEDULES."""
        ...

    def edit_schedule(self, name: str, changes: dict[str, Any]) -> Schedule:
        """Change fields of a schedule (keys of Schedule.to_dict but name and the store-filled
        ones; an `every` replaces a `cron` and the other way round). A new rule, zone or pause
        plans next_at again from now. Raises ScheduleNotFoundError, InvalidOptionError."""
        ...

    def remove_schedule(self, name: str) -> None:
        """Delete a schedule (its jobs stay). Raises ScheduleNotFoundError."""
        ...

    def set_schedule_paused(self, name: str, paused: bool) -> Schedule:
        """Pause (no slot fires) or resume (next_at planned from now: the paused time is not
        caught up). Raises ScheduleNotFoundError."""
        ...

    def list_schedules(self) -> list[Schedule]:
        """Every schedule by name, each with last_state (its last job's state; None once deleted)."""
        ...

    def get_schedule(self, name: str) -> Schedule:
        """One schedule. Raises ScheduleNotFoundError."""
        ...

    def run_schedule_now(self, name: str, source: str, prepare: JobPreparer | None = None) -> JobId:
        """Enqueue one job of the schedule now (scheduled_for = now); next_at is unchanged.
        `prepare` builds the job (JobQueue's checks and defaults). Raises ScheduleNotFoundError."""
        ...

    def fire_due_schedules(self, now: float, source: str, prepare: JobPreparer | None = None) -> list[Fired]:
        """In one transaction: for each schedule not paused with next_at <= now, enqueue what
        core.schedules.plan_catch_up says (one queued job per slot, scheduled_for = the slot)
        and advance next_at. Exactly once over every process: a (schedule, slot) pair already
        enqueued adds nothing."""
        ...

    def next_schedule_at(self) -> float | None:
        """The earliest next_at of the schedules not paused (None: none)."""
        ...

    def rebase_after_clock_step(self, step: float, now: float) -> int:
        """The wall clock went back `step` seconds: scheduled jobs due after now, every-schedules
        and future rate starts come back by `step` (never before now); cron schedules are planned
        from now. Returns how many jobs moved."""
        ...

    def instances(self) -> list[dict[str, Any]]:
        """The registered app instances (id, pid, hostname, started_at, heartbeat_at), as
        WorkerStore.instances: what `get` names a running job's instance by (host:pid), what
        `acacia instances` and the window list. A read; whether each lives is the caller's to ask."""
        ...

    def close(self) -> None:
        """Release this object's connections. Call it once, when no other thread uses the store."""
        ...


@runtime_checkable
class WorkerStore(Protocol):
    """What the engine (Scheduler, Upkeep, JobOutput) calls on the store: instances,
    claims and completions, start marks, recovery, due jobs, progress, logs, upkeep.

    The JobStore's promises hold here too: thread-safe, one committed transaction per
    change (all or nothing; StoreError when the database fails). An instance id names one
    running engine; a job that is `running` always has exactly one owner instance. A
    write made for a run (completion, start mark, progress) applies only while that run
    still owns its job, so a late or abandoned run never overwrites a newer state.
    A broken job never makes these writes fail for the others: a claim, a completion,
    promote_due or recover_instance that meets one sets it aside (`failed`, an error and
    an event saying what was broken) and goes on; a job whose queue has no settings is
    claimed with the defaults (not paused, no limit).
    """

    # -- instances ----------------------------------------------------------------------
    def register_instance(self, instance_id: str) -> None:
        """Record a live instance (pid, hostname, started_at, heartbeat_at); refreshes its
        heartbeat if it is already recorded."""
        ...

    def heartbeat(self, instance_id: str) -> None:
        """Set an instance's heartbeat_at to now (nothing for an unknown id)."""
        ...

    def unregister_instance(self, instance_id: str) -> None:
        """Forget an instance that stopped cleanly; its jobs are left as they are."""
        ...

    def instances(self) -> list[dict[str, Any]]:
        """The recorded instances: dicts of id, pid, hostname, started_at, heartbeat_at."""
        ...

    def owners_of_running_jobs(self) -> list[str]:
        """The distinct instance ids that own at least one running job."""
        ...

    def recover_instance(self, instance_id: str, policy: RecoveryPolicy) -> list[tuple[JobId, str]]:
        """Settle the running jobs of a dead instance, in one transaction; returns (job id, new state).

        Each job gets what core.recovery.decide says, told whether it started: its start
        mark is set or `policy.started` lists (job, attempt). A queued one is free to
        claim again (owner and cancel_requested cleared, run_at now); an interrupted one
        has finished_at and the message as its error; a refunded attempt is given back;
        an interruption is counted. Each gets an event from source 'recovery' carrying
        the decision's message. The instance is unregistered. The caller must know the
        instance is dead: this does not check.
        """
        ...

    # -- the queue ----------------------------------------------------------------------
    def promote_due(self, now: float | None = None) -> list[tuple[JobId, str]]:
        """Scheduled jobs whose run_at <= `now` (default: the clock) → queued, with an event
        from source 'worker' (message 'due'); returns (job id, queue) pairs."""
        ...

    def complete_and_claim(self, completions: Sequence[Completion], instance_id: str, free_slots: int,
                           prefetch: int = 0, no_prefetch_types: Iterable[str] = (),
                           started: Sequence[tuple[JobId, float]] = (),
                           type_limits: TypeLimits | None = None) -> tuple[list[Completion], list[Job]]:  # fmt: skip
        """Write start marks and finished runs, then claim jobs: one transaction (group commit).

        `started`: (job id, time) of runs that began; sets started_at of those still
        owned by `instance_id` that have none. `completions`: finished runs; one applies
        only while its run owns the job (running, owned by `instance_id`, same attempt),
        the first such one per job; the applied ones are returned. An applied completion
        writes its state, result, error, traceback, progress (1.0 when it succeeded),
        run_at (when given), finished_at (when final), gives the attempt back when
        `refund_attempt`, and records an event from source 'worker'.
        Then up to `free_slots` + `prefetch` queued jobs are claimed for `instance_id`,
        best first (priority, highest first, then id), never more from a queue than its
        concurrency leaves room for (running jobs of every instance count) and none from
        a paused queue. A claimed job is `running`, owned, has one more attempt, cleared
        progress and errors, and an event from source 'worker' (message 'attempt N').
        The first `free_slots` get started_at now; the rest are claimed ahead: started_at
        stays empty until `started` reports them, and they stop before the first job
        whose type is in `no_prefetch_types`. Two callers never claim the same job.
        `type_limits` (job type → TypeLimit) and the queues' rates (set_queue_rate) hold
        back the jobs they cover, counted over every instance inside this transaction
        (max_running: the type's running jobs; a rate: the claims of the window), while
        the jobs behind them are still claimed; a job they cover is never claimed ahead.
        """
        ...

    def cancel_requested_among(self, job_ids: Iterable[JobId]) -> list[JobId]:
        """Which of these jobs someone asked to cancel (JobStore.cancel_job on a running job)."""
        ...

    # -- output -------------------------------------------------------------------------
    def mark_stalled(self, job_id: JobId, since: float, stall_after: float) -> bool:
        """Flag a running job stalled since `since` (its last progress or log line) and record the
        event "stalled: no progress or log line for N s", in one transaction. False (nothing
        written) when the job is not running or already flagged in this run."""
        ...

    def clear_stall(self, job_id: JobId, message: str, source: str = "worker") -> bool:
        """Remove the job's stall flag (any left-over row too); when a current stall was cleared
        and `message` is not empty, record it as the job's event (e.g. "resumed"). Returns
        whether a current stall was cleared."""
        ...

    def save_progress(self, updates: Sequence[tuple[JobId, float | None, str]]) -> None:
        """Write (job id, progress 0..1 or None, message) of running jobs; others are ignored. No event."""
        ...

    def append_logs(self, lines: Sequence[tuple[JobId, float, str, str]]) -> None:
        """Append (job id, at, level, message) log lines, in order. The engine bounds how many a job gets."""
        ...

    def add_artifact(self, job_id: JobId, artifact: dict[str, Any]) -> bool:
        """Record one artifact (a dict of path, label, size, kind, at, from core.outputs.describe_artifact)
        at once, committed before it returns. The same path again updates its row. Returns False
        (writing nothing) for an unknown job or one that has MAX_ARTIFACTS_PER_JOB already."""
        ...

    def save_checkpoint(self, job_id: JobId, attempt: int, data: str) -> float | None:
        """Replace a job's checkpoint with `data` (JSON text, already bounded by core.checkpoints),
        committed before it returns: when it was saved, or None (writing nothing) when the job is
        gone or its `attempts` is no longer `attempt` (a late run of an earlier attempt)."""
        ...

    def get_checkpoints(self, job_ids: Iterable[JobId]) -> dict[JobId, dict[str, Any]]:
        """The checkpoints of these jobs (those that have one), as get_checkpoint shapes them: one
        indexed read for a whole claim, so the engine hands each job its checkpoint before it starts."""
        ...

    def settling_pending(self) -> bool:
        """Whether complete_and_claim left dependents of finished jobs to settle (it settles a
        bounded number per transaction): the engine calls it again soon until this is False."""
        ...

    def more_claimable(self) -> bool:
        """Whether the last complete_and_claim on this object saw claimable jobs beyond what it
        was asked for: the engine claims again at once only then (not after every full claim)."""
        ...

    def next_claim_at(self) -> float | None:
        """When a rate that is full after the last complete_and_claim on this object frees its
        next start (time.time()), or None: the engine schedules one wake then."""
        ...

    def take_notes(self) -> list[tuple[JobId, str, str]]:
        """As JobStore.take_notes: what the engine's committed writes changed as a consequence
        (dependents released or cancelled by a completion or a recovery), for announcing."""
        ...

    # -- upkeep -------------------------------------------------------------------------
    def data_version(self) -> int:
        """A cheap 'did anyone else commit?': compared with its last value on the same
        thread, it has changed once another store object, thread or process committed.
        This thread's own commits need not change it. Compare for equality only."""
        ...

    def checkpoint_in_background(self, every: float = 0.05) -> Callable[[], None]:
        """Start the backend's housekeeping off the committing threads while the engine runs
        (SQLite: WAL checkpoints every `every` seconds); returns a function that stops it
        and waits. A backend with nothing to do returns a function doing nothing. Call it
        from the engine's thread before other threads open connections."""
        ...

    def listen_for_wakeups(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake` (thread-safe) soon after another instance makes work claimable, when the
        backend can say so (PostgreSQL: LISTEN/NOTIFY on a connection of its own, and once after
        each reconnection); returns a function that stops listening. A backend without it
        (SQLite: the poll's data_version read sees other processes' commits) returns a no-op."""
        ...
