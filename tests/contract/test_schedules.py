"""JobStore contract: recurring schedules (add, edit, remove, pause, resume, run now, fire exactly once,
scheduled_for, a backward clock step), through the Protocol and JobQueue only."""

from __future__ import annotations

import threading
import time

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.definitions import EventKind, Source
from acacia_gui.core.errors import InvalidJobError, InvalidOptionError, ScheduleNotFoundError
from acacia_gui.core.job import Job, JobState
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.core.schedules import Schedule

from .helpers import ME, claim, finish

HOUR = 3600.0


def queue_over(store, registry: Registry | None = None) -> JobQueue:
    return JobQueue(store, registry or Registry())


def test_add_list_get_and_the_stored_fields(store):
    before = time.time()
    added = store.add_schedule(Schedule("tick", "demo.x", {"a": 1}, every=600))
    assert added.created_at >= before and added.next_at == pytest.approx(added.created_at + 600)
    assert added.last_slot is None and added.last_job_id is None and added.last_state is None and added.last_dropped == 0
    store.add_schedule(Schedule("nightly", "demo.y", cron="0 3 * * *", timezone="Europe/Paris", paused=True))
    assert [s.name for s in store.list_schedules()] == ["nightly", "tick"]
    nightly = store.get_schedule("nightly")
    assert nightly.paused and nightly.next_at is None and nightly.cron == "0 3 * * *" and nightly.timezone == "Europe/Paris"
    assert store.get_schedule("tick").payload == {"a": 1}


def test_a_taken_name_and_an_unknown_one(store):
    store.add_schedule(Schedule("tick", "demo.x", every=60))
    with pytest.raises(InvalidOptionError, match="schedule 'tick' already exists"):
        store.add_schedule(Schedule("tick", "demo.x", every=60))
    for call in (lambda: store.get_schedule("nope"), lambda: store.remove_schedule("nope"),
                 lambda: store.set_schedule_paused("nope", True), lambda: store.edit_schedule("nope", {"priority": 1}),
                 lambda: store.run_schedule_now("nope", Source.API)):  # fmt: skip
        with pytest.raises(ScheduleNotFoundError, match="there is no schedule 'nope'"):
            call()
    assert issubclass(ScheduleNotFoundError, LookupError)


def test_edit_changes_fields_and_replans_only_for_a_new_rule(store):
    added = store.add_schedule(Schedule("tick", "demo.x", every=600))
    edited = store.edit_schedule("tick", {"priority": 7, "payload": [1], "catch_up": "all", "max_backlog": 3})
    assert (edited.priority, edited.payload, edited.catch_up, edited.max_backlog) == (7, [1], "all", 3)
    assert edited.next_at == added.next_at
    to_cron = store.edit_schedule("tick", {"cron": "*/5 * * * *", "timezone": "UTC"})
    assert to_cron.every is None and to_cron.cron == "*/5 * * * *" and to_cron.next_at % 300 == 0
    back = store.edit_schedule("tick", {"every": "2m"})
    assert back.cron is None and back.every == 120.0
    for changes, message in (({"name": "x"}, "name: cannot be changed"), ({"next_at": 1.0}, "next_at: is set by Acacia"),
                             ({"every": 0}, "every: must be from 1 s"), ({"colour": 1}, "colour: is not a schedule field"),
                             ({"priority": "high"}, "priority: must be a whole number")):  # fmt: skip
        with pytest.raises(InvalidOptionError, match=message):
            store.edit_schedule("tick", changes)
    assert store.get_schedule("tick") == back  # a refused edit changes nothing


def test_pause_and_resume_replan_from_now_without_catch_up(store):
    store.add_schedule(Schedule("tick", "demo.x", every=HOUR, created_at=time.time() - 10 * HOUR))
    paused = store.set_schedule_paused("tick", True)
    assert paused.paused and paused.next_at is None and store.next_schedule_at() is None
    assert store.fire_due_schedules(time.time() + 5 * HOUR, Source.SCHEDULE) == []
    resumed = store.set_schedule_paused("tick", False)
    assert not resumed.paused and time.time() < resumed.next_at <= time.time() + HOUR
    assert store.next_schedule_at() == resumed.next_at


def test_remove_keeps_the_jobs_it_enqueued(store):
    store.add_schedule(Schedule("tick", "demo.x", every=60))
    job_id = store.run_schedule_now("tick", Source.GUI)
    store.remove_schedule("tick")
    assert store.list_schedules() == [] and store.get_job(job_id) is not None


def test_run_now_enqueues_one_job_for_now_and_leaves_next_at(store):
    added = store.add_schedule(Schedule("tick", "demo.x", {"k": 1}, every=HOUR, queue="q", priority=4))
    before = time.time()
    job_id = store.run_schedule_now("tick", Source.GUI)
    job = store.get_job(job_id)
    assert (job.type, job.payload, job.queue, job.priority, job.state) == ("demo.x", {"k": 1}, "q", 4, JobState.QUEUED)
    assert before <= job.scheduled_for <= time.time()
    after = store.get_schedule("tick")
    assert after.next_at == added.next_at and after.last_job_id == job_id and after.last_state == "queued"
    assert "run now" in store.get_events(job_id)[0]["message"]


