"""Bad input never leaves a half-written row: each kind gets a clear AcaciaError subclass."""

from __future__ import annotations

import math

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.errors import (
    AcaciaError,
    Cancelled,
    DuplicateHandlerError,
    InvalidJobTypeError,
    InvalidOptionError,
    InvalidPayloadError,
    InvalidTransitionError,
    JobNotFoundError,
    UnknownJobTypeError,
)
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.store.sqlite import SqliteJobStore


@pytest.fixture
def queue(tmp_path):
    store = SqliteJobStore(tmp_path / "a.db")
    yield JobQueue(store, Registry())
    store.close()


BAD_JOBS = [
    (Job("", {}), InvalidJobTypeError, "non-empty"),
    (Job("   ", {}), InvalidJobTypeError, "non-empty"),
    (Job(None, {}), InvalidJobTypeError, "non-empty"),
    (Job("has space", {}), InvalidJobTypeError, "invalid job type"),
    (Job("demo.sleep\n", {}), InvalidJobTypeError, "invalid job type"),  # not the schema's CHECK failing later
    (Job("x", {}, queue="default\n"), InvalidOptionError, "invalid queue name"),
    (Job("x", {"v": math.nan}), InvalidPayloadError, "NaN"),
    (Job("x", {"v": math.inf}), InvalidPayloadError, "NaN"),
    (Job("x", {1, 2}), InvalidPayloadError, "not JSON"),
    (Job("x", b"bytes"), InvalidPayloadError, "not JSON"),
    (Job("x", object()), InvalidPayloadError, "not JSON"),
    (Job("x", "\ud800"), InvalidPayloadError, "surrogate"),
    (Job("x", {}, timeout=-1), InvalidOptionError, "timeout"),
    (Job("x", {}, timeout=0), InvalidOptionError, "timeout"),
    (Job("x", {}, timeout=math.nan), InvalidOptionError, "timeout"),
    (Job("x", {}, timeout="10"), InvalidOptionError, "timeout"),
    (Job("x", {}, max_attempts=0), InvalidOptionError, "max_attempts"),
    (Job("x", {}, max_attempts=1.5), InvalidOptionError, "max_attempts"),
    (Job("x", {}, max_attempts=True), InvalidOptionError, "max_attempts"),
    (Job("x", {}, priority=10**12), InvalidOptionError, "priority"),
    (Job("x", {}, priority=1.5), InvalidOptionError, "priority"),
    (Job("x", {}, delay=-5), InvalidOptionError, "delay"),
    (Job("x", {}, delay=10**400), InvalidOptionError, "delay"),
    (Job("x", {}, timeout=-(10**400)), InvalidOptionError, "timeout"),
    (Job("x", {}, queue="bad queue!"), InvalidOptionError, "queue"),
    (Job("x", {}, queue=""), InvalidOptionError, "queue"),
]


@pytest.mark.parametrize(("job", "error", "words"), BAD_JOBS, ids=[f"{e.__name__}-{i}" for i, (_, e, _) in enumerate(BAD_JOBS)])
def test_bad_job_is_refused_with_a_clear_error_and_nothing_written(queue, job, error, words):
    with pytest.raises(error) as info:
        queue.enqueue(Context.background(), job)
    assert isinstance(info.value, AcaciaError)
    assert words.lower() in str(info.value).lower()
    assert queue.store.count_jobs() == 0


def test_a_bad_job_in_a_batch_writes_none_of_it(queue):
    jobs = [Job("ok", {"n": 1}), Job("ok", {"n": 2}), Job("ok", {"n": math.nan})]
    with pytest.raises(InvalidPayloadError):
        queue.enqueue_many(Context.background(), jobs)
    assert queue.store.count_jobs() == 0


def test_cancelled_context_writes_nothing(queue):
    ctx = Context.background().with_cancel()
    ctx.cancel()
    with pytest.raises(Cancelled):
        queue.enqueue(ctx, Job("x", {}))
    assert queue.store.count_jobs() == 0


def test_unknown_type_can_be_refused_with_the_known_ones_listed(queue):
    queue.registry.register_handler("image.resize", lambda ctx, job: None)
    with pytest.raises(UnknownJobTypeError, match=r"image\.resize"):
        queue.enqueue(Context.background(), Job("image.rezise", {}), allow_unknown=False)


def test_handler_defaults_fill_in_queue_attempts_timeout(queue):
    queue.registry.register_handler("h", lambda ctx, job: None, queue="media", max_attempts=4, timeout=30)
    job_id = queue.enqueue(Context.background(), Job("h", {"a": [1, "é", None]}))
    job = queue.store.get_job(job_id)
    assert (job.queue, job.max_attempts, job.timeout, job.payload) == ("media", 4, 30.0, {"a": [1, "é", None]})
    override = queue.store.get_job(queue.enqueue(Context.background(), Job("h", None, queue="q2", max_attempts=1)))
    assert (override.queue, override.max_attempts, override.payload) == ("q2", 1, None)


def test_registry_refuses_duplicates_and_bad_handlers():
    registry = Registry()
    registry.register_handler("a.b", lambda ctx, job: None)
    with pytest.raises(DuplicateHandlerError, match="already registered"):
        registry.register_handler("a.b", lambda ctx, job: None)
    with pytest.raises(InvalidJobTypeError):
        registry.register_handler("", lambda ctx, job: None)
    with pytest.raises(InvalidOptionError, match="callable"):
        registry.register_handler("c", 42)
    with pytest.raises(InvalidOptionError, match="on_interrupt"):
        registry.register_handler("d", lambda ctx, job: None, on_interrupt="maybe")
    with pytest.raises(InvalidOptionError, match="unknown handler option"):
        registry.register_handler("e", lambda ctx, job: None, colour="red")
    assert registry.get_handler("nope") is None
    assert registry.job_types() == ["a.b"]


def test_registry_accepts_objects_with_handle():
    class Resize:
        def handle(self, ctx, job):
            return job.payload * 2

    registry = Registry()
    registry.register_handler("r", Resize())
    assert registry.get_handler("r").handle(Context.background(), Job("r", 21)) == 42


def test_user_actions_refuse_wrong_states(queue):
    job_id = queue.enqueue(Context.background(), Job("x", {}))
    with pytest.raises(InvalidTransitionError, match="only failed, cancelled or interrupted"):
        queue.retry(job_id)
    queue.cancel(job_id)
    with pytest.raises(InvalidTransitionError, match="cannot be cancelled"):
        queue.cancel(job_id)
    assert queue.retry(job_id).state == "queued"
    with pytest.raises(JobNotFoundError):
        queue.cancel(999)
    assert queue.delete([job_id]) == 1 and queue.store.count_jobs() == 0
