"""The pieces of process isolation that need no running app: limits, the start journal,
the recovery decision, exit descriptions, the pipe messages."""

from __future__ import annotations

import signal

import pytest

from acacia_gui.core.errors import InvalidOptionError
from acacia_gui.core.job import Job, JobState
from acacia_gui.core.limits import format_bytes, parse_memory_limit, validate_cancel_grace, validate_nice
from acacia_gui.core.recovery import RecoveryPolicy, decide
from acacia_gui.core.registry import Registry
from acacia_gui.core.runner import Completion
from acacia_gui.engine.processes.messages import (
    completion_from_message,
    completion_to_message,
    decode,
    encode,
    job_from_message,
    job_to_message,
)
from acacia_gui.engine.processes.worker_process import describe_exit
from acacia_gui.engine.start_journal import StartJournal, journal_path, read_journal
from tests.unit import engine_handlers


@pytest.mark.parametrize(("text", "size"), [("512MB", 512_000_000), ("2GiB", 2 * 1024**3), ("1.5 GB", 1_500_000_000),
                                            (64 * 1024 * 1024, 64 * 1024 * 1024), ("100mib", 100 * 1024**2)])  # fmt: skip
def test_memory_limits_parse_sizes(text, size):
    assert parse_memory_limit(text) == size


@pytest.mark.parametrize("bad", ["lots", "12MB", "-5", True, 3.5, "1e9", "5 parsecs", [1]])
def test_bad_memory_limits_are_refused_clearly(bad):
    with pytest.raises(InvalidOptionError, match="memory_limit must be"):
        parse_memory_limit(bad)


def test_other_limits_are_range_checked():
    assert validate_cancel_grace(0) == 0.0 and validate_nice(19) == 19
    for call, value in ((validate_cancel_grace, -1), (validate_cancel_grace, float("nan")), (validate_nice, 20),
                        (validate_nice, -1), (validate_nice, True)):  # fmt: skip
        with pytest.raises(InvalidOptionError):
            call(value)
    assert format_bytes(512_000_000) == "512 MB"


def test_handler_options_are_checked_at_registration():
    registry = Registry()
    entry = registry.register_handler("a", engine_handlers.where, memory_limit="1GB", nice=5, cancel_grace=0)
    assert (entry.memory_limit, entry.nice, entry.cancel_grace, entry.runs_in) == (10**9, 5, 0.0, "process")
    assert registry.register_handler("b", lambda ctx, job: 1).runs_in == "thread"  # a lambda cannot be imported again
    assert "cannot import it again" in registry.get_handler("b").isolation_note()
    assert registry.register_handler("c", engine_handlers.where, isolation="thread").runs_in == "thread"
    for bad in ({"isolation": "vm"}, {"nice": 40}, {"memory_limit": "huge"}, {"max_interruptions": 0}):
        with pytest.raises(InvalidOptionError):
            registry.register_handler("d", engine_handlers.where, **bad)


def test_the_start_journal_lists_only_whole_lines_and_stays_bounded(tmp_path, monkeypatch):
    import acacia_gui.engine.start_journal as journal_module

    journal = StartJournal(tmp_path, "me")
    journal.open()
    jobs = []
    for i in range(1, 4):
        job = Job("t")
        job.id, job.attempts = i, 1
        journal.record(job)
        jobs.append(job)
    assert all(job.started_at is not None for job in jobs)
    with open(journal_path(tmp_path, "me"), "ab") as f:
        f.write(b"99 1")  # torn: the app died inside this write
    assert read_journal(tmp_path, "me") == {(1, 1), (2, 1), (3, 1)}
    monkeypatch.setattr(journal_module, "JOURNAL_MAX_BYTES", 1)
    taken = journal.take_unmarked()
    assert [job_id for job_id, _ in taken] == [1, 2, 3]
    late = Job("t")
    late.id, late.attempts = 4, 2
    journal.record(late)  # started after the write began: must survive the cut
    journal.marked()
    assert read_journal(tmp_path, "me") == {(4, 2)}
    journal.close(remove=True)
    assert read_journal(tmp_path, "me") == frozenset()


def test_a_job_claimed_but_never_started_is_not_an_interruption():
    decision = decide(1, "t", 1, False, 0, RecoveryPolicy())
    assert decision.state is JobState.QUEUED and decision.refund_attempt and not decision.interrupted


def test_the_journal_makes_a_start_count():
    decision = decide(1, "t", 1, False, 0, RecoveryPolicy(started=frozenset({(1, 1)})))
    assert decision.state is JobState.QUEUED and decision.interrupted and decision.refund_attempt


@pytest.mark.parametrize(("code", "text"), [
    (-signal.SIGSEGV, "the handler's process died: SIGSEGV (segmentation fault)"),
    (-signal.SIGABRT, "the handler's process died: SIGABRT (aborted)"),
    (3, "the handler's process exited with status 3"),
])  # fmt: skip
def test_exits_are_described_by_cause(code, text):
    assert describe_exit(code) == text
    assert "out-of-memory killer" in describe_exit(-signal.SIGKILL)


def test_jobs_and_completions_cross_the_pipe_as_json():
    job = Job("t", {"x": [1, "é"]}, queue="q", priority=3, max_attempts=2, timeout=5)
    job.id, job.attempts, job.started_at, job.created_at, job.run_at = 7, 1, 1.0, 0.5, 0.5
    back = job_from_message(decode(encode({"op": "run", **job_to_message(job)})))
    assert (back.id, back.payload, back.queue, back.timeout, back.attempts) == (7, {"x": [1, "é"]}, "q", 5, 1)
    completion = Completion(7, 1, JobState.SCHEDULED, error="boom", run_at=3.0, progress=0.5)
    message = decode(encode({"op": "done", "completion": completion_to_message(completion)}))
    assert completion_from_message(message["completion"]) == completion
    with pytest.raises(ValueError):
        decode(b"[1, 2]")