def test_a_due_slot_fires_one_job_with_scheduled_for_and_an_event(store):
    created = time.time() - 30
    store.add_schedule(Schedule("tick", "demo.x", {"n": 1}, every=60, created_at=created, next_at=created + 20))
    (fired,) = store.fire_due_schedules(time.time(), Source.SCHEDULE)
    assert fired.name == "tick" and len(fired.job_ids) == 1 and (fired.dropped, fired.missed) == (0, 0)
    job = store.get_job(fired.job_ids[0])
    assert job.scheduled_for == created + 20 and job.payload == {"n": 1} and job.state == JobState.QUEUED
    assert job.to_dict()["scheduled_for"] == created + 20
    (event,) = store.get_events(job.id)
    assert event["source"] == "schedule" and event["message"].startswith("enqueued by schedule 'tick' for ")
    schedule = store.get_schedule("tick")
    assert schedule.next_at == created + 80 and schedule.last_slot == created + 20 and schedule.last_job_id == job.id
    assert store.fire_due_schedules(time.time(), Source.SCHEDULE) == []  # nothing due any more


@pytest.mark.parametrize(("mode", "jobs", "dropped"), [("once", 1, 9), ("all", 4, 6), ("skip", 0, 10)])
def test_a_long_off_period_applies_catch_up(store, mode, jobs, dropped):
    now = time.time()
    created = now - 10.5 * HOUR
    store.add_schedule(Schedule("hourly", "demo.x", every=HOUR, catch_up=mode, max_backlog=4, created_at=created,
                                next_at=created + HOUR))  # fmt: skip
    (fired,) = store.fire_due_schedules(now, Source.SCHEDULE)
    assert (len(fired.job_ids), fired.dropped, fired.missed) == (jobs, dropped, 10)
    slots = [store.get_job(i).scheduled_for for i in fired.job_ids]
    assert slots == [created + k * HOUR for k in range(11 - jobs, 11)]
    schedule = store.get_schedule("hourly")
    assert schedule.last_dropped == dropped and schedule.next_at == created + 11 * HOUR


def test_a_deleted_last_job_leaves_the_schedule_working(store):
    store.add_schedule(Schedule("tick", "demo.x", every=60))
    job_id = store.run_schedule_now("tick", Source.API)
    store.cancel_job(job_id, Source.API)
    assert store.get_schedule("tick").last_state == "cancelled"
    store.delete_jobs([job_id], Source.API)
    schedule = store.get_schedule("tick")
    assert schedule.last_job_id == job_id and schedule.last_state is None
    assert len(store.fire_due_schedules(schedule.next_at + 1, Source.SCHEDULE)[0].job_ids) == 1


