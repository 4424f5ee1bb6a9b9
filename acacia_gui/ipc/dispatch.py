"""Dispatcher: one `_op_*` method per op of the op table (ops.py), turning a Request into a reply.
Pure Python, no Qt.

The socket server calls it on the main thread for every line; the CLI calls it
in-process when no app runs (source "cli"), so both paths validate exactly alike.
It never raises: an AcaciaError becomes an error reply with its code, anything else is
logged and answered as internal_error, and the server keeps serving.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Protocol

from .. import __version__
from ..core.context import Context
from ..core.durations import parse_duration
from ..core.errors import AcaciaError, InvalidJobError, InvalidOptionError, InvalidTransitionError, JobNotFoundError
from ..core.job import Job, JobState, Preview, validate_queue_name
from ..core.pipeline import dependency_order, link_batch
from ..core.queue import JobQueue
from ..core.rates import parse_rate
from ..core.why import gather_facts, why_not_running
from .ops import OP_TABLE, OPS_BY_NAME
from .outputs import job_output_dir, remove_outputs
from .params import MAX_ID, Params
from .protocol import (
    MAX_LIST_LIMIT,
    MAX_LOG_LINES,
    MAX_OFFSET,
    MAX_QUEUE_CONCURRENCY,
    MAX_WORKERS,
    PROTOCOL_VERSION,
    SORT_FIELDS,
    BadRequest,
    InternalError,
    NotRunningError,
    Request,
    UnknownOpError,
    check_client_version,
    error_object,
    error_reply,
    ok_reply,
    parse_request,
    with_details,
)
from .schedules import ScheduleOps
from .stalls import extend_stall, kill_job, stalled_field
from .watch import EVENT_KINDS, SINCE_CHOICES, JobTail, Watch

log = logging.getLogger(__name__)

STATES = frozenset(s.value for s in JobState)
MAX_BATCH = 100_000
MAX_LOGS_REPLY_BYTES = 512 * 1024  # of log messages in one `logs` reply (a line holds up to 10,000 characters)
LOG_READ_PAGE = 500  # log lines read from the store at a time
MAX_QUEUES_NAMED = 20  # in an unknown queue's message; its details list up to MAX_QUEUES_IN_DETAILS
MAX_QUEUES_IN_DETAILS = 1000


class WorkerControl(Protocol):
    """What the dispatcher needs from the app's worker (absent when no app runs)."""

    @property
    def concurrency(self) -> int: ...

    def set_concurrency(self, concurrency: int) -> None: ...

    def running_job_ids(self) -> set[int]: ...


class DispatchServices(Protocol):
    """What the dispatcher needs from the app (the lead's AppServices fits; so does the CLI's stand-in).

    `worker` is None when no app runs; `plugin_report` has `to_dict()` (or is None).
    """

    config: Any
    worker: WorkerControl | None
    plugin_report: Any

    def raise_window(self) -> None: ...


