"""Live views over a watch stream: `enqueue --wait` progress and the `watch` table.

On a terminal they redraw in place (at most ~5 times a second); otherwise, or with
--json, they print one line per event so scripts and logs can follow along.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from typing import Any, TextIO

from ..core.definitions import FINAL_STATES, WAITING_STATES, EventKind, JobState, SortField, state_names
from ..core.errors import InvalidTransitionError
from . import render
from .output import echo

REDRAW_EVERY = 0.2
FINISHED_KEPT = 200
ACTIVE_SHOWN = 500


def apply_event(job: dict[str, Any], event: dict[str, Any]) -> None:
    """Fold one event into a job dict (the shape of Job.to_dict())."""
    kind = event.get("kind")
    if kind in (EventKind.STATE, EventKind.ENQUEUED) and event.get("state"):
        job["state"] = event["state"]
        if event.get("error") is not None:
            job["error"] = event["error"]
        if event["state"] == JobState.RUNNING:
            job.setdefault("started_at", time.time())
            job["cancelling"] = job.get("cancelling", False)
        elif event["state"] in FINAL_STATES:  # a state this CLI does not know (a newer app) is simply shown
            job["finished_at"] = time.time()
    elif kind == EventKind.PROGRESS:
        job["progress"] = event.get("progress")
        job["progress_message"] = event.get("message") or ""
    elif kind == EventKind.LOG:
        job["last_log"] = event.get("message") or ""
    elif kind == EventKind.CANCEL_REQUESTED:
        job["cancelling"] = True
    if event.get("type"):
        job["type"] = event["type"]


class ProgressLine:
    """One job's progress on stderr: a line redrawn in place on a terminal, else state changes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.fancy = render.unicode_ok(stream)
        self._last_state: str | None = None
        self._last_draw = 0.0

    def update(self, job: dict[str, Any], *, force: bool = False) -> None:
        state = job.get("state")
        if not self.tty:
            if state != self._last_state:
                echo(f"job {job['id']}: {state}", err=True)
            self._last_state = state
            return
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_EVERY and state == self._last_state:
            return
        self._last_draw, self._last_state = now, state
        width = shutil.get_terminal_size((100, 24)).columns
        label = "cancelling" if job.get("cancelling") and state == "running" else state
        line = f"job {job['id']} {label:<10} {render.bar(job.get('progress'), 24, fancy=self.fancy)}  "
        line += job.get("progress_message") or job.get("last_log") or ""
        self.stream.write("\r\x1b[K" + render.clip(line, width - 1))
        self.stream.flush()

    def clear(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def wait_for_job(ops: Any, job_id: int, *, as_json: bool, cancel_on_interrupt: bool) -> int:
    """Follow a job to its end: 0 if it succeeded, 1 otherwise, 130 on Ctrl-C."""
    view = ProgressLine(sys.stderr)
    try:
        stream = ops.watch(job=job_id, idle=REDRAW_EVERY)
        job = dict(stream.ack["job"])
        view.update(job, force=True)
        for event in stream:
            if event is not None:
                apply_event(job, event)
            view.update(job)
        final = (stream.end or {}).get("job") if stream.end is not None else job
    except KeyboardInterrupt:
        view.clear()
        return on_interrupt(ops, job_id, cancel_on_interrupt)
    view.clear()
    if final is None:
        echo(f"acacia: job {job_id} was deleted before it finished", err=True)
        return 1
    if as_json:
        echo(json.dumps(final, ensure_ascii=False))
    took = ""
    if final.get("started_at") and final.get("finished_at"):
        took = f" in {render.duration(final['finished_at'] - final['started_at'])}"
    detail = f": {final['error']}" if final.get("error") else ""
    echo(f"acacia: job {job_id} {final['state']}{took}{detail}", err=True)
    return 0 if final["state"] == JobState.SUCCEEDED.value else 1


def on_interrupt(ops: Any, job_id: int, cancel: bool) -> int:
    """Ctrl-C while waiting: detach (the job carries on) or, if asked, cancel the job."""
    if not cancel:
        echo(f"acacia: detached from job {job_id}; it carries on (see `acacia show {job_id}`)", err=True)
        return 130
    try:
        job = ops.cancel(job_id)
    except InvalidTransitionError as exc:
        echo(f"acacia: not cancelled: {exc}", err=True)
        return 130
    what = "cancel requested; it stops shortly" if job["state"] == "running" else job["state"]
    echo(f"acacia: job {job_id}: {what}", err=True)
    return 130


class LiveTable:
    """The jobs a `watch` shows, folded from a snapshot and events; render() is pure."""

    def __init__(self, title: str, jobs: list[dict[str, Any]]) -> None:
        self.title = title
        self.jobs: dict[int, dict[str, Any]] = {job["id"]: dict(job) for job in jobs}

    def apply(self, event: dict[str, Any]) -> None:
        job_id = event.get("job_id")
        if not isinstance(job_id, int):
            return
        if event.get("kind") == EventKind.DELETED:
            self.jobs.pop(job_id, None)
            return
        job = self.jobs.get(job_id)
        if job is None:
            job = self.jobs[job_id] = {"id": job_id, "type": event.get("type") or "?", "queue": event.get("queue"),
                                       "state": event.get("state") or "queued", "progress": None}  # fmt: skip
        apply_event(job, event)
        self._trim()

    def _trim(self) -> None:
        finished = [j for j in self.jobs.values() if j.get("state") in FINAL_STATES]
        if len(finished) > FINISHED_KEPT:
            finished.sort(key=lambda j: j.get("finished_at") or 0)
            for job in finished[: len(finished) - FINISHED_KEPT]:
                del self.jobs[job["id"]]

    def ordered(self) -> list[dict[str, Any]]:
        def key(job: dict[str, Any]) -> tuple:
            state = job.get("state")
            if state == "running":
                return (0, -(job.get("started_at") or 0), job["id"])
            if state in WAITING_STATES:
                return (1, -(job.get("priority") or 0), job["id"])
            return (2, -(job.get("finished_at") or 0), -job["id"])

        return sorted(self.jobs.values(), key=key)

    def render(self, width: int, height: int, *, fancy: bool = True) -> str:
        counts: dict[str, int] = {}
        for job in self.jobs.values():
            counts[job.get("state", "?")] = counts.get(job.get("state", "?"), 0) + 1
        summary = " · ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no jobs"
        header = render.clip(f"{self.title} — {summary} — {time.strftime('%H:%M:%S')} — Ctrl-C to quit", width)
        rows = []
        for job in self.ordered()[: max(0, height - 3)]:
            state = "cancelling" if job.get("cancelling") and job.get("state") == "running" else job.get("state")
            progress = render.bar(job.get("progress"), 20, fancy=fancy) if state in ("running", "cancelling") else ""
            message = job.get("error") or job.get("progress_message") or job.get("last_log") or ""
            rows.append((job["id"], state, job.get("type", "?"), job.get("queue") or "", progress, message))
        body = render.table(("ID", "STATE", "TYPE", "QUEUE", "PROGRESS", "MESSAGE"), rows, max_width=width)
        return header + "\n\n" + body


def _snapshot(ops: Any, queue: str | None) -> list[dict[str, Any]]:
    active = ops.list(state=[JobState.RUNNING.value], queue=queue)["jobs"]
    active += ops.list(state=list(state_names(WAITING_STATES)), queue=queue, limit=ACTIVE_SHOWN)["jobs"]
    recent = ops.list(state=list(state_names(FINAL_STATES)), queue=queue, order_by=SortField.FINISHED_AT.value,
                      descending=True, limit=20)["jobs"]  # fmt: skip
    return active + recent


def watch_jobs(ops: Any, *, job_id: int | None, queue: str | None, as_json: bool) -> int:
    """`acacia watch`: a live table on a terminal, else one line per event. Ends on Ctrl-C (or the job's end)."""
    live = sys.stdout.isatty() and not as_json
    stream = ops.watch(job=job_id, queue=queue, idle=REDRAW_EVERY if live else None)
    try:
        if not live:
            return _print_events(stream, job_id, as_json)
        jobs = [stream.ack["job"]] if job_id is not None else _snapshot(ops, queue)
        title = f"job {job_id}" if job_id is not None else (f"queue {queue}" if queue else "all jobs")
        return _live_table(stream, LiveTable(f"Acacia: {title}", jobs), job_id)
    except KeyboardInterrupt:
        return 0
    finally:
        stream.close()


def _print_events(stream: Any, job_id: int | None, as_json: bool) -> int:
    if job_id is not None:  # where the job stands when the watch starts, then what happens to it
        job = stream.ack["job"]
        first = {"kind": EventKind.SNAPSHOT.value, "job_id": job_id, "queue": job["queue"], "state": job["state"], "job": job}
        echo(json.dumps(first, ensure_ascii=False) if as_json else f"{time.strftime('%H:%M:%S')} job {job_id} is "
             f"{job['state']}")  # fmt: skip
    for event in stream:
        if event is None:
            continue
        if as_json:
            echo(json.dumps(event, ensure_ascii=False))
        else:
            detail = event.get("message") or (f"{event['progress']:.0%}" if event.get("progress") is not None else "")
            echo(f"{time.strftime('%H:%M:%S')} {event.get('kind')} job={event.get('job_id')} "
                  f"queue={event.get('queue')} state={event.get('state')} {detail}".rstrip())  # fmt: skip
    return _end_status(stream, job_id)


def _end_status(stream: Any, job_id: int | None) -> int:
    if job_id is None or stream.end is None:
        return 0
    job = stream.end.get("job")
    return 0 if job and job.get("state") == JobState.SUCCEEDED.value else 1


def _live_table(stream: Any, table: LiveTable, job_id: int | None) -> int:
    out = sys.stdout
    fancy = render.unicode_ok(out)
    out.write("\x1b[?1049h\x1b[?25l")  # the alternate screen, cursor hidden: the shell comes back intact
    last = 0.0
    try:
        for event in stream:
            if event is not None:
                table.apply(event)
            now = time.monotonic()
            if now - last >= REDRAW_EVERY or event is None:
                size = shutil.get_terminal_size((120, 30))
                out.write("\x1b[H\x1b[2J" + table.render(size.columns, size.lines, fancy=fancy))
                out.flush()
                last = now
    finally:
        out.write("\x1b[?25h\x1b[?1049l")
        out.flush()
    if job_id is not None and stream.end is not None and stream.end.get("job"):
        final = stream.end["job"]
        echo(f"job {job_id} {final['state']}" + (f": {final['error']}" if final.get("error") else ""))
    return _end_status(stream, job_id)
