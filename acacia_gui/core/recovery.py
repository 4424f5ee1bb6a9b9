"""What happens to a job that was running when its app instance died (kill -9, power loss, a crash).

An app crash is not the job's failure: a job whose handler is safe to repeat goes back
to the queue without using up an attempt, up to its handler's `max_interruptions`; then
it ends `interrupted`, so a job that keeps taking the app down cannot loop forever. A
handler that declared `on_interrupt="fail"` ends `interrupted` at once, for the user to
decide. A job that was claimed but never handed to its handler simply goes back.
Every backend calls `decide` so they all settle alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .job import JobId, JobState
from .limits import DEFAULT_MAX_INTERRUPTIONS


@dataclass(frozen=True)
class RecoveryPolicy:
    """What recovery needs to know about handlers and about the dead instance's last moments."""

    not_repeatable: frozenset[str] = frozenset()  # job types with on_interrupt="fail"
    thread_isolated: frozenset[str] = frozenset()  # job types whose handler ran inside the app
    max_interruptions: Mapping[str, int] = field(default_factory=dict)  # by job type
    started: frozenset[tuple[JobId, int]] = frozenset()  # (job, attempt) the start journal lists

    @classmethod
    def from_registry(cls, registry, started: frozenset[tuple[JobId, int]] = frozenset(),
                      isolation_of=None) -> RecoveryPolicy:  # fmt: skip
        handlers = list(registry) if registry is not None else []
        isolation = isolation_of or (lambda h: h.isolation)
        return cls(
            not_repeatable=frozenset(h.job_type for h in handlers if h.on_interrupt == "fail"),
            thread_isolated=frozenset(h.job_type for h in handlers if isolation(h) == "thread"),
            max_interruptions={h.job_type: h.max_interruptions for h in handlers},
            started=started,
        )


@dataclass(frozen=True)
class Recovery:
    """The decision for one job: its new state, the message, and what to count."""

    state: JobState
    message: str
    refund_attempt: bool  # the attempt the dead run took is given back
    interrupted: bool  # counts as one more interruption


def decide(job_id: JobId, job_type: str, attempt: int, started: bool, interruptions: int,
           policy: RecoveryPolicy, running_beside: Sequence[JobId] = ()) -> Recovery:  # fmt: skip
    """`started`: the row's start mark was written, or the start journal lists (job, attempt)."""
    if not started and (job_id, attempt) not in policy.started:
        return Recovery(JobState.QUEUED, "requeued: it was claimed but had not started when the app stopped", True, False)
    suspects = ""
    if job_type in policy.thread_isolated and running_beside:
        others = ", ".join(str(i) for i in sorted(running_beside)[:10]) + (" …" if len(running_beside) > 10 else "")
        suspects = (f"; it ran on a thread inside the app (isolation='thread') beside job(s) {others}, "
                    "so any of them may have brought the app down")  # fmt: skip
    if job_type in policy.not_repeatable:
        return Recovery(JobState.INTERRUPTED, "the app stopped while this job ran; its handler is not safe to repeat "
                        f"(on_interrupt='fail'), so it was not requeued{suspects}", False, True)  # fmt: skip
    count = interruptions + 1
    limit = policy.max_interruptions.get(job_type, DEFAULT_MAX_INTERRUPTIONS)
    if count >= limit:
        return Recovery(JobState.INTERRUPTED, f"the app stopped while this job ran, {count} time(s) in all "
                        f"(max_interruptions={limit}); it is not requeued again{suspects}", True, True)  # fmt: skip
    return Recovery(JobState.QUEUED, f"requeued: the app stopped while this job ran (interruption {count} of at most "
                    f"{limit}); this does not use up an attempt{suspects}", True, True)  # fmt: skip
