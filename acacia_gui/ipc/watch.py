"""What one `watch` request wants to see, and when it is over.

Pure Python so the server (which owns the sockets) and the tests share one rule: a job
watch sees that job's events and ends when the job reaches a final state or is deleted;
a queue watch sees that queue's events (and the log lines of its jobs); a watch of everything sees all, until the
client goes away.

A job watch reads what it sends from the store (JobTail): the job's history after
`since`, then each change as it is committed, every state change and log line with its
id (docs/protocol.md, "Replay (`since`)"). Queue and all watches forward bus events (Watch.accept).
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
    tail: JobTail | None = None  # a job watch: its replay, then what the store records next

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


REPLAY_PAGE = 200  # events or log lines read from the store per query while a job watch catches up
SINCE_CHOICES = ("start", "now")

# What JobTail.next_batch says after its batch.
MORE = "more"  # more may be waiting in the store: call again (once the client has read what was sent)
IDLE = "idle"  # caught up: call again when the bus says something about the job was committed
END = "end"  # the batch ends with the job's final state (or the job was already over): end the watch


class JobTail:
    """A job watch's way through the store: what was recorded after `since`, then what is recorded next.

    Every state change is a row of the events table and every log line a row of job_logs,
    each with an id that only grows. The tail keeps the last id sent of each and reads
    the rows after them, so the replay and the live part of a watch are one path: the
    server calls `next_batch()` when the watch starts, again while the client keeps up,
    and again whenever the bus says a change of the job was committed (every change is
    committed before it is announced, so nothing is missed and nothing is sent twice).
    Rows of both tables are merged by time; a log line never comes after the final state
    (the worker writes a run's lines before its outcome).

    Progress is not recorded row by row: the job's current progress is sent once the
    replay is done, and live progress (and cancel_requested) events are `hold()`-en until
    the tail has caught up, keeping only the latest progress. Pure Python, one thread
    (the server's); `store` is a JobStore.
    """

    def __init__(self, store: Any, job: dict[str, Any], kinds: frozenset[str], *, event_after: int,
                 log_after: int, horizon: dict[str, Any] | None, page: int = REPLAY_PAGE) -> None:  # fmt: skip
        """`job`: the job as the watch's ack shows it; `horizon`: its last event when the watch started."""
        self.store = store
        self.job_id: int = job["id"]
        self.queue: str | None = job.get("queue")
        self.job_type: str | None = job.get("type")
        self.kinds = kinds
        self.event_after = event_after
        self.log_after = log_after
        self.horizon = horizon["id"] if horizon else 0
        final_now = (horizon["new_state"] if horizon else job.get("state")) in FINAL_STATES
        self.final_at_start = final_now
        self._end_when_caught_up = final_now and event_after >= self.horizon
        self._held: list[dict[str, Any]] = []
        self._page = page
        if job.get("progress") is not None or job.get("progress_message"):
            self.hold({"kind": str(EventKind.PROGRESS), "job_id": self.job_id, "queue": self.queue,
                       "state": job.get("state"), "progress": job.get("progress"),
                       "message": job.get("progress_message") or ""})  # fmt: skip

    def hold(self, event: dict[str, Any]) -> None:
        """A live event that is not a row (progress, cancel_requested): sent once the tail has caught up."""
        kind = event.get("kind")
        if kind not in self.kinds:
            return
        if kind == EventKind.PROGRESS:
            self._held = [e for e in self._held if e.get("kind") != EventKind.PROGRESS]
        elif any(e.get("kind") == kind for e in self._held):
            return
        self._held.append(event)

    def next_batch(self) -> tuple[list[dict[str, Any]], str]:
        """The next events to send, in order, and MORE, IDLE or END (see those)."""
        rows = self.store.get_events_page(self.job_id, after=self.event_after, limit=self._page)
        lines = self.store.get_logs(self.job_id, after=self.log_after, limit=self._page) if EventKind.LOG in self.kinds else []
        if not rows and not lines:
            held, self._held = self._held, []
            return held, END if self._end_when_caught_up else IDLE
        rows_full, lines_full = len(rows) == self._page, len(lines) == self._page
        out: list[dict[str, Any]] = []
        i = j = 0
        while i < len(rows) or j < len(lines):
            row = rows[i] if i < len(rows) else None
            line = lines[j] if j < len(lines) else None
            if row is not None and self._ends(row):
                if line is not None:  # every line of the run comes before its outcome
                    out.append(self._take_line(line))
                    j += 1
                    continue
                if lines_full:
                    break  # more lines may follow: read them first
                out += self._held
                self._held = []
                out.append(self._take_row(row, ending=True))
                return [e for e in out if e is not None], END
            if (row is None and rows_full) or (line is None and lines_full):
                break  # the other page may hold rows older than what is left here
            if line is None or (row is not None and row["at"] <= line["at"]):
                out.append(self._take_row(row))
                i += 1
            else:
                out.append(self._take_line(line))
                j += 1
        return [e for e in out if e is not None], MORE

    @property
    def finished_before_watch(self) -> bool:
        """The watch ended on the final state the job already had when it started (for the end's reason)."""
        return self.final_at_start and self.event_after <= self.horizon

    def _ends(self, row: dict[str, Any]) -> bool:
        """The final state the watch ends on: the one it started at, or any later one (never an older one)."""
        return row["new_state"] in FINAL_STATES and row["id"] >= self.horizon

    def _take_row(self, row: dict[str, Any], *, ending: bool = False) -> dict[str, Any] | None:
        self.event_after = row["id"]
        if row["id"] > self.horizon:
            self._end_when_caught_up = False  # the job moved on after the watch started
        kind = EventKind.ENQUEUED if row["old_state"] is None else EventKind.STATE
        if kind not in self.kinds and not ending:
            return None
        event = {"kind": str(kind), "id": row["id"], "job_id": self.job_id, "queue": self.queue,
                 "state": row["new_state"], "old_state": row["old_state"], "source": row["source"],
                 "message": row["message"], "at": row["at"], "type": self.job_type}  # fmt: skip
        if ending:
            job = self.store.get_job(self.job_id)
            if job is not None and job.state == row["new_state"]:
                event.update(error=job.error, attempt=job.attempts)
        return event

    def _take_line(self, line: dict[str, Any]) -> dict[str, Any]:
        self.log_after = line["id"]
        return {"kind": str(EventKind.LOG), "log_id": line["id"], "job_id": self.job_id, "queue": self.queue,
                "state": None, "at": line["at"], "level": line["level"], "message": line["message"]}  # fmt: skip
