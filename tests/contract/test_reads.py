"""JobStore contract: inserting jobs and reading them back (get, list, count, filters, orders, queues)."""

from __future__ import annotations

import time

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.definitions import SORT_FIELDS, STATE_RANK, SortField
from acacia_gui.core.errors import InvalidOptionError, JobNotFoundError
from acacia_gui.core.job import Job, JobState
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry

from .helpers import add, claim, events, finish, run_to


def test_insert_fills_in_ids_states_times_and_defaults(store):
    before = time.time()
    now_job, later_job = Job("t", {"a": 1}), Job("t", [1, 2], queue="media", delay=60, max_attempts=3)
    ids = store.insert_jobs([now_job, later_job], "cli")
    assert ids == [now_job.id, later_job.id] and ids[0] < ids[1]
    assert (now_job.state, now_job.queue, now_job.max_attempts) == (JobState.QUEUED, "default", 1)
    assert later_job.state is JobState.SCHEDULED and later_job.run_at == pytest.approx(later_job.created_at + 60)
    assert before <= now_job.created_at <= now_job.run_at <= time.time()
    stored = store.get_job(later_job.id)
    assert (stored.state, stored.queue, stored.payload) == ("scheduled", "media", [1, 2])
    assert (stored.max_attempts, stored.attempts) == (3, 0)
    assert stored.run_at == pytest.approx(later_job.run_at) and stored.created_at == pytest.approx(later_job.created_at)
    assert events(store, now_job.id) == [("cli", None, "queued", "enqueued")]
    assert events(store, later_job.id) == [("cli", None, "scheduled", "enqueued")]


def test_insert_uses_the_payload_texts_given(store):
    (job_id,) = store.insert_jobs([Job("t", {"ignored": True})], "api", ['{"from": "text"}'])
    assert store.get_job(job_id).payload == {"from": "text"}


def test_ids_increase_and_are_never_reused(store):
    first, newest = add(store, 2)
    store.delete_jobs([newest], "gui")
    (again,) = add(store)
    assert first < newest < again


def test_jobs_read_back_have_every_attribute_set(store):
    options = dict(queue="media", priority=-7, max_attempts=2, timeout=30.0, cancel_grace=2.5, memory_limit="64MiB",
                   cpu_time_limit=9.0, nice=5)  # fmt: skip
    (job_id,) = JobQueue(store, Registry()).enqueue_many(Context.background(), [Job("t", {"x": [1, "é", None]}, **options)])
    job = store.get_job(job_id)
    values = {name: getattr(job, name) for name in Job.__slots__}  # a slot left unset raises AttributeError
    assert values["payload"] == {"x": [1, "é", None]} and values["context"] is None and values["cancel_requested"] is False
    assert (job.queue, job.priority, job.max_attempts, job.timeout, job.cancel_grace, job.cpu_time_limit, job.nice) == (
        "media", -7, 2, 30.0, 2.5, 9.0, 5)  # fmt: skip
    assert job.memory_limit == 64 * 1024 * 1024 and job.state is JobState.QUEUED
    assert (job.result, job.error, job.traceback, job.progress, job.started_at, job.finished_at, job.instance_id) == (None,) * 7
    assert (job.progress_message, job.interruptions) == ("", 0)
    assert job.to_dict()["max_attempts"] == 2
    job.report_progress(0.5)  # no reporter attached: a no-op, not an error


def test_a_job_read_is_a_copy(store):
    (job_id,) = add(store)
    job = store.get_job(job_id)
    job.state, job.payload["i"] = JobState.FAILED, 99
    assert store.get_job(job_id).state is JobState.QUEUED and store.get_job(job_id).payload == {"i": 0}


def test_an_unknown_job_is_none_or_not_found(store):
    assert store.get_job(12345) is None
    with pytest.raises(JobNotFoundError):
        store.require_job(12345)
    assert store.get_events(12345) == [] and store.get_logs(12345) == [] and store.count_logs(12345) == 0


