"""Acacia's shared vocabulary: job states and their groups, event kinds, sources, sort fields, limits.

One module, standard library only, that every layer imports (River's `rivertype`): the
store's CHECK constraints, the socket's checks, the CLI's flags and the window's spin
boxes read the same names here, so a state, a limit or a choice cannot drift between
layers. tests/unit/test_definitions.py fails if one of them is spelled out again elsewhere.

The enums are StrEnums: a member equals its string (`EventKind.STATE == "state"`), hashes
like it, and is written as it to JSON and SQLite, so code comparing plain strings keeps
working and nothing on disk or on the wire changes.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """Where a job is. A closed set: the jobs table's CHECK constraint lists exactly these."""

    WAITING = "waiting"  # for the jobs it runs after (`after`); queued in the transaction that settles the last one
    QUEUED = "queued"
    SCHEDULED = "scheduled"  # waiting for run_at (a delay or a retry backoff)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the app died mid-run and the handler is not safe to repeat

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES

    @property
    def is_active(self) -> bool:
        return not self.is_final


# State groups. Plain strings are members too (`"failed" in FINAL_STATES` is True).
FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED})
ACTIVE_STATES = frozenset(JobState) - FINAL_STATES  # not over yet: waiting, queued, scheduled, running
WAITING_STATES = frozenset({JobState.WAITING, JobState.QUEUED, JobState.SCHEDULED})  # not started yet
PROBLEM_STATES = frozenset({JobState.FAILED, JobState.INTERRUPTED})  # ended with an error the user should see
RETRYABLE_STATES = frozenset({JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED})
CANCELLABLE_STATES = ACTIVE_STATES  # any job not over yet; a running one ends `cancelled` once its handler stops
EDITABLE_STATES = WAITING_STATES  # edit: priority, queue, payload, move to front


def state_names(states: frozenset[JobState]) -> tuple[str, ...]:
    """A group as plain strings in JobState's order: for settings files, argparse and stable output."""
    return tuple(state.value for state in JobState if state in states)


class EventKind(StrEnum):
    """What a JobEvent (and a line of a `watch` stream) announces."""

    ENQUEUED = "enqueued"  # a new job; data: type
    STATE = "state"  # a job changed state; data: source, and type, error, attempt from the worker
    PROGRESS = "progress"  # data: progress (0..1 or None), message
    LOG = "log"  # a handler logged a line; data: level, message
    DELETED = "deleted"  # data: source; a retention batch has no job_id and lists "ids"
    QUEUE = "queue"  # a queue was paused, resumed or given a concurrency; no job_id
    CANCEL_REQUESTED = "cancel_requested"  # a running job was asked to stop; its state follows later
    STALL = "stall"  # a running job was flagged stalled or its flag cleared; data: stalled, since, stall_after, message
    SCHEDULE = "schedule"  # a recurring schedule changed or fired; no job_id; data: name, change, job_ids
    EXTERNAL_CHANGE = "external_change"  # another process committed: views re-read what they show
    SNAPSHOT = "snapshot"  # never published: the first line of `acacia watch --json JOB`, the job as it stood


# What a socket `watch` may ask for: external_change carries no job (each process detects
# it itself) and a snapshot is written by the CLI, never by the app.
WATCHABLE_EVENT_KINDS = frozenset(EventKind) - {EventKind.EXTERNAL_CHANGE, EventKind.SNAPSHOT}


class Source(StrEnum):
    """Who caused a change: written with every row of the events table (its CHECK lists these)."""

    API = "api"  # a script calling JobQueue directly
    CLI = "cli"  # the `acacia` command with no app running
    SOCKET = "socket"  # a request to the running app (the CLI, or any client)
    GUI = "gui"
    WORKER = "worker"
    RECOVERY = "recovery"  # jobs of a dead instance, settled by the next one
    SCHEDULE = "schedule"  # a recurring schedule enqueued the job (core/schedules.py)


