"""A chain's steps (each job after the one before) on the engine without Qt.

The step of a job its dependency's transaction released and claimed is written by the pool
thread that ran it (Scheduler._finish), not handed to the loop thread. What must hold
whichever thread writes: a job starts only once the end of the one before is committed,
each job's events come in order and after its dependency's end, a chain needs no turn of
the loop to go on, and stop() and cancel still work in the middle of one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from itertools import pairwise

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.events import JobEvent
from acacia_gui.core.job import Job
from tests.conftest import wait_until
from tests.unit.test_scheduler import Harness


@pytest.fixture
def harness(tmp_path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


def _chain(harness: Harness, job_type: str, length: int) -> list[int]:
    jobs: list[Job] = []
    for i in range(length):
        jobs.append(Job(job_type, {"i": i}, after=jobs[-1:]))
    return harness.queue.enqueue_many(harness.ctx, jobs)


def _states(harness: Harness, ids: list[int]) -> list[str]:
    return [harness.store.require_job(job_id).state.value for job_id in ids]


def test_each_step_starts_only_after_the_one_before_is_committed_and_events_keep_their_order(harness, tmp_path):
    seen: dict[int, str | None] = {}
    other = sqlite3.connect(tmp_path / "acacia.db", check_same_thread=False)  # another connection: commits only
    lock = threading.Lock()
    ids: list[int] = []

    def step(ctx, job):
        i = job.payload["i"]
        if i:
            with lock:
                row = other.execute("SELECT state FROM jobs WHERE id = ?", (ids[i - 1],)).fetchone()
            seen[i] = row[0] if row else None
        return i

    events: list[JobEvent] = []
    harness.queue.bus.subscribe(events.append)
    harness.registry.register_handler("step", step, isolation="thread")
    harness.start()
    ids += _chain(harness, "step", 40)
    harness.wait(ids[-1], "succeeded")
    other.close()

    assert _states(harness, ids) == ["succeeded"] * len(ids)
    assert seen == {i: "succeeded" for i in range(1, len(ids))}
    order = [(e.job_id, e.state) for e in list(events) if e.kind == "state"]
    for before, job_id in pairwise(ids):
        mine = [state for event_job, state in order if event_job == job_id]
        assert mine == ["queued", "running", "succeeded"], (job_id, mine)
        assert order.index((before, "succeeded")) < order.index((job_id, "queued"))


def test_a_chain_goes_on_without_turns_of_the_loop(harness):
    harness.registry.register_handler("step", lambda ctx, job: job.payload["i"], isolation="thread")
    harness.start()
    ids = _chain(harness, "step", 60)
    # The first job was queued, not released: its end goes through the loop thread, like any job's.
    harness.wait(ids[1], "running", "succeeded")
    wait_until(lambda: harness.store.require_job(ids[-1]).state.value == "succeeded", timeout=20,
               message="the chain's last job")  # fmt: skip
    assert _states(harness, ids) == ["succeeded"] * len(ids)
    harness.loop.run_until(lambda: not harness.scheduler.running_job_ids())


def test_stop_in_the_middle_of_a_chain_leaves_nothing_running_and_start_finishes_it(harness):
    halfway = threading.Event()

    def step(ctx, job):
        if job.payload["i"] == 30:
            halfway.set()
        return job.payload["i"]

    harness.registry.register_handler("step", step, isolation="thread")
    harness.start()
    ids = _chain(harness, "step", 300)
    harness.loop.run_until(halfway.is_set)
    harness.scheduler.stop(Context.background().with_timeout(5))

    states = _states(harness, ids)
    assert "running" not in states
    done = states.count("succeeded")
    assert done >= 30
    assert states[:done] == ["succeeded"] * done  # the ones that ran are the chain's first ones
    assert set(states[done:]) <= {"queued", "waiting"}

    harness.scheduler.start(harness.ctx, harness.registry)
    harness.wait(ids[-1], "succeeded", timeout=30)
    assert _states(harness, ids) == ["succeeded"] * len(ids)


def test_cancelling_a_running_step_cancels_the_rest_of_the_chain(harness):
    blocked = threading.Event()

    def step(ctx, job):
        if job.payload["i"] == 10:
            blocked.set()
            ctx.wait()  # until cancelled
            ctx.check()
        return job.payload["i"]

    harness.registry.register_handler("step", step, isolation="thread")
    harness.start()
    ids = _chain(harness, "step", 20)
    harness.loop.run_until(blocked.is_set)
    harness.queue.cancel(ids[10])
    harness.wait(ids[-1], "cancelled")
    states = _states(harness, ids)
    assert states == ["succeeded"] * 10 + ["cancelled"] * 10
    harness.loop.run_until(lambda: not harness.scheduler.running_job_ids())