def test_filters_take_one_value_or_several(store):
    a = add(store, 2, "image.resize", queue="media")
    b = add(store, 1, "backup.run")
    cancelled = run_to(store, JobState.CANCELLED, job_type="backup.run", queue="media")
    assert [j.id for j in store.list_jobs(type="image.resize")] == a
    assert [j.id for j in store.list_jobs(queue="media", type=["backup.run", "nothing"])] == [cancelled]
    assert [j.id for j in store.list_jobs(state=["queued"], queue=["default", "media"])] == a + b
    assert [j.id for j in store.list_jobs(state=JobState.CANCELLED)] == [cancelled]
    assert [j.id for j in store.list_jobs(state=[], queue=None)] == [*a, *b, cancelled]
    assert store.count_jobs(queue=["media", "default"]) == 4 and store.count_jobs(queue="media", state="queued") == 2
    assert store.count_jobs(type="nothing") == 0 and store.list_jobs(type="nothing") == []


def test_ids_filter_and_paging(store):
    ids = add(store, 5)
    assert [j.id for j in store.list_jobs(ids=[ids[3], ids[1], 999])] == [ids[1], ids[3]]
    assert store.list_jobs(ids=[]) == []
    assert [j.id for j in store.list_jobs(limit=2, offset=1)] == ids[1:3]
    assert [j.id for j in store.list_jobs(descending=True, limit=2)] == [ids[4], ids[3]]
    assert [j.id for j in store.list_jobs(limit=10, offset=4)] == ids[4:]


def test_search_is_literal_and_looks_in_type_payload_error_message_and_id(store):
    queue = JobQueue(store, Registry())
    ctx = Context.background()
    cat = queue.enqueue(ctx, Job("image.resize", {"path": "/photos/cat_1.png"}, queue="media", priority=5))
    home = queue.enqueue(ctx, Job("backup.run", {"path": "C:\\home"}))
    percent = queue.enqueue(ctx, Job("image.resize", {"path": "/photos/100%.png"}))
    failed = run_to(store, JobState.FAILED, job_type="mail_send")  # error "boom"
    (running,) = [j for j in claim(store, 1) if j.id == cat]
    store.save_progress([(running.id, 0.5, "Halfway through")])
    assert [j.id for j in store.list_jobs(search="100%")] == [percent]
    assert [j.id for j in store.list_jobs(search="cat_")] == [cat]
    assert [j.id for j in store.list_jobs(search="at_1")] == [cat] and store.list_jobs(search="c_t") == []
    assert [j.id for j in store.list_jobs(search="l_s")] == [failed]  # `_` is plain in the type too
    assert [j.id for j in store.list_jobs(search="home")] == [home]
    assert [j.id for j in store.list_jobs(search="C:\\")] == [home]  # the backslash is a plain character
    assert [j.id for j in store.list_jobs(search="BACKUP")] == [home]  # ASCII letters match either case
    assert [j.id for j in store.list_jobs(search="boom")] == [failed]
    assert [j.id for j in store.list_jobs(search="halfway")] == [cat]
    assert [j.id for j in store.list_jobs(search=str(percent))] == [percent]
    assert store.count_jobs(search="photos") == 2 and store.count_jobs(search="image", state="running") == 1


def test_search_by_id_matches_the_whole_id(store):
    ids = store.insert_jobs([Job("t") for _ in range(12)], "api")  # payloads `null`: no digits anywhere else
    assert [j.id for j in store.list_jobs(search=str(ids[0]))] == [ids[0]]  # not 10, 11, 12
    assert store.count_jobs(search=str(ids[-1])) == 1