class Dispatcher(ScheduleOps):
    """Answers requests against a JobQueue. Thread-safe as far as the queue and store are.
    The `schedule_*` ops are ScheduleOps' (ipc/schedules.py)."""

    def __init__(self, queue: JobQueue, services: DispatchServices, *, source: str = "socket") -> None:
        self.queue = queue
        self.services = services
        self.source = source
        # Bound once, so a table entry naming a missing method fails at startup, not on first use.
        self._handlers: dict[str, Callable[[Params], Any]] = {op.name: getattr(self, op.handler) for op in OP_TABLE}

    @property
    def store(self) -> Any:
        return self.queue.store

    # -- entry points ------------------------------------------------------------------
    def handle_line(self, line: bytes) -> dict[str, Any]:
        """A raw line → the reply (watch is the server's business: it uses open_watch)."""
        try:
            request = parse_request(line)
        except BadRequest as bad:
            return error_reply(bad.request_id, bad.error)
        return self.handle(request)

    def handle(self, request: Request) -> dict[str, Any]:
        try:
            return ok_reply(request.id, self.call(request.op, request.params))
        except AcaciaError as exc:
            return error_reply(request.id, exc)
        except Exception:
            log.exception("op %r failed", request.op)
            return error_reply(request.id, InternalError(f"{request.op} failed inside the app; see the app's log"))

    def call(self, op: str, params: dict[str, Any]) -> Any:
        """Run one op and return its result; raises AcaciaError (the in-process path)."""
        handler = self._handlers.get(op)
        if handler is None:
            raise UnknownOpError(f"unknown op {op!r}")
        return handler(_params(op, params))

    # -- ops ---------------------------------------------------------------------------
    def _op_hello(self, p: Params) -> dict[str, Any]:
        version = p.raw("version", None)  # optional: a client that knows no versions learns ours
        p.string("client", None, max_length=200)
        p.done()
        if version is not None:
            check_client_version(version)
        config = self.services.config
        return {
            "app": "acacia",
            "protocol": PROTOCOL_VERSION,
            "version": __version__,
            "pid": os.getpid(),
            "data_dir": str(config.data_dir),
            "socket": config.socket_address,
            "headless": getattr(self.services, "headless", None),
        }

    def _job_from(self, p: Params, *, in_batch: bool = False) -> Job:
        job_type = p.raw("type")
        payload = p.raw("payload", {})
        after = p.raw("after", None)
        if in_batch:
            p.raw("ref", None)  # link_batch reads refs, and the strings of "after"
            after = None
        elif after is not None and (not isinstance(after, list) or any(isinstance(dep, str) for dep in after)):
            raise p.error('"after" must be a list of job ids (refs such as "name" only work between the jobs of a batch)')
        return Job(
            job_type,
            payload,
            queue=p.raw("queue", None),
            priority=p.raw("priority", 0),
            delay=p.raw("delay", 0.0),
            max_attempts=p.raw("max_attempts", None),
            timeout=p.raw("timeout", None),
            cancel_grace=p.raw("cancel_grace", None),
            memory_limit=p.raw("memory_limit", None),
            cpu_time_limit=p.raw("cpu_time_limit", None),
            nice=p.raw("nice", None),
            after=after or (),
            after_policy=p.raw("after_policy", "success"),
            unique_key=p.raw("unique_key", None),
            on_conflict=p.raw("on_conflict", "return"),
        )

    def _op_enqueue(self, p: Params) -> dict[str, Any]:
        allow_unknown = p.boolean("allow_unknown", False)
        validate_only = p.boolean("validate_only", False)
        if "jobs" in p:
            return self._enqueue_batch(p, allow_unknown, validate_only)
        job = self._job_from(p)
        p.done()
        if validate_only:
            self.queue.prepare(job, allow_unknown=allow_unknown)
            return {"valid": 1}
        job_id = self.queue.enqueue(Context.background(), job, source=self.source, allow_unknown=allow_unknown)
        reply = {"id": job_id, "state": job.state.value, "queue": job.queue}
        if job.conflict is not None:
            reply["conflict"] = job.conflict  # "returned" (nothing created) or "replaced" (its payload updated)
        return reply

    def _enqueue_batch(self, p: Params, allow_unknown: bool, validate_only: bool = False) -> dict[str, Any]:
        """All or nothing, in one transaction; with `validate_only`, every job is checked and none is written
        (how a client splitting a batch larger than one request checks all of it before writing any)."""
        entries = p.raw("jobs")
        p.done()
        if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_BATCH:
            raise p.error(f'"jobs" must be a list of 1 to {MAX_BATCH} job objects')
        jobs = []
        for index, entry in enumerate(entries):
            try:
                if not isinstance(entry, dict):
                    raise p.error(f"each job must be an object like {{\"type\": …, \"payload\": …}}, got {entry!r:.60}")
                entry_params = Params("enqueue", entry)
                jobs.append(self._job_from(entry_params, in_batch=True))
                entry_params.done()
            except AcaciaError as exc:
                raise with_details(exc, f"jobs[{index}]: {exc}", index=index) from None
        try:
            link_batch(entries, jobs)
            dependency_order(jobs)
            self._check_dependencies_exist(jobs)
        except AcaciaError as exc:
            raise with_details(exc, str(exc), index=_named_index(str(exc))) from None
        if validate_only:
            self._raise_first_invalid(jobs, allow_unknown)
            return {"valid": len(jobs)}
        try:
            ids = self.queue.enqueue_many(Context.background(), jobs, source=self.source, allow_unknown=allow_unknown)
        except InvalidJobError:
            self._raise_first_invalid(jobs, allow_unknown)
            raise
        return {"ids": ids}

    def _check_dependencies_exist(self, jobs: list[Job]) -> None:
        """Name the first line whose "after" has an id of no job (the store would refuse it without a line)."""
        first_use: dict[int, int] = {}
        for index, job in enumerate(jobs):
            for dep in job.after:
                if isinstance(dep, int) and not isinstance(dep, bool):
                    first_use.setdefault(dep, index)
        ids = sorted(first_use)
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            found.update(job.id for job in self.store.list_jobs(ids=ids[start:start + 500], preview=True))
        missing = [dep for dep in ids if dep not in found]
        if missing:
            dep = min(missing, key=first_use.__getitem__)
            raise InvalidOptionError(f"jobs[{first_use[dep]}]: after: there is no job {dep}")

    def _raise_first_invalid(self, jobs: list[Job], allow_unknown: bool) -> None:
        """Name the job a failed batch tripped on (validation is cheap; only on this error path)."""
        for index, job in enumerate(jobs):
            try:
                self.queue.prepare(job, allow_unknown=allow_unknown)
            except AcaciaError as exc:
                raise with_details(exc, f"jobs[{index}]: {exc}", index=index) from None

    def _job(self, job_id: int) -> Job:
        job = self.store.get_job(job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id}")
        return job

    def _op_get(self, p: Params) -> dict[str, Any]:
        job_id = p.job_id()
        with_events = p.boolean("events", False)
        logs = p.integer("logs", 0, low=0, high=MAX_LOG_LINES)
        p.done()
        job = self._job(job_id)
        result = job.to_dict()
        handler = self.queue.registry.get_handler(result["type"])
        result["isolation"] = handler.runs_in if handler is not None else None
        result["dependencies"] = self.store.get_dependencies(job_id)
        result["why"] = self.why(self._job(job_id))
        result["artifacts"] = self.store.get_artifacts(job_id)
        checkpoint = self.store.get_checkpoint(job_id)
        result["checkpoint"] = None if checkpoint is None else {"data": checkpoint["data"], "saved_at": checkpoint["saved_at"],
                                                                "attempt": checkpoint["attempt"]}  # fmt: skip
        result["output_dir"] = job_output_dir(self.store, job_id)
        result["stalled"] = stalled_field(self.store.get_stall(job_id))
        result["instance_id"] = job.instance_id
        result["instance"] = self._instance_of(job.instance_id)
        if with_events:
            result["events"] = self.store.get_events(job_id)
        if logs:
            result["logs"] = self.store.get_logs(job_id, last=logs)
            result["log_count"] = self.store.count_logs(job_id)
        return result

    def _instance_of(self, instance_id: str | None) -> str | None:
        """"host:pid" of the instance that runs a job, while the instances table knows it (None
        when the job runs nowhere, or its instance stopped and unregistered). `get` only: one read
        of the small instances table, never per job of a listing."""
        if not instance_id:
            return None
        for row in self.store.instances():
            if row["id"] == instance_id:
                return f"{row['hostname']}:{row['pid']}"
        return None

    def _op_logs(self, p: Params) -> dict[str, Any]:
        """A page of a job's log lines after line id `after`, oldest first: at most `limit` lines
        and, past the first line, at most MAX_LOGS_REPLY_BYTES of messages. `more`: ask again
        with `after` = `next`. `state`: the job's, so a reader knows whether more can come."""
        job_id = p.job_id()
        after = p.integer("after", 0, low=0)
        limit = p.integer("limit", MAX_LOG_LINES, low=1, high=MAX_LOG_LINES)
        p.done()
        state = self._job(job_id).state.value
        lines: list[dict[str, Any]] = []
        size, cursor, more = 0, after, False
        while True:
            wanted = min(LOG_READ_PAGE, limit - len(lines) + 1)  # one more than fits: is there more?
            page = self.store.get_logs(job_id, after=cursor, limit=wanted)
            for line in page:
                size += len(line["message"]) + 80
                if len(lines) >= limit or (lines and size > MAX_LOGS_REPLY_BYTES):
                    more = True
                    break
                lines.append(line)
            if more or len(page) < wanted:
                break
            cursor = page[-1]["id"]
        return {"id": job_id, "state": state, "lines": lines, "next": lines[-1]["id"] if lines else after, "more": more}

    def _op_list(self, p: Params) -> dict[str, Any]:
        filters = {
            "state": p.strings("state", choices=STATES),
            "queue": p.strings("queue"),
            "type": p.strings("type"),
            "search": p.string("search", None),
        }
        order_by = p.string("order_by", "id")
        if order_by not in SORT_FIELDS:
            raise p.error(f'cannot order by {order_by!r}; choose one of {", ".join(sorted(SORT_FIELDS))}')
        descending = p.boolean("descending", False)
        limit = p.integer("limit", None, low=0, high=MAX_LIST_LIMIT)
        offset = p.integer("offset", 0, low=0, high=MAX_OFFSET)
        stalled = p.boolean("stalled", False)
        p.done()
        if stalled:  # few jobs: filter by their ids, and count what matched
            filters["ids"] = self.store.stalled_job_ids()
        jobs = self.store.list_jobs(**filters, order_by=order_by, descending=descending, limit=limit, offset=offset,
                                    preview=True)  # fmt: skip
        total = len(self.store.list_jobs(**filters)) if stalled else self.store.count_jobs(**filters)
        return {"jobs": [_listed(job) for job in jobs], "total": total}

    def _one_or_many(self, p: Params) -> list[int] | None:
        """`ids` (a list: acted on per id) → that list; `id` (the single form) → None."""
        if "ids" not in p:
            return None
        if "id" in p:
            raise p.error('give "id" (one job) or "ids" (a list of jobs), not both')
        return p.job_ids()

    def _op_cancel(self, p: Params) -> dict[str, Any]:
        ids = self._one_or_many(p)
        job_id = p.job_id() if ids is None else None
        p.done()
        if ids is not None:
            return _per_id(ids, lambda i: _cancelled(self.queue.cancel(i, source=self.source)))
        return _cancelled(self.queue.cancel(job_id, source=self.source))

    def _op_kill(self, p: Params) -> dict[str, Any]:
        """A hard cancel: a running job's worker process is killed at once (no grace period)."""
        job_id = p.job_id()
        p.done()
        return kill_job(self.queue, job_id, self.source)

    def _op_extend(self, p: Params) -> dict[str, Any]:
        """Postpone a running job's stall detection by another stall_after, clearing its flag."""
        job_id = p.job_id()
        p.done()
        return extend_stall(self.queue, job_id, self.source)

    def _op_retry(self, p: Params) -> dict[str, Any]:
        ids = self._one_or_many(p)
        job_id = p.job_id() if ids is None else None
        with_dependents = p.boolean("with_dependents", False)
        p.done()
        if ids is not None:
            return _per_id(ids, lambda i: self.queue.retry(i, with_dependents=with_dependents, source=self.source).to_dict())
        return self.queue.retry(job_id, with_dependents=with_dependents, source=self.source).to_dict()

    def why(self, job: Job) -> str:
        """The one line saying why `job` is not running (core.why), with this app's workers."""
        worker = self.services.worker
        report = self.services.plugin_report
        facts = gather_facts(self.store, self.queue.registry, job,
                             workers=worker.concurrency if worker is not None else None,
                             busy_workers=len(worker.running_job_ids()) if worker is not None else 0,
                             plugin_problems=len(getattr(report, "problems", ()) or ()))  # fmt: skip
        return why_not_running(job, facts)

    def _op_edit(self, p: Params) -> dict[str, Any]:
        job_id = p.job_id()
        changes: dict[str, Any] = {"priority": p.raw("priority", None), "queue": p.raw("queue", None)}
        if "payload" in p:
            changes["payload"] = p.raw("payload")
        changes["front"] = p.boolean("front", False)
        p.done()
        if changes["priority"] is None and changes["queue"] is None and "payload" not in changes and not changes["front"]:
            raise p.error('give at least one of "priority", "queue", "payload" or "front": true')
        return self.queue.edit(job_id, **changes, source=self.source).to_dict()

    def _op_delete(self, p: Params) -> dict[str, Any]:
        outputs = p.boolean("outputs", False)
        reply = self._delete(p)
        if outputs:
            reply.update(remove_outputs(self.store, reply["ids"]))
        return reply

    def _delete(self, p: Params) -> dict[str, Any]:
        finished = p.boolean("finished", False)
        queue = p.string("queue", None, max_length=64)
        older_than = p.raw("older_than", None)  # "7d"/"12h"/"90m"/"45s", or seconds > 0
        if older_than is not None:
            try:
                older_than = _seconds(older_than)
            except InvalidOptionError as exc:
                raise p.error(f'"older_than": {exc}') from None
        states = p.strings("state", choices=FINAL_STATE_VALUES)
        ids = self._one_or_many(p)
        if ids is None and "id" not in p and not finished:
            raise p.error('give "id" (one job), "ids" (a list of jobs) or "finished": true')
        job_id = p.job_id() if ids is None and "id" in p else None
        p.done()
        if finished and (ids is not None or job_id is not None):
            raise p.error('give "id", "ids" or "finished": true, only one of them')
        if (older_than is not None or states is not None) and not finished:
            raise p.error('"older_than" and "state" only go with "finished": true')
        if finished and (older_than is not None or states is not None):
            deleted = delete_finished_older(self.queue, older_than or 0.0, states or FINAL_STATE_VALUES, queue, self.source)
            return {"deleted": len(deleted), "ids": deleted}
        if finished:
            deleted = self.queue.clear_finished(queue=queue, source=self.source)
            return {"deleted": len(deleted), "ids": deleted}
        if queue is not None:
            raise p.error('"queue" only goes with "finished": true')
        if job_id is not None:
            self.queue.delete([job_id], source=self.source)
            return {"deleted": 1, "ids": [job_id]}
        return self._delete_each(ids or [])

    def _delete_each(self, ids: list[int]) -> dict[str, Any]:
        """Per id; one transaction when every id can go (the usual case), else one per id."""
        unique = list(dict.fromkeys(ids))
        try:
            self.queue.delete(unique, source=self.source)
        except (JobNotFoundError, InvalidTransitionError):
            result = _per_id(unique, lambda i: self.queue.delete([i], source=self.source))
            del result["jobs"]
            return {"deleted": len(result["ids"]), **result}
        return {"deleted": len(unique), "ids": unique, "errors": []}

    def _queue_name(self, p: Params) -> str:
        return p.string("queue", max_length=200)

    def _known_queue(self, p: Params, name: str) -> None:
        """Refuse a queue nobody created (a typo), unless `"create": true` asks for a new one."""
        if p.boolean("create", False):
            return
        validate_queue_name(name)  # a malformed name is invalid_option, whether or not it exists
        known = [q.name for q in self.store.list_queues()]
        if name in known or self.store.count_jobs(queue=[name]):
            return
        shown = ", ".join(known[:MAX_QUEUES_NAMED]) + (f" and {len(known) - MAX_QUEUES_NAMED} more"
                                                        if len(known) > MAX_QUEUES_NAMED else "")  # fmt: skip
        message = (f'no queue named {name!r} (known queues: {shown or "none"}); '
                   'to create a new queue on purpose, send "create": true')  # fmt: skip
        raise with_details(JobNotFoundError(message), message, queue=name, known_queues=known[:MAX_QUEUES_IN_DETAILS])

    def _queue_info(self, name: str) -> dict[str, Any]:
        return self.store.get_queue(name).to_dict()

    def _op_pause(self, p: Params) -> dict[str, Any]:
        name = self._queue_name(p)
        self._known_queue(p, name)
        p.done()
        self.queue.pause(name, source=self.source)
        return self._queue_info(name)

    def _op_resume(self, p: Params) -> dict[str, Any]:
        name = self._queue_name(p)
        self._known_queue(p, name)
        p.done()
        self.queue.resume(name, source=self.source)
        return self._queue_info(name)

    def _op_set_concurrency(self, p: Params) -> dict[str, Any]:
        if "workers" in p:
            workers = p.integer("workers", low=1, high=MAX_WORKERS)
            p.done()
            worker = self._require_worker("setting the number of workers")
            worker.set_concurrency(workers)
            return {"workers": worker.concurrency}
        name = self._queue_name(p)
        has_rate = "rate" in p
        concurrency = (p.integer("concurrency", None, low=0, high=MAX_QUEUE_CONCURRENCY) if has_rate
                       else p.integer("concurrency", low=0, high=MAX_QUEUE_CONCURRENCY))  # fmt: skip
        rate = p.string("rate", None, max_length=50) if has_rate else None
        if rate is not None and rate.strip().lower() == "none":
            rate = None
        if rate is not None:
            try:
                rate = str(parse_rate(rate))
            except InvalidOptionError as exc:
                raise p.error(str(exc)) from None
        self._known_queue(p, name)
        p.done()
        if concurrency is not None:
            self.queue.set_concurrency(name, concurrency, source=self.source)
        if has_rate:
            self.queue.set_rate(name, rate, source=self.source)
        return self._queue_info(name)

    def _require_worker(self, what: str) -> WorkerControl:
        worker = self.services.worker
        if worker is None:
            raise NotRunningError(f"{what} needs a running app. Start it with `acacia` or `acacia serve`.")
        return worker

    def _op_handlers(self, p: Params) -> dict[str, Any]:
        p.done()
        report = self.services.plugin_report
        return {
            "handlers": [handler.describe() for handler in self.queue.registry],
            "plugins": report.to_dict() if report is not None else None,
        }

    def _op_stats(self, p: Params) -> dict[str, Any]:
        p.done()
        now = time.time()
        worker = self.services.worker
        started = getattr(self.services, "started_at", None)
        problem = getattr(worker, "problem", None) if worker is not None else None
        stats: dict[str, Any] = {
            "running_here": len(worker.running_job_ids()) if worker is not None else None,
            "concurrency": worker.concurrency if worker is not None else None,
            "uptime": now - started if isinstance(started, int | float) else None,
            "problem": problem,
        }
        try:
            stats.update(counts=self.store.counts_by_state(), finished_last_minute=self.store.finished_since(now - 60),
                         queues=[q.to_dict() for q in self.store.list_queues()])  # fmt: skip
        except (AcaciaError, sqlite3.DatabaseError) as exc:
            if problem is None:
                raise
            stats.update(counts={}, finished_last_minute=0, queues=[])  # the problem says why (a damaged file)
            log.debug("stats: %s", exc)
        return stats

    def _op_raise_window(self, p: Params) -> dict[str, Any]:
        p.done()
        self.services.raise_window()
        return {"raised": True}

    # -- watch -------------------------------------------------------------------------
    def open_watch(self, params: dict[str, Any]) -> Watch:
        """The server's path: validate a watch request and take its starting snapshot (ack)."""
        return self._watch_from(_params("watch", params))

    def _op_watch(self, p: Params) -> dict[str, Any]:
        """In-process there is no connection to stream on: only the ack."""
        return self._watch_from(p).ack

    def _watch_from(self, p: Params) -> Watch:
        job_id = p.integer("job", None, low=1)
        queue = p.string("queue", None, max_length=200)
        kinds = p.strings("kinds", choices=EVENT_KINDS)
        since = p.raw("since", None)
        since_log = p.integer("since_log", None, low=0)
        p.done()
        if job_id is not None and queue is not None:
            raise p.error('watch either a "job" or a "queue" (or neither, for everything)')
        if job_id is None and (since is not None or since_log is not None):
            raise p.error('"since" and "since_log" go with "job" (a queue or everything is watched from now on)')
        if since is not None and since not in SINCE_CHOICES and (
                isinstance(since, bool) or not isinstance(since, int) or not 0 <= since <= MAX_ID):  # fmt: skip
            raise p.error(f'"since" must be "start", "now" or an event id (a whole number >= 0), got {since!r:.60}')
        watch = Watch(job_id=job_id, queue=queue, kinds=frozenset(kinds) if kinds else EVENT_KINDS)
        watch.ack = {"watching": watch.describe()}
        if queue is not None:
            watch.live_ids.update(job.id for job in self.store.list_jobs(state="running", queue=queue))
        if job_id is not None:
            job = self._job(job_id)
            watch.ack["job"] = job.to_dict()
            watch.ended = job.state.is_final
            watch.tail = self._job_tail(watch, "start" if since is None else since, since_log)
        return watch

    def _job_tail(self, watch: Watch, since: str | int, since_log: int | None) -> JobTail:
        """Where a job watch's replay starts: after event `since` ("start": 0; "now": the job's
        last event) and after log line `since_log` (default: the first line with "start",
        else the last one). The ack says where (`since`), so a client can resume later."""
        job = watch.ack["job"]
        last_event = self.store.get_events_page(job["id"], last=1)
        horizon = last_event[0] if last_event else None
        if since == "start":
            event_after = 0
        elif since == "now":
            event_after = horizon["id"] if horizon else 0
        else:
            event_after = int(since)
        if since_log is None and since != "start":
            last_line = self.store.get_logs(job["id"], last=1)
            since_log = last_line[0]["id"] if last_line else 0
        watch.ack["since"] = {"event_id": event_after, "log_id": since_log or 0}
        return JobTail(self.store, job, watch.kinds, event_after=event_after, log_after=since_log or 0, horizon=horizon)

    def watch_end(self, watch: Watch, reason: str) -> dict[str, Any]:
        """The `end` message of a job watch: why, plus the job as it finished (None if deleted)."""
        info: dict[str, Any] = {"reason": reason}
        if watch.job_id is not None:
            job = self.store.get_job(watch.job_id)
            info["job"] = job.to_dict() if job is not None else None
        return info


