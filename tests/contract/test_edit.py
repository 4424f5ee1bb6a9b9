"""JobStore contract: editing a waiting job (priority, queue, payload, move to the front); JobQueue.edit's checks."""

from __future__ import annotations

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.definitions import MAX_PRIORITY
from acacia_gui.core.errors import InvalidOptionError, InvalidPayloadError, InvalidTransitionError, JobNotFoundError
from acacia_gui.core.events import EventBus
from acacia_gui.core.job import Job, JobState
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.plugins.schema import validate_payload

from .helpers import add, claim, events, run_to


@pytest.mark.parametrize("delay", [0, 60], ids=["queued", "scheduled"])
def test_editing_the_priority_of_a_waiting_job(store, delay):
    (job_id,) = add(store, delay=delay)
    state = store.get_job(job_id).state
    job = store.edit_job(job_id, "cli", priority=7)
    assert (job.priority, job.state, job.queue) == (7, state, "default")
    assert store.get_job(job_id).priority == 7
    assert events(store, job_id)[-1] == ("cli", state.value, state.value, "edited: priority 0 → 7")


def test_moving_a_job_to_another_queue_creates_it_and_claims_follow(store):
    _, second = add(store, 2)
    job = store.edit_job(second, "gui", queue="gpu")
    assert job.queue == "gpu" and store.get_job(second).queue == "gpu"
    assert "gpu" in {q.name for q in store.list_queues()}
    assert store.get_queue("gpu").counts["queued"] == 1
    assert events(store, second)[-1] == ("gui", "queued", "queued", "edited: queue default → gpu")
    store.set_queue_paused("default", True)
    assert [j.id for j in claim(store, 5)] == [second]


def test_editing_the_payload(store):
    (job_id,) = add(store)
    job = store.edit_job(job_id, "socket", payload_text='{"width": 3}')
    assert job.payload == {"width": 3} and store.get_job(job_id).payload == {"width": 3}
    assert events(store, job_id)[-1][3] == "edited: payload edited"
    # None leaves every field as it was
    job = store.edit_job(job_id, "socket")
    assert (job.payload, job.priority, job.queue) == ({"width": 3}, 0, "default")


def test_moving_to_the_front_outranks_every_other_waiting_job_of_its_queue(store):
    low, = add(store, priority=1)
    high, = add(store, priority=50)
    add(store, priority=900, queue="other")  # another queue does not count
    job = store.edit_job(low, "gui", front=True)
    assert job.priority == 51
    assert "moved to the front" in events(store, low)[-1][3]
    store.set_queue_paused("other", True)
    assert [j.id for j in claim(store, 1)] == [low]
    assert store.get_job(high).state is JobState.QUEUED


def test_moving_to_the_front_is_capped_at_the_highest_priority(store):
    add(store, priority=MAX_PRIORITY)
    (job_id,) = add(store)
    assert store.edit_job(job_id, "gui", front=True).priority == MAX_PRIORITY


def test_a_job_alone_in_its_queue_keeps_its_priority_when_moved_to_the_front(store):
    (job_id,) = add(store, priority=3)
    assert store.edit_job(job_id, "gui", front=True).priority == 3


def test_a_running_job_cannot_be_edited(store):
    (job_id,) = add(store)
    claim(store, 1)
    before = store.get_events(job_id)
    with pytest.raises(InvalidTransitionError, match="only queued or scheduled"):
        store.edit_job(job_id, "cli", priority=5)
    assert store.get_job(job_id).priority == 0 and store.get_events(job_id) == before


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED])
def test_a_finished_job_cannot_be_edited(store, state):
    job_id = run_to(store, state)
    with pytest.raises(InvalidTransitionError):
        store.edit_job(job_id, "cli", queue="elsewhere")
    assert store.get_job(job_id).queue != "elsewhere"


def test_editing_an_unknown_job_raises_not_found(store):
    with pytest.raises(JobNotFoundError):
        store.edit_job(404, "cli", priority=1)


# -- JobQueue.edit: validated like enqueue, then announced ---------------------------------

def _queue(store):
    registry = Registry()
    registry.register_handler("shape", print, schema={"type": "object", "properties": {"width": {"type": "integer",
                              "minimum": 1}}, "required": ["width"]})  # fmt: skip
    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
    return JobQueue(store, registry, bus, payload_validator=validate_payload), seen


def test_jobqueue_refuses_a_payload_its_schema_refuses(store):
    queue, _ = _queue(store)
    job_id = queue.enqueue(Context.background(), Job("shape", {"width": 2}))
    with pytest.raises(InvalidPayloadError):
        queue.edit(job_id, payload={"width": -3})
    assert store.get_job(job_id).payload == {"width": 2}
    assert queue.edit(job_id, payload={"width": 9}).payload == {"width": 9}


@pytest.mark.parametrize("fields", [{"priority": MAX_PRIORITY + 1}, {"priority": True}, {"queue": "no spaces"},
                                    {"queue": ""}])  # fmt: skip
def test_jobqueue_refuses_bad_fields_and_changes_nothing(store, fields):
    queue, seen = _queue(store)
    (job_id,) = add(store)
    before = store.get_events(job_id)
    with pytest.raises(InvalidOptionError):
        queue.edit(job_id, **fields)
    assert store.get_events(job_id) == before and not [e for e in seen if e.job_id == job_id]


def test_jobqueue_announces_an_edit_as_a_state_event_that_wakes_the_scheduler(store):
    queue, seen = _queue(store)
    (job_id,) = add(store)
    queue.edit(job_id, queue="gpu", source="gui")
    event = seen[-1]
    assert (event.kind, event.job_id, event.queue, event.state) == ("state", job_id, "gpu", "queued")
    assert event.data["source"] == "gui"