def _varied_jobs(store):
    """Jobs that differ (and tie) in every sort field, NULLs included."""
    for job_type, queue, priority in [("b", "q2", 1), ("B", "q1", 3), ("a", "q2", 3), ("a", "q1", -2), ("_z", "Q3", 0)]:
        add(store, 1, job_type, queue=queue, priority=priority)
    run_to(store, JobState.SUCCEEDED, job_type="a", queue="q2")
    run_to(store, JobState.FAILED, job_type="b", queue="q1")
    run_to(store, JobState.CANCELLED, job_type="B", queue="q2")
    (again,) = claim(store, 1)
    finish(store, again, JobState.QUEUED)  # back to the queue, its attempt used: the next run is attempt 2
    first, ahead = claim(store, 1, prefetch=1)  # `ahead` has no start mark
    assert (first.id, first.attempts, ahead.started_at) == (again.id, 2, None)
    store.save_progress([(first.id, 0.25, "")])
    return store.list_jobs()


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("field", SORT_FIELDS)
def test_every_sort_field_orders_by_code_point_with_nulls_first_and_ties_by_id(store, field, descending):
    """Except two: `state` follows the lifecycle (running, queued, scheduled, failed, interrupted,
    cancelled, succeeded) and `duration` is finished_at - started_at, a running job above any finished one."""
    jobs = _varied_jobs(store)

    def value_of(job):
        if field == SortField.STATE:
            return STATE_RANK[job.state]
        if field == SortField.DURATION:
            if job.started_at is None:
                return None
            return 1e12 - job.started_at if job.finished_at is None else job.finished_at - job.started_at
        return getattr(job, field)

    def key(job):
        value = value_of(job)
        return (value is not None, value if value is not None else 0, job.id)

    expected = [j.id for j in sorted(jobs, key=key, reverse=descending)]
    assert len({value_of(j) for j in jobs}) > 2
    assert [j.id for j in store.list_jobs(order_by=field, descending=descending)] == expected


def test_an_unknown_sort_field_is_refused(store):
    with pytest.raises(InvalidOptionError):
        store.list_jobs(order_by="payload; DROP TABLE jobs")
    with pytest.raises(InvalidOptionError):
        store.list_jobs(order_by="payload")


def test_counts_by_state_and_finished_since(store):
    assert store.counts_by_state() == {state.value: 0 for state in JobState}
    add(store, 2)
    before = time.time()
    run_to(store, JobState.SUCCEEDED)
    run_to(store, JobState.FAILED)
    counts = store.counts_by_state()
    assert counts == {**{state.value: 0 for state in JobState}, "queued": 2, "succeeded": 1, "failed": 1}
    assert store.finished_since(before - 1) == 2 and store.finished_since(time.time() + 60) == 0


def test_queues_exist_once_named_and_count_their_jobs(store):
    assert [q.name for q in store.list_queues()] == ["default"]
    add(store, 2, queue="media")
    run_to(store, JobState.SUCCEEDED, queue="media")
    store.set_queue_concurrency("zz-empty", 3)
    queues = {q.name: q for q in store.list_queues()}
    assert list(queues) == ["default", "media", "zz-empty"]
    media = store.get_queue("media")
    assert (media.concurrency, media.paused) == (0, False)
    assert media.counts == {**{state.value: 0 for state in JobState}, "queued": 2, "succeeded": 1}
    assert store.get_queue("zz-empty").to_dict() == {"name": "zz-empty", "concurrency": 3, "paused": False,
                                                     "counts": {state.value: 0 for state in JobState},
                                                     "rate": None}  # fmt: skip
    store.clear_finished("gui")
    store.delete_jobs([j.id for j in store.list_jobs(queue="media")], "gui")
    assert "media" in [q.name for q in store.list_queues()]  # never removed
    with pytest.raises(JobNotFoundError):
        store.get_queue("nope")


def test_a_finished_job_reads_back_its_outcome(store):
    (job_id,) = add(store)
    (job,) = claim(store)
    finish(store, job, JobState.SUCCEEDED, result='{"ok": true}', progress_message="done")
    stored = store.get_job(job_id)
    assert (stored.state, stored.result, stored.progress, stored.progress_message) == ("succeeded", {"ok": True}, 1.0, "done")
    assert stored.started_at <= stored.finished_at and stored.instance_id is None and stored.attempts == 1


def test_starting_by_queue_counts_running_jobs_whose_handler_has_not_started(store):
    add(store, 2, queue="a")
    add(store, 1, queue="b")
    claim(store, 1, prefetch=2)  # one for a free slot (started), two claimed ahead (not started)
    assert store.starting_by_queue() == {"a": 1, "b": 1}
    assert store.counts_by_state()["running"] == 3
