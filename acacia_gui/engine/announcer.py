"""Announcer: what the scheduler tells the event bus, always after the change is committed.

Order matters to listeners (the window, `watch`): a job's `running` comes before its
progress and its outcome, and its last progress before its final state.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.definitions import EventKind, Source
from ..core.events import JobEvent
from ..core.job import Job, JobState
from ..core.runner import Completion
from .output import JobOutput
from .run import Run
from .slots import Slots


class Announcer:
    """Loop thread only."""

    def __init__(self, publish: Callable[[JobEvent], None], output: JobOutput, slots: Slots,
                 on_finished: Callable[[JobEvent], None] | None = None) -> None:  # fmt: skip
        self._publish = publish
        self._output = output
        self._slots = slots
        self._on_finished = on_finished

    def started(self) -> None:
        """Publish `running` for the jobs taken from the buffer or claimed since the last time."""
        for job in self._slots.take_unannounced():
            self._running(job)

    def _running(self, job: Job) -> None:
        self._publish(JobEvent(EventKind.STATE, job.id, job.queue, JobState.RUNNING.value,
                               {"type": job.type, "attempt": job.attempts, "source": Source.WORKER}))  # fmt: skip

    def completed(self, run: Run, completion: Completion) -> None:
        """A run's outcome is written: its last progress, then its state."""
        self._output.forget(completion.job_id)
        if completion.progress is not None or completion.progress_message:
            self._publish(JobEvent(EventKind.PROGRESS, completion.job_id, run.job.queue, completion.state.value,
                                   {"progress": 1.0 if completion.state is JobState.SUCCEEDED else completion.progress,
                                    "message": completion.progress_message}))  # fmt: skip
        data = {"type": run.job.type, "error": completion.error, "attempt": completion.attempt, "source": Source.WORKER}
        event = JobEvent(EventKind.STATE, completion.job_id, run.job.queue, completion.state.value, data)
        self._publish(event)
        if self._on_finished is not None:
            self._on_finished(event)

    def consequences(self, notes: list[tuple[int, str, str]]) -> None:
        """Dependents a committed end released or cancelled (JobStore.take_notes), after that end."""
        for job_id, queue, state in notes:
            self._publish(JobEvent(EventKind.STATE, job_id, queue, state, {"source": Source.WORKER, "dependency": True}))