def test_a_slot_fires_once_however_many_handles_fire_it(open_store):
    """Eight store objects (eight connections, as eight processes would be) fire the same due
    schedule at once: one job per slot. (tests/integration/test_schedules_engine.py: real processes.)"""
    first = open_store()
    created = time.time() - 100
    first.add_schedule(Schedule("tick", "demo.x", every=10, catch_up="all", created_at=created, next_at=created + 10))
    stores = [open_store() for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: list[list] = []

    def fire(store) -> None:
        barrier.wait()
        for _ in range(5):
            results.append(store.fire_due_schedules(time.time(), Source.SCHEDULE))

    threads = [threading.Thread(target=fire, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = first.list_jobs()
    slots = [job.scheduled_for for job in jobs]
    assert len(slots) == len(set(slots)) == 10
    assert sorted(slots) == [created + 10 * k for k in range(1, 11)]


def test_jobs_of_a_schedule_get_the_handler_s_defaults(store):
    registry = Registry()
    registry.register_handler("demo.x", lambda ctx, job: None, queue="slow", max_attempts=3, timeout=30)
    queue = queue_over(store, registry)
    queue.add_schedule(Schedule("tick", "demo.x", every=60, created_at=time.time() - 70, next_at=time.time() - 10))
    by_hand = store.get_job(queue.enqueue(Context.background(), Job("demo.x")))
    (fired,) = queue.fire_due_schedules(time.time())
    scheduled = store.get_job(fired.job_ids[0])
    for field in ("queue", "max_attempts", "timeout", "priority"):
        assert getattr(scheduled, field) == getattr(by_hand, field), field
    assert scheduled.queue == "slow" and fired.queue == "slow"


def test_the_queue_announces_changes_and_fired_jobs(store):
    queue = queue_over(store)
    seen = []
    queue.bus.subscribe(seen.append)
    queue.add_schedule(Schedule("tick", "demo.x", every=60, created_at=time.time() - 70, next_at=time.time() - 10))
    queue.fire_due_schedules(time.time())
    queue.pause_schedule("tick")
    queue.resume_schedule("tick")
    job_id = queue.run_schedule_now("tick", source=Source.GUI)
    queue.edit_schedule("tick", {"priority": 2})
    queue.remove_schedule("tick")
    changes = [e.data["change"] for e in seen if e.kind == EventKind.SCHEDULE]
    assert changes == ["added", "fired", "paused", "resumed", "run_now", "edited", "removed"]
    enqueued = [e.job_id for e in seen if e.kind == EventKind.ENQUEUED]
    assert len(enqueued) == 2 and enqueued[-1] == job_id
    fired = next(e for e in seen if e.kind == EventKind.SCHEDULE and e.data["change"] == "fired")
    assert fired.data["name"] == "tick" and fired.data["job_ids"] == enqueued[:1]


def test_a_payload_the_handler_schema_refuses_is_refused_at_add(store):
    registry = Registry()
    registry.register_handler("demo.x", lambda ctx, job: None, schema={"type": "object", "required": ["n"]})
    from acacia_gui.plugins.schema import validate_payload

    queue = JobQueue(store, registry, payload_validator=validate_payload)
    with pytest.raises(InvalidJobError):  # the schema validator's own error
        queue.add_schedule(Schedule("tick", "demo.x", {"m": 1}, every=60))
    assert store.list_schedules() == []
    queue.add_schedule(Schedule("tick", "demo.x", {"n": 1}, every=60))
    with pytest.raises(InvalidJobError):
        queue.edit_schedule("tick", {"payload": {"m": 1}})
    assert queue.edit_schedule("tick", {"payload": {"n": 2}}).payload == {"n": 2}
    assert queue.edit_schedule("tick", {"type": "other.type"}).type == "other.type"  # no handler: not checked


def test_a_backward_clock_step_brings_delayed_jobs_and_schedules_back(store):
    queue = queue_over(store)
    now = time.time()
    delayed = queue.enqueue(Context.background(), Job("demo.x", delay=HOUR + 5))  # as if enqueued before a 1 h step back
    soon = queue.enqueue(Context.background(), Job("demo.x", delay=30))
    store.add_schedule(Schedule("every", "demo.x", every=600, created_at=now - 100))
    store.add_schedule(Schedule("cron", "demo.x", cron="*/5 * * * *", timezone="UTC"))
    every_before = store.get_schedule("every")
    moved = queue.rebase_after_clock_step(HOUR, now)
    assert moved == 2
    assert store.get_job(delayed).run_at == pytest.approx(now + 5, abs=1)
    assert store.get_job(soon).run_at == pytest.approx(now, abs=1)  # never before now
    every = store.get_schedule("every")
    assert every.next_at == max(now, every_before.next_at - HOUR) and every.created_at == every_before.created_at - HOUR
    assert now < store.get_schedule("cron").next_at <= now + 300


def test_a_clock_step_is_applied_once_per_machine_however_many_instances_see_it(store, open_store):
    """Every instance on a machine sees its clock step back and asks for the rebase: the first
    moves the times, the others (the same step, seconds later) move nothing. A step of another
    size, or the same size a minute later, is a new step."""
    sibling = open_store()  # another instance on this machine: its own connection to the database
    now = time.time()
    delayed = queue_over(store).enqueue(Context.background(), Job("demo.x", delay=3 * HOUR))
    assert store.rebase_after_clock_step(HOUR, now) == 1
    assert sibling.rebase_after_clock_step(HOUR + 0.5, now + 1) == 0  # the same step, seen a second later
    assert store.get_job(delayed).run_at == pytest.approx(now + 2 * HOUR, abs=1)  # moved once, not twice
    assert sibling.rebase_after_clock_step(10, now + 2) == 1  # another step
    assert store.get_job(delayed).run_at == pytest.approx(now + 2 * HOUR - 10, abs=1)
    assert store.rebase_after_clock_step(10, now + 70) == 1  # the same size, but a minute later: a new one
    assert store.get_job(delayed).run_at == pytest.approx(now + 2 * HOUR - 20, abs=1)


def test_a_big_backlog_is_max_backlog_missed_slots_and_the_one_on_time(store):
    now = time.time()
    created = now - 1000.2
    store.add_schedule(Schedule("fast", "demo.x", every=1, catch_up="all", max_backlog=500, created_at=created,
                                next_at=created + 1))  # fmt: skip
    (fired,) = store.fire_due_schedules(now, Source.SCHEDULE)
    assert (len(fired.job_ids), fired.missed, fired.dropped) == (501, 999, 499)
    # Jobs enqueued by a schedule are claimed and finished like any other.
    (job,) = claim(store, 1, ME)
    assert job.scheduled_for is not None
    finish(store, job)
