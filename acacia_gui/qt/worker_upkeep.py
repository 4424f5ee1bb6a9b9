"""PoolWorker's periodic upkeep: other processes' work and cancels, due jobs, dead instances, stuck handlers.

A mixin of PoolWorker (it uses the worker's store, bus, runs and timers), split out so
worker.py keeps starting, running and writing jobs. Runs on the main thread.
"""

from __future__ import annotations

import logging
import time

from ..core.events import JobEvent
from ..core.job import JobState
from ..core.runner import abandoned_completion
from ..store.instances import instance_is_alive

log = logging.getLogger("acacia_gui.qt.worker")

RECOVERY_EVERY = 2.0  # seconds between checks for dead instances' jobs


class UpkeepMixin:
    """Polling (`_on_poll`, every poll_interval), crash recovery and the cancel watchdog."""

    def recover_dead_instances(self) -> list[tuple[int, str]]:
        """Settle jobs left `running` by instances whose process is gone."""
        now = time.time()
        heartbeats = {i["id"]: i["heartbeat_at"] for i in self.store.instances()}
        fail_types = self._registry.not_repeatable_types() if self._registry is not None else []
        changed: list[tuple[int, str]] = []
        for owner in self.store.owners_of_running_jobs():
            if owner == self.instance_id or instance_is_alive(self._instances_dir, owner, heartbeats.get(owner), now):
                continue
            log.warning("instance %s is gone; recovering its running jobs", owner)
            changed.extend(self.store.recover_instance(owner, fail_types))
        for job_id, state in changed:
            self._publish(JobEvent("state", job_id, None, state, {"source": "recovery"}))
        if changed:
            self.wake()
        return changed

    def _on_poll(self) -> None:
        """Pick up work from other processes, due delayed jobs, cross-process cancels, stuck handlers.

        A Qt slot: nothing may escape it, and the watchdog runs whatever went wrong."""
        try:
            if self._poll_store():
                self._pump()
        except Exception:  # StoreError, or sqlite3/OS errors it did not wrap: the next tick tries again
            log.exception("polling the queue failed; will try again")
        finally:
            self._watchdog()

    def _poll_store(self) -> bool:
        """One poll of the store; True when something changed that the pump should see."""
        now = time.time()
        version = self.store.data_version()
        changed = version != self._data_version
        if changed:
            self._publish(JobEvent("external_change"))  # another process committed: views re-read
        self._data_version = version
        with self._state_lock:
            owned = [*self._running, *(job.id for job in self._ahead.ready)]
        if changed and owned:
            for job_id in self.store.cancel_requested_among(owned):
                self._request_cancel(job_id)
        promoted = self.store.promote_due(now)
        for job_id, queue in promoted:
            self._publish(JobEvent("state", job_id, queue, JobState.QUEUED.value, {"source": "worker"}))
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + RECOVERY_EVERY
            self.store.heartbeat(self.instance_id)
            self.recover_dead_instances()
        return bool(changed or promoted)

    def _watchdog(self) -> None:
        """Abandon handlers that ignore cancellation (or their timeout) past the grace period."""
        now = time.monotonic()
        for run in self._live_runs():  # a finished run whose write waits (disk full) is not stuck
            if run.ctx.cancelled and run.cancelled_at is None:
                run.cancelled_at = now
            if run.cancelled_at is not None and now - run.cancelled_at > self.cancel_grace:
                run.abandoned = True
                self._abandoned.append(run)
                self._run_queue.lost_task()
                why = (f"the handler ignored cancellation for {self.cancel_grace:g} s; "
                       "its thread was abandoned and the job failed")  # fmt: skip
                log.error("job %s: %s", run.job.id, why)
                self._pool.setMaxThreadCount(self._concurrency + self._abandoned_count())
                self._done.append((run, abandoned_completion(run.job, why)))
                self.wake()
