""""Why isn't it running?": one line for a job, from facts the caller gathers.

The socket's `get` (as "why"), `acacia why` and the window's state tooltip all show this
line, so the reasons read the same everywhere. Pure: the facts come in, a sentence goes out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .definitions import FINAL_STATES, JobState
from .job import Job
from .rates import queue_scope, type_scope

MAX_NAMED_DEPENDENCIES = 3  # the rest are counted ("and 5 more")


@dataclass
class Facts:
    """What decides whether a queued job runs now. `workers`: None when no app runs jobs."""

    upstream: Sequence[dict[str, Any]] = ()  # JobStore.get_dependencies(...)["upstream"]
    queue_paused: bool = False
    queue_limit: int = 0  # 0: no limit of its own
    queue_running: int = 0
    handler_loaded: bool = True
    plugin_problems: int = 0
    workers: int | None = None
    busy_workers: int = 0
    ahead_in_queue: int = 0  # queued jobs of its queue that are claimed before it
    type_max_running: int | None = None  # its handler's max_running
    type_running: int = 0
    type_rate: str | None = None  # its handler's rate_limit ("10/min") when that rate is full now
    type_rate_next_at: float | None = None  # when that rate allows the next start
    queue_rate: str | None = None  # its queue's rate ("30/h") when that rate is full now
    queue_rate_next_at: float | None = None


def _dependency(dep: dict[str, Any]) -> str:
    progress = dep.get("progress")
    if dep.get("state") == JobState.RUNNING and progress is not None:
        return f"{dep['id']} (running, {round(progress * 100)} %)"
    return f"{dep['id']} ({dep.get('state')})"


def _when(at: float, now: float) -> str:
    wait = max(0.0, at - now)
    clock = time.strftime("%H:%M" if wait < 20 * 3600 else "%Y-%m-%d %H:%M", time.localtime(at))
    if wait < 60:
        return f"{clock} (in {max(1, round(wait))} s)"
    if wait < 3600:
        return f"{clock} (in {round(wait / 60)} min)"
    if wait < 48 * 3600:
        return f"{clock} (in {wait / 3600:.1f} h)"
    return f"{clock} (in {round(wait / 86400)} days)"


def _in(at: float | None, now: float) -> str:
    wait = max(0.0, (at or now) - now)
    if wait < 90:
        return f"in {max(1, round(wait))} s"
    if wait < 5400:
        return f"in {round(wait / 60)} min"
    return f"in {wait / 3600:.1f} h"


def holding(upstream: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dependencies that still hold a job back (not succeeded; under `finished`, not final)."""
    return [dep for dep in upstream
            if dep.get("state") != JobState.SUCCEEDED
            and not (dep.get("policy") == "finished" and dep.get("state") in FINAL_STATES)]  # fmt: skip


def why_not_running(job: Job, facts: Facts, now: float | None = None) -> str:
    """The one reason `job` is not running now (or what it is doing if it is)."""
    now = time.time() if now is None else now
    state = job.state
    if state is JobState.RUNNING:
        return f"it is running (attempt {job.attempts} of {job.max_attempts})"
    if state in FINAL_STATES:
        return f"it has finished: {state}" + (f" ({job.error})" if job.error and state is not JobState.SUCCEEDED else "")
    if state is JobState.WAITING:
        deps = holding(facts.upstream)
        if not deps:
            return "its dependencies are done; it is about to be queued"
        named = ", ".join(_dependency(dep) for dep in deps[:MAX_NAMED_DEPENDENCIES])
        more = f" and {len(deps) - MAX_NAMED_DEPENDENCIES} more" if len(deps) > MAX_NAMED_DEPENDENCIES else ""
        return f"waiting on dependenc{'y' if len(deps) == 1 else 'ies'} {named}{more}"
    if state is JobState.SCHEDULED:
        return f"scheduled for {_when(job.run_at or now, now)}"
    if not facts.handler_loaded:
        failed = " (a plugin failed to load: see `acacia handlers`)" if facts.plugin_problems else ""
        return f"no handler for type `{job.type}` is loaded{failed}"
    if facts.queue_paused:
        return f"queue `{job.queue}` is paused"
    if facts.queue_limit and facts.queue_running >= facts.queue_limit:
        return f"queue `{job.queue}` is full ({facts.queue_running} of {facts.queue_limit} running)"
    if facts.type_max_running is not None and facts.type_running >= facts.type_max_running:
        return f"type `{job.type}` is at its limit ({facts.type_running} of {facts.type_max_running} running)"
    if facts.type_rate is not None:
        return f"rate limit {facts.type_rate} reached; next start {_in(facts.type_rate_next_at, now)}"
    if facts.queue_rate is not None:
        return f"queue `{job.queue}` rate {facts.queue_rate} reached; next start {_in(facts.queue_rate_next_at, now)}"
    if facts.workers is None:
        return "no app is running to start it (start one: `acacia serve`, or the window)"
    if facts.busy_workers >= facts.workers:
        return f"all {facts.workers} workers are busy"
    if facts.ahead_in_queue:
        return f"{facts.ahead_in_queue} job{'s' if facts.ahead_in_queue != 1 else ''} ahead of it in queue `{job.queue}`"
    return "it is next; a worker is about to start it"


def gather_facts(store: Any, registry: Any, job: Job, *, workers: int | None, busy_workers: int = 0,
                 plugin_problems: int = 0) -> Facts:  # fmt: skip
    """The facts for why_not_running, read from a JobStore and a Registry (a few indexed reads)."""
    facts = Facts(workers=workers, busy_workers=busy_workers, plugin_problems=plugin_problems)
    if job.state is JobState.WAITING:
        facts.upstream = store.get_dependencies(job.id)["upstream"]
    if job.state is JobState.QUEUED:
        facts.handler_loaded = registry.get_handler(job.type) is not None
        try:
            queue = store.get_queue(job.queue)
        except LookupError:
            queue = None
        if queue is not None:
            facts.queue_paused = queue.paused
            facts.queue_limit = queue.concurrency
            facts.queue_running = queue.counts.get(JobState.RUNNING.value, 0)
        facts.ahead_in_queue = store.jobs_ahead(job.id)
        _rate_facts(store, registry, job, facts)
    return facts


def _rate_facts(store: Any, registry: Any, job: Job, facts: Facts) -> None:
    """The handler's max_running and rate_limit, and the queue's rate, when they hold it back."""
    handler = registry.get_handler(job.type)
    if handler is not None and getattr(handler, "max_running", None) is not None:
        facts.type_max_running = handler.max_running
        facts.type_running = store.running_of_type(job.type)
    rate = getattr(handler, "rate_limit", None)
    if rate is not None:
        left, next_at = store.rate_window(type_scope(job.type), rate)
        if left <= 0:
            facts.type_rate, facts.type_rate_next_at = str(rate), next_at
    queue_rate = store.queue_rates().get(job.queue)
    if queue_rate is not None:
        left, next_at = store.rate_window(queue_scope(job.queue), queue_rate)
        if left <= 0:
            facts.queue_rate, facts.queue_rate_next_at = str(queue_rate), next_at
