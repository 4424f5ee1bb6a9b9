"""Contract: a row another program broke fails alone, with a message; every other job keeps
running; reads show it instead of failing. A job in a queue with no settings row runs."""

from __future__ import annotations

from acacia_gui.core.job import JobState
from acacia_gui.core.runner import Completion

from .helpers import DEAD, ME, add, claim, events


def assert_set_aside(store, job_id, source, old_state):
    job = store.get_job(job_id)
    assert (job.state, job.instance_id, job.cancel_requested) == (JobState.FAILED, None, False)
    assert job.error.startswith("set aside: its row in the database was broken (") and "payload" in job.error
    assert job.payload is None and job.finished_at is not None
    (source_, old, new, message) = events(store, job_id)[-1]
    assert (source_, old, new) == (source, old_state, "failed") and message == job.error
    return job


def test_a_payload_that_cannot_be_read_fails_its_job_alone_and_the_others_are_claimed(store, sabotage):
    first, spoiled, last = add(store, 3)
    sabotage.spoil_payload(spoiled)
    assert [j.id for j in claim(store, 10)] == [first, last]
    job = assert_set_aside(store, spoiled, "worker", "queued")
    assert sabotage.spoiled_payload_says in job.error and job.attempts == 0  # it never ran
    assert claim(store, 10) == []


def test_a_row_past_every_schema_rule_fails_alone(store, sabotage):
    ids = add(store, 5)
    sabotage.break_row(ids[1])
    sabotage.break_row(ids[3])
    assert [j.id for j in claim(store, 2)] == [ids[0], ids[2]]  # the first two good ones, as if the others were not there
    assert [j.id for j in claim(store, 10)] == [ids[4]]
    for broken in (ids[1], ids[3]):
        job = assert_set_aside(store, broken, "worker", "queued")
        assert all(words in job.error for words in sabotage.broken_row_says), job.error
        assert (job.priority, job.type, job.queue, job.progress) == (0, "unreadable", "default", None)


def test_reads_show_a_broken_row_instead_of_failing(store, sabotage):
    first, spoiled, broken, last = add(store, 4)  # nothing claims them here: the broken rows stay as they are
    sabotage.spoil_payload(spoiled)
    sabotage.break_row(broken)
    jobs = store.list_jobs()
    assert [j.id for j in jobs] == [first, spoiled, broken, last]
    by_id = {j.id: j for j in jobs}
    for job_id in (spoiled, broken):
        job = by_id[job_id]
        assert job.state is JobState.QUEUED and job.payload is None
        assert "row in the database is broken" in job.error and "payload" in job.error
        assert store.get_job(job_id).error == job.error
        job.to_dict()  # what `show` and `list --json` print
    assert by_id[first].payload == {"i": 0} and by_id[first].error is None
    assert [j.id for j in store.list_jobs(limit=2, offset=1)] == [spoiled, broken]
    assert [j.id for j in store.list_jobs(search="not json")] == [broken]
    assert store.count_jobs() == 4 and store.counts_by_state()["queued"] == 4
    assert store.get_queue("default").counts["queued"] == 3  # the broken row's queue name is not one
    store.delete_jobs([spoiled, broken], "cli")
    assert store.get_job(spoiled) is None and [j.id for j in store.list_jobs()] == [first, last]


def test_a_set_aside_job_can_be_retried(store, sabotage):
    (job_id,) = add(store)
    sabotage.break_row(job_id)
    assert claim(store, 1) == []
    store.retry_job(job_id, "cli")
    (job,) = claim(store, 1)
    assert (job.id, job.payload, job.priority) == (job_id, None, 0)


def test_a_broken_running_row_does_not_stop_the_other_completions(store, sabotage):
    ok, broken = claim(store, 2) if add(store, 2) else []
    sabotage.break_row(broken.id)
    done = [Completion(ok.id, ok.attempts, JobState.SUCCEEDED), Completion(broken.id, broken.attempts, JobState.FAILED)]
    (waiting,) = add(store)
    applied, claimed = store.complete_and_claim(done, ME, 1)
    assert applied == done[:1] and [j.id for j in claimed] == [waiting]
    assert store.get_job(ok.id).state is JobState.SUCCEEDED
    assert_set_aside(store, broken.id, "worker", "running")


def test_a_broken_due_row_fails_alone(store, sabotage):
    ids = add(store, 3, delay=0.01)
    sabotage.break_row(ids[1])
    promoted = store.promote_due(now=10**10)
    assert [job_id for job_id, _ in promoted] == [ids[0], ids[2]]
    assert_set_aside(store, ids[1], "worker", "scheduled")


def test_recovery_sets_a_broken_running_row_aside_and_settles_the_others(store, sabotage):
    good, broken = (j.id for j in claim(store, 2, DEAD)) if add(store, 2) else ()
    sabotage.break_row(broken)
    assert sorted(store.recover_instance(DEAD)) == [(good, "queued"), (broken, "failed")]
    assert_set_aside(store, broken, "recovery", "running")
    assert store.instances() == [] and store.owners_of_running_jobs() == []


def test_a_queue_without_its_settings_row_runs_with_the_defaults_and_shows_in_stats(store, sabotage):
    (job_id,) = add(store, queue="orphan")
    sabotage.forget_queue("orphan")
    info = store.get_queue("orphan")
    assert (info.name, info.concurrency, info.paused, info.counts["queued"]) == ("orphan", 0, False, 1)
    assert "orphan" in [q.name for q in store.list_queues()]
    assert [j.id for j in claim(store, 5)] == [job_id]
    assert store.get_queue("orphan").counts["running"] == 1
    (later,) = add(store, queue="orphan")
    store.set_queue_paused("orphan", True)  # settings made again, and they apply
    assert claim(store, 5) == []
    store.set_queue_paused("orphan", False)
    assert [j.id for j in claim(store, 5)] == [later]
