"""What one `watch` request wants to see, and when it is over.

Pure Python so the server (which owns the sockets) and the tests share one rule: a job
watch sees that job's events and ends when the job reaches a final state or is deleted;
a queue watch sees that queue's events (and the log lines of its jobs); a watch of everything sees all, until the
client goes away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.definitions import FINAL_STATES, WATCHABLE_EVENT_KINDS, EventKind

EVENT_KINDS = WATCHABLE_EVENT_KINDS  # the op handler's name for them


def _ends_job(event: dict[str, Any]) -> bool:
    """The last event a job watch sees: the job was deleted or reached a final state."""
    kind = event.get("kind")
    return kind == EventKind.DELETED or (kind == EventKind.STATE and event.get("state") in FINAL_STATES)


@dataclass
class Watch:
    """A validated watch. `accept(event)` → (send it?, end the watch after it?)."""

    job_id: int | None = None
    queue: str | None = None
    kinds: frozenset[str] = EVENT_KINDS
    ack: dict[str, Any] = field(default_factory=dict)
    ended: bool = False  # already over when it started (the job was final)
    live_ids: set[int] = field(default_factory=set)  # a queue watch: its jobs that are not final yet

    def describe(self) -> dict[str, Any]:
        if self.job_id is not None:
            return {"job": self.job_id}
        if self.queue is not None:
            return {"queue": self.queue}
        return {"all": True}

    def accept(self, event: dict[str, Any]) -> tuple[bool, bool]:
        if self.job_id is not None:
            if event.get("job_id") != self.job_id:
                return False, False
            end = _ends_job(event)
            return (event.get("kind") in self.kinds or end), end
        if self.queue is not None and not self._in_queue(event):
            return False, False
        return event.get("kind") in self.kinds, False

    def _in_queue(self, event: dict[str, Any]) -> bool:
        """Some events (log lines) carry no queue: follow the queue's live jobs by id instead."""
        job_id = event.get("job_id")
        queue = event.get("queue")
        if queue is None:
            return job_id in self.live_ids
        if queue != self.queue:
            return False
        if job_id is not None:
            if _ends_job(event):
                self.live_ids.discard(job_id)  # the worker flushes a job's log lines before its final state
            else:
                self.live_ids.add(job_id)
        return True
