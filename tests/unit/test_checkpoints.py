"""job.save_checkpoint outside the engine and its bound: JSON only, at most MAX_CHECKPOINT_BYTES,
what a later attempt sees is the saved value, not the caller's object; and the engine's recorder
over a real SQLite store refuses a stale attempt and hands claimed jobs their checkpoints."""

from __future__ import annotations

import pytest

from acacia_gui.core.checkpoints import encode_checkpoint
from acacia_gui.core.context import Context
from acacia_gui.core.definitions import MAX_CHECKPOINT_BYTES
from acacia_gui.core.errors import InvalidOptionError, InvalidPayloadError
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.engine.checkpoints import CheckpointRecorder
from acacia_gui.store.sqlite import SqliteJobStore


def test_a_checkpoint_must_be_json_and_small():
    job = Job("x")
    with pytest.raises(InvalidPayloadError, match="at most 64 KiB"):
        job.save_checkpoint("x" * MAX_CHECKPOINT_BYTES)
    with pytest.raises(InvalidPayloadError, match="must be JSON"):
        job.save_checkpoint({1, 2})
    with pytest.raises(InvalidPayloadError, match="must be JSON"):
        job.save_checkpoint(float("nan"))
    assert job.checkpoint is None
    assert len(encode_checkpoint("é" * 1000)) == 1002


def test_outside_acacia_the_last_value_is_kept_as_saved():
    job = Job("x")
    state = {"done": [1, 2]}
    job.save_checkpoint(state)
    state["done"].append(3)  # the caller's object changes afterwards: the checkpoint does not
    assert job.checkpoint == {"done": [1, 2]}


def test_the_recorder_writes_through_the_store_and_hands_out_checkpoints(tmp_path):
    store = SqliteJobStore(tmp_path / "a.db")
    try:
        JobQueue(store, Registry()).enqueue_many(Context.background(), [Job("t"), Job("t")])
        _, (first, second) = store.complete_and_claim([], "me", 2)
        recorder = CheckpointRecorder(store)
        first.attach_checkpoints(recorder)
        first.save_checkpoint({"next": 7})
        again = Job("t")
        again.id, again.checkpoint = first.id, "stale"
        other = Job("t")
        other.id, other.checkpoint = second.id, "stale"
        recorder.hand_out([again, other])
        assert again.checkpoint == {"next": 7} and other.checkpoint is None
        with pytest.raises(InvalidOptionError, match="moved on from attempt 5"):
            recorder.save(second.id, 5, "1")  # a late run of another attempt writes nothing
        assert store.get_checkpoint(second.id) is None
    finally:
        store.close()