def _listed(job: Job) -> dict[str, Any]:
    """A job as `list` carries it: a long payload or result is the start of its JSON text,
    with `payload_truncated`/`result_truncated` true (`get` has the whole value)."""
    data = job.to_dict()
    data["payload_truncated"] = isinstance(job.payload, Preview)
    data["result_truncated"] = isinstance(job.result, Preview)
    return data


def _cancelled(job: Job) -> dict[str, Any]:
    return {**job.to_dict(), "cancel_requested": job.cancel_requested}


def _per_id(ids: list[int], act: Callable[[int], Any]) -> dict[str, Any]:
    """Act on each id (repeats once, in order): {"ids": acted on, "jobs": what `act` returned
    for each of them, "errors": [{"id": …, "error": {"code", "message"}} for the others]}."""
    done: list[int] = []
    jobs: list[Any] = []
    errors: list[dict[str, Any]] = []
    for job_id in dict.fromkeys(ids):
        try:
            jobs.append(act(job_id))
        except AcaciaError as exc:
            errors.append({"id": job_id, "error": error_object(exc)})
            continue
        done.append(job_id)
    return {"ids": done, "jobs": jobs, "errors": errors}


def _params(op: str, params: dict[str, Any]) -> Params:
    p = Params(op, params)
    p.refuse_unknown(OPS_BY_NAME[op].params)
    return p