class SortField(StrEnum):
    """The job fields a listing may be ordered by (the store's ORDER BY column of the same name).

    Two are not plain columns: `state` sorts by STATE_LIFECYCLE (not alphabetically), and
    `duration` is finished_at - started_at; a running job sorts as longer than any finished
    one (ordered among themselves by started_at), a job never started as having none.
    """

    ID = "id"
    TYPE = "type"
    QUEUE = "queue"
    PRIORITY = "priority"
    STATE = "state"
    ATTEMPTS = "attempts"
    CREATED_AT = "created_at"
    STARTED_AT = "started_at"
    FINISHED_AT = "finished_at"
    PROGRESS = "progress"
    DURATION = "duration"


# The order of `--sort state` ascending (and of the window's State column): what is happening
# now, then what waits, then what ended badly and needs a look, then what ended well.
STATE_LIFECYCLE = (JobState.RUNNING, JobState.QUEUED, JobState.SCHEDULED, JobState.WAITING, JobState.FAILED,
                   JobState.INTERRUPTED, JobState.CANCELLED, JobState.SUCCEEDED)  # fmt: skip
STATE_RANK = {state.value: rank for rank, state in enumerate(STATE_LIFECYCLE)}



class AfterPolicy(StrEnum):
    """When a job with dependencies (`after`) may run."""

    SUCCESS = "success"  # once every dependency succeeded; one that fails or is cancelled cancels it
    FINISHED = "finished"  # once every dependency reached a final state, however it ended


class OnConflict(StrEnum):
    """What an enqueue does when a job that is not final already holds its unique key."""

    RETURN = "return"  # give back the existing job's id; create nothing
    REJECT = "reject"  # refuse, naming the existing job
    REPLACE = "replace"  # update the existing job's payload if it has not started; else as reject


SORT_FIELDS = tuple(field.value for field in SortField)  # plain strings: argparse shows choices with repr()

# -- limits: what every layer accepts (the store, the socket, the CLI's flags, the window) --

# One job's options.
MAX_PRIORITY = 1_000_000  # priorities run from -MAX_PRIORITY to MAX_PRIORITY
MAX_DELAY = 10 * 365 * 86400.0  # seconds
MAX_TIMEOUT = 365 * 86400.0  # seconds
MAX_ATTEMPTS = 1000
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024  # of the payload's JSON text
MAX_DEPENDENCIES = 1000  # jobs one job may run after
MAX_UNIQUE_KEY_CHARS = 200

# A job's outputs (job.add_artifact): bounded so a runaway handler cannot fill the database.
MAX_ARTIFACTS_PER_JOB = 1000  # registered files and folders per job (a path added again is updated, not counted twice)
MAX_ARTIFACT_LABEL = 200  # characters of an artifact's label
MAX_CHECKPOINT_BYTES = 64 * 1024  # of a checkpoint's JSON text (job.save_checkpoint): progress to resume from, not data

# Running.
MAX_WORKERS = 1024  # jobs the app runs at once
MAX_QUEUE_CONCURRENCY = 10_000  # a queue's own limit (0: only the workers')

# Reading.
MAX_LIST_LIMIT = 10_000_000  # jobs in one listing
MAX_OFFSET = 2**62
LOG_LINES_PER_JOB = 10_000  # the store keeps this many of a job's log lines, then one "limit reached" line
DEFAULT_LOG_LIMIT = 1024 * 1024  # bytes of log message text stored per run of a job: its head and tail, a gap marked
MAX_RESULT_BYTES = 1024 * 1024  # of a result's JSON text; a larger result fails the job
LIST_PREVIEW_CHARS = 200  # of a payload or result in a listing (`list`): the rest is left out and flagged
MAX_LOG_LINES = LOG_LINES_PER_JOB  # log lines one request may ask for

# The socket.
DEFAULT_MAX_LINE_BYTES = 1024 * 1024  # the largest request line, unless `--max-line-bytes` says otherwise
