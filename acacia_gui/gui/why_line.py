"""WhyLine: "why isn't it running?" for the window, with this app's workers.

The table's State tooltip and the details header show the same sentence as `acacia why`
and the socket's `get` (core.why). It is computed only when asked for — a tooltip shown,
a job's header drawn — never for every row on a refresh: each answer costs a few indexed reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.definitions import JobState
from ..core.job import Job
from ..core.why import gather_facts, why_not_running


class WhyLine:
    """`line(job)`: the reason `job` is not running ("" for a running job: it is)."""

    def __init__(self, store: Any, registry: Any, worker: Any = None,
                 plugin_problems: Callable[[], int] = lambda: 0) -> None:  # fmt: skip
        self._store = store
        self._registry = registry
        self._worker = worker  # qt.worker.PoolWorker (concurrency, running_job_ids); None: no app runs jobs
        self._plugin_problems = plugin_problems

    def line(self, job: Job) -> str:
        if job.state is JobState.RUNNING:
            return ""
        worker = self._worker
        facts = gather_facts(self._store, self._registry, job,
                             workers=worker.concurrency if worker is not None else None,
                             busy_workers=len(worker.running_job_ids()) if worker is not None else 0,
                             plugin_problems=self._plugin_problems())  # fmt: skip
        return why_not_running(job, facts)

    def line_of(self, job_id: int) -> str:
        """The same for a job id (one read of the job first); "" if it is gone."""
        job = self._store.get_job(job_id)
        return self.line(job) if job is not None else ""
