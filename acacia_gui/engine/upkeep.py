"""The scheduler's periodic upkeep: other processes' work and cancels, due jobs, dead instances.

A collaborator of the Scheduler with its own state (the data version, the next recovery
time); it talks to the scheduler only through what `poll` returns. Runs on the
scheduler's loop thread.

Which instances are dead: on SQLite, the OS file locks of store/instances.py (every instance
runs on this machine). A store shared by machines (PostgreSQL) brings its own `liveness`
(store/postgres/liveness.py: an advisory lock per instance and a heartbeat lease), checked
every SHARED_RECOVERY_EVERY seconds, or at once after `check_instances_soon()` (a NOTIFY that
an instance left).

The start journal on a shared database: it is a file on the dead instance's machine
(engine/start_journal.py), which a survivor elsewhere cannot read. So recovery there counts
every running job of the dead instance as started (unless its journal is on this machine,
i.e. this is the same data dir starting again): attempts never undercount a run that
happened. The price: a job claimed ahead that never reached its handler counts one
interruption it did not have (it is requeued all the same, its attempt refunded; claim-ahead
is only ever used for handlers safe to repeat).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..core.definitions import EventKind, Source
from ..core.events import JobEvent
from ..core.interfaces import WorkerStore
from ..core.job import JobId, JobState
from ..core.recovery import RecoveryPolicy
from ..store.instances import instance_is_alive
from .start_journal import journal_path, read_journal

log = logging.getLogger(__name__)

RECOVERY_EVERY = 2.0  # seconds between checks for dead instances' jobs
SHARED_RECOVERY_EVERY = 0.5  # the same on a shared database: one cheap query (a lock probe per owner)


class Upkeep:
    """Polling (`poll`, every poll interval) and crash recovery."""

    def __init__(self, store: WorkerStore, instances_dir: Path, instance_id: str, publish: Callable[[JobEvent], None],
                 isolation_of: Callable[[object], str] | None = None) -> None:  # fmt: skip
        self.store = store
        self.instances_dir = instances_dir
        self.instance_id = instance_id
        self.registry = None  # set by the scheduler's start()
        self.isolation_of = isolation_of
        self._publish = publish
        self._data_version = -1
        self._next_recovery = 0.0
        self._next_heartbeat = 0.0
        self._liveness = getattr(store, "liveness", None)  # a shared database's (PostgreSQL); None: lock files
        lease = getattr(self._liveness, "lease", None)
        self._recovery_every = RECOVERY_EVERY if self._liveness is None else SHARED_RECOVERY_EVERY
        self._heartbeat_every = RECOVERY_EVERY if lease is None else min(RECOVERY_EVERY, lease / 3)

    def check_instances_soon(self) -> None:
        """Look for dead instances at the next poll (e.g. a NOTIFY said an instance left)."""
        self._next_recovery = 0.0

    def mark_data_version(self) -> None:
        self._data_version = self.store.data_version()

    def recover_dead_instances(self) -> list[tuple[JobId, str]]:
        """Settle jobs left `running` by instances whose process is gone; tidy their start journals."""
        if self._liveness is not None:
            return self._announce(self._recover_shared())
        now = time.time()
        heartbeats = {i["id"]: i["heartbeat_at"] for i in self.store.instances()}
        changed: list[tuple[JobId, str]] = []
        owners = set(self.store.owners_of_running_jobs())
        for owner in owners:
            if owner == self.instance_id or instance_is_alive(self.instances_dir, owner, heartbeats.get(owner), now):
                continue
            log.warning("instance %s is gone; recovering its running jobs", owner)
            policy = RecoveryPolicy.from_registry(self.registry, read_journal(self.instances_dir, owner), self.isolation_of)
            changed.extend(self.store.recover_instance(owner, policy))
            journal_path(self.instances_dir, owner).unlink(missing_ok=True)
        self._remove_stale_journals(owners, heartbeats, now)
        return self._announce(changed)

    def _recover_shared(self) -> list[tuple[JobId, str]]:
        """Recovery on a shared database: owners whose lock is free or whose heartbeat is past the lease."""
        assert self._liveness is not None
        owners = set(self.store.owners_of_running_jobs()) - {self.instance_id}
        self._remove_stale_journals(owners, {}, time.time())  # this machine's own dead instances' journals
        if not owners:
            return []
        changed: list[tuple[JobId, str]] = []
        for owner in sorted(owners - self._liveness.live_among(owners)):
            log.warning("instance %s is gone (its lock is free, or no heartbeat within the %g s lease); "
                        "recovering its running jobs", owner, self._liveness.lease)  # fmt: skip
            journal = journal_path(self.instances_dir, owner)
            started = read_journal(self.instances_dir, owner) if journal.exists() else self._liveness.running_runs(owner)
            policy = RecoveryPolicy.from_registry(self.registry, started, self.isolation_of)
            changed.extend(self.store.recover_instance(owner, policy))
            journal.unlink(missing_ok=True)
        return changed

    def _announce(self, changed: list[tuple[JobId, str]]) -> list[tuple[JobId, str]]:
        for job_id, state in changed:
            self._publish(JobEvent(EventKind.STATE, job_id, None, state, {"source": Source.RECOVERY}))
        for job_id, queue, state in self.store.take_notes():  # dependents the recovered ends released or cancelled
            self._publish(JobEvent(EventKind.STATE, job_id, queue, state, {"source": Source.RECOVERY, "dependency": True}))
        return changed

    def _remove_stale_journals(self, owners: set[str], heartbeats: dict, now: float) -> None:
        """Journals of dead instances that own no running job (they stopped cleanly enough)."""
        try:
            journals = list(self.instances_dir.glob("*.starts"))
        except OSError:
            return
        for path in journals:
            owner = path.name.removesuffix(".starts")
            if owner == self.instance_id or owner in owners:
                continue
            if not instance_is_alive(self.instances_dir, owner, heartbeats.get(owner), now):
                path.unlink(missing_ok=True)

    def poll(self, owned: Iterable[JobId]) -> tuple[bool, list[JobId]]:
        """One poll of the store. Returns (something changed that the scheduler should see,
        owned jobs that another process asked to cancel)."""
        now = time.time()
        version = self.store.data_version()
        changed = version != self._data_version
        if changed:
            self._publish(JobEvent(EventKind.EXTERNAL_CHANGE))  # another process committed: views re-read
        self._data_version = version
        owned = list(owned)
        cancels = self.store.cancel_requested_among(owned) if changed and owned else []
        promoted = self.store.promote_due(now)
        for job_id, queue in promoted:
            self._publish(JobEvent(EventKind.STATE, job_id, queue, JobState.QUEUED.value, {"source": Source.WORKER}))
        recovered = []
        if time.monotonic() >= self._next_heartbeat:
            self._next_heartbeat = time.monotonic() + self._heartbeat_every
            self.store.heartbeat(self.instance_id)
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + self._recovery_every
            recovered = self.recover_dead_instances()
        return bool(changed or promoted or recovered), cancels
