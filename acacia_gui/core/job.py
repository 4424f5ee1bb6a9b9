"""Job and the validation every job passes before it is written.

JobState and the limits checked here live in definitions (one place for every layer);
JobState is imported here too, so `from acacia_gui.core.job import JobState` keeps working.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .checkpoints import CheckpointSink, LocalCheckpoints, encode_checkpoint
from .context import Context
from .definitions import MAX_ARTIFACTS_PER_JOB, MAX_ATTEMPTS, MAX_DELAY, MAX_PAYLOAD_BYTES, MAX_PRIORITY, MAX_TIMEOUT, JobState
from .errors import InvalidJobTypeError, InvalidOptionError, InvalidPayloadError
from .outputs import ArtifactSink, LocalOutputs, describe_artifact, ensure_output_dir

JobId = int

JOB_TYPE_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-/]{0,199}$")
QUEUE_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")

ProgressReporter = Callable[["Job", float, str], None]


class Preview(str):
    """A listing's stand-in for a payload or result too long to carry (`list_jobs(preview=True)`):
    the first LIST_PREVIEW_CHARS characters of its JSON text. `get_job` has the whole value."""

    __slots__ = ()


class Job:
    """One unit of work: a type naming its handler and a JSON payload.

    The seed's Type()/Payload()/SetPayload()/Context()/SetContext() are the `type`,
    `payload` and `context` attributes. Everything else is bookkeeping filled in by the
    store. `context` is never persisted.
    """

    __slots__ = (
        "_artifacts_added",
        "_checkpoints",
        "_outputs",
        "_reporter",
        "after",
        "after_policy",
        "attempts",
        "cancel_grace",
        "cancel_requested",
        "checkpoint",
        "conflict",
        "context",
        "cpu_time_limit",
        "created_at",
        "delay",
        "error",
        "finished_at",
        "id",
        "instance_id",
        "interruptions",
        "max_attempts",
        "memory_limit",
        "nice",
        "on_conflict",
        "payload",
        "priority",
        "progress",
        "progress_message",
        "queue",
        "ran_on",
        "result",
        "run_at",
        "scheduled_for",
        "started_at",
        "state",
        "timeout",
        "traceback",
        "type",
        "unique_key",
    )  # fmt: skip

    def __init__(
        self,
        type: str,
        payload: Any = None,
        *,
        queue: str | None = None,
        priority: int = 0,
        delay: float = 0.0,
        max_attempts: int | None = None,
        timeout: float | None = None,
        context: Context | None = None,
        cancel_grace: float | None = None,
        memory_limit: int | str | None = None,
        cpu_time_limit: float | None = None,
        nice: int | None = None,
        after: Sequence[JobId | Job] = (),
        after_policy: str = "success",
        unique_key: str | None = None,
        on_conflict: str = "return",
    ) -> None:
        self.id: JobId | None = None
        self.type = type
        self.payload = payload
        self.context = context
        self.queue = queue
        self.priority = priority
        self.state = JobState.QUEUED
        self.attempts = 0
        self.max_attempts = max_attempts
        self.run_at: float | None = None
        self.timeout = timeout
        self.progress: float | None = None
        self.progress_message = ""
        self.result: Any = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.created_at: float | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.instance_id: str | None = None
        self.cancel_requested = False
        self.interruptions = 0  # runs cut short by a crash of the app (they do not use up attempts)
        # Limits for this job; None: the handler's. memory_limit is bytes once validated.
        self.cancel_grace = cancel_grace
        self.memory_limit = memory_limit
        self.cpu_time_limit = cpu_time_limit
        self.nice = nice
        self._reporter: ProgressReporter | None = None
        self._outputs: ArtifactSink | None = None  # set while the job runs (attach_outputs)
        self._artifacts_added = 0
        self._checkpoints: CheckpointSink | None = None  # set while the job runs (attach_checkpoints)
        self.checkpoint: Any = None  # the last value job.save_checkpoint saved, by this attempt or an earlier one
        self.delay = delay  # seconds from enqueue to run_at; only read at enqueue
        # Runs once these jobs (ids, or Jobs enqueued in the same batch) are settled, under
        # after_policy (core.definitions.AfterPolicy). Only read at enqueue; the store keeps the edges.
        self.after: list[JobId | Job] = list(after)
        self.after_policy = after_policy
        self.unique_key = unique_key  # no two jobs that are not final share one (the database enforces it)
        self.on_conflict = on_conflict  # core.definitions.OnConflict; only read at enqueue
        self.conflict: str | None = None  # set by enqueue: "returned" or "replaced" when the key was taken
        self.scheduled_for: float | None = None  # the slot's time, for a job a recurring schedule enqueued
        self.ran_on: str | None = None  # "host:pid" of the instance that last claimed it (kept once it ends)

    def report_progress(self, fraction: float | None, message: str = "") -> None:
        """Tell watchers how far the job is (0..1, or None when unknown). Cheap; call often.

        Thread-safe. Calls are coalesced: watchers see at most ~10 updates a second.
        """
        if fraction is not None:
            try:
                fraction = float(fraction)
            except (TypeError, ValueError):
                raise InvalidOptionError(f"progress must be a number between 0 and 1, got {fraction!r}") from None
            if math.isnan(fraction):
                fraction = None
            else:
                fraction = min(1.0, max(0.0, fraction))
        self.progress = fraction
        self.progress_message = str(message)[:500]
        reporter = self._reporter
        if reporter is not None:
            reporter(self, fraction, self.progress_message)

    def attach_reporter(self, reporter: ProgressReporter | None) -> None:
        self._reporter = reporter

    def attach_outputs(self, sink: ArtifactSink | None) -> None:
        """Where this run's output folder is and where its artifacts are recorded (the engine sets it)."""
        self._outputs = sink
        self._artifacts_added = 0

    @property
    def output_sink(self) -> ArtifactSink | None:
        """The engine's: where this run's artifacts go (None when the job is not running here)."""
        return self._outputs

    @property
    def output_dir(self) -> Path:
        """This job's private output folder (`<data dir>/outputs/<id>/`, 0700), made on first use.

        Outside Acacia (a handler called directly) it is a folder in a fresh temporary directory."""
        return ensure_output_dir(self._sink().root, self.id or 0)

    def add_artifact(self, path: str | os.PathLike[str], label: str | None = None) -> dict[str, Any]:
        """Register a file or folder this job produced (shown in its Outputs). Recorded at once,
        so it survives a crash of the app; its size is measured now. Returns what was recorded.
        Raises InvalidOptionError for a path that does not exist, a label over 200 characters,
        or more than MAX_ARTIFACTS_PER_JOB. Outside Acacia: kept in `job.output_sink.artifacts`."""
        sink = self._sink()
        if self._artifacts_added >= MAX_ARTIFACTS_PER_JOB:
            raise InvalidOptionError(f"a job can register at most {MAX_ARTIFACTS_PER_JOB:,} artifacts")
        artifact = describe_artifact(path, label)
        sink.add(self.id or 0, artifact)
        self._artifacts_added += 1
        return artifact

    def attach_checkpoints(self, sink: CheckpointSink | None) -> None:
        """Where this run's checkpoints are saved (the engine sets it, and `checkpoint` before the run)."""
        self._checkpoints = sink

    def save_checkpoint(self, data: Any) -> None:
        """Save how far this job got (a small JSON value, at most MAX_CHECKPOINT_BYTES): a later
        attempt of it (a retry, a recovery after a crash of the app, a manual retry) finds it in
        `job.checkpoint`. Returns once it is committed, so it costs a disk write: save every few
        seconds or every N items, not per item. Raises InvalidPayloadError when it is not JSON or
        too big. Outside Acacia: kept in memory (`job.checkpoint`)."""
        text = encode_checkpoint(data)
        if self._checkpoints is None:  # not run by Acacia's engine
            self._checkpoints = LocalCheckpoints()
        self._checkpoints.save(self.id or 0, self.attempts, text)
        self.checkpoint = json.loads(text)  # what a later attempt will see, not the caller's object

    def _sink(self) -> ArtifactSink:
        if self._outputs is None:  # not run by Acacia's engine
            self._outputs = LocalOutputs()
        return self._outputs

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (the shape the socket and `--json` output use)."""
        return {
            "id": self.id,
            "type": self.type,
            "queue": self.queue,
            "priority": self.priority,
            "state": str(self.state),
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_at": self.run_at,
            "timeout": self.timeout,
            "progress": self.progress,
            "progress_message": self.progress_message,
            "payload": self.payload,
            "result": self.result,
            "error": self.error,
            "traceback": self.traceback,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "interruptions": self.interruptions,
            "cancel_grace": self.cancel_grace,
            "memory_limit": self.memory_limit,
            "cpu_time_limit": self.cpu_time_limit,
            "nice": self.nice,
            "unique_key": self.unique_key,
            "scheduled_for": self.scheduled_for,
            "ran_on": self.ran_on,
        }

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.type} {self.state}>"


# -- validation -----------------------------------------------------------------------

def validate_job_type(job_type: object) -> str:
    if not isinstance(job_type, str) or not job_type.strip():
        raise InvalidJobTypeError("job type must be a non-empty string such as 'image.resize'")
    if not JOB_TYPE_PATTERN.fullmatch(job_type):
        raise InvalidJobTypeError(
            f"invalid job type {job_type!r}: use letters, digits and . _ - : / (at most 200 characters)"
        )
    return job_type


def validate_queue_name(queue: object) -> str:
    if not isinstance(queue, str) or not QUEUE_PATTERN.fullmatch(queue):
        raise InvalidOptionError(f"invalid queue name {queue!r}: use letters, digits and . _ - (at most 64 characters)")
    return queue


# One encoder for every payload and result: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def encode_payload(payload: Any) -> str:
    """Payload → JSON text, refusing what JSON cannot carry (NaN, sets, objects, bytes)."""
    try:
        text = _ENCODER.encode(payload)
    except ValueError as exc:
        raise InvalidPayloadError(f"payload is not valid JSON: {exc} (NaN and Infinity are not allowed)") from None
    except (TypeError, RecursionError) as exc:
        raise InvalidPayloadError(f"payload is not JSON-serialisable: {exc}") from None
    if len(text) * 4 <= MAX_PAYLOAD_BYTES:  # small for sure: only the lone-surrogate check is left
        size = 0
    else:
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidPayloadError(f"payload is larger than {MAX_PAYLOAD_BYTES // (1024 * 1024)} MiB")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidPayloadError("payload contains a lone surrogate and is not valid UTF-8") from None
    return text


def encode_result(result: Any) -> str | None:
    """Handler return value → JSON text; raises InvalidPayloadError when it is not JSON."""
    if result is None:
        return None
    try:
        return _ENCODER.encode(result)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidPayloadError(f"handler returned a value that is not JSON ({type(result).__name__}): {exc}") from None


def _shown(value: object) -> str:
    """A value for an error message, cut short (a 5,000-digit number is not a message)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(name: str, value: object, low: float, high: float, *, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidOptionError(f"{name} must be a number, got {value!r}")
    if (isinstance(value, float) and math.isnan(value)) or value < low or value > high:  # ints of any size compare exactly
        raise InvalidOptionError(f"{name} must be between {low:g} and {high:g}, got {_shown(value)}")
    return float(value)


def validate_priority(priority: object) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidOptionError(f"priority must be a whole number, got {priority!r}")
    if abs(priority) > MAX_PRIORITY:
        raise InvalidOptionError(f"priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}, got {_shown(priority)}")
    return priority


def validate_delay(delay: object) -> float:
    return _number("delay", delay, 0, MAX_DELAY, allow_none=False) or 0.0


def validate_timeout(timeout: object) -> float | None:
    value = _number("timeout", timeout, 0, MAX_TIMEOUT, allow_none=True)
    if value is not None and value <= 0:
        raise InvalidOptionError(f"timeout must be more than 0 seconds, got {timeout!r}")
    return value


def validate_max_attempts(max_attempts: object) -> int:
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= MAX_ATTEMPTS:
        raise InvalidOptionError(f"max_attempts must be a whole number from 1 to {MAX_ATTEMPTS}, got {max_attempts!r}")
    return max_attempts