def _named_index(message: str) -> int | None:
    """The batch line a pipeline error names first ("jobs[3]: …"), for the error's details."""
    match = re.search(r"jobs\[(\d+)\]", message)
    return int(match.group(1)) if match else None


class StandaloneServices:
    """DispatchServices without an app: no worker, no window (the CLI's no-app mode, tests)."""

    def __init__(self, config: Any, plugin_report: Any = None) -> None:
        self.config = config
        self.worker: WorkerControl | None = None
        self.plugin_report = plugin_report
        self.headless = None

    def raise_window(self) -> None:
        """Nothing to raise without an app."""


FINAL_STATE_VALUES = frozenset(s.value for s in JobState if s.is_final)


def _seconds(value: Any) -> float:
    """`older_than`: a duration string ("7d", "12h", "90m", "45s") or a number of seconds > 0."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e12:
        raise InvalidOptionError(f'give a duration like "7d" or a number of seconds > 0, got {value!r}'[:200])
    return float(value)


def delete_finished_older(queue: JobQueue, older_than: float, states: Any, queue_name: str | None,
                          source: str) -> list[int]:  # fmt: skip
    """`delete --finished --older-than`: batch after batch (each its own small transactions and
    one `deleted` event), until a batch comes back short."""
    before, deleted = time.time() - older_than, []
    while True:
        ids = queue.delete_finished_before(before, sorted(states), queue=queue_name, source=source)
        deleted += ids
        if len(ids) < DELETE_BATCH:
            return deleted


DELETE_BATCH = 500
