"""Bounded resources (issue 10): a job's stored log, its result, what `list` carries, and
the database file after big deletes. The engine without Qt, over a real SQLite file."""

from __future__ import annotations

import json
import logging
import os
import sqlite3

import pytest

from acacia_gui.core.definitions import DEFAULT_LOG_LIMIT, LIST_PREVIEW_CHARS, MAX_RESULT_BYTES
from acacia_gui.core.errors import InvalidOptionError
from acacia_gui.core.limits import parse_log_limit
from acacia_gui.core.registry import Registry
from acacia_gui.engine.output import JobOutput
from acacia_gui.store.sqlite import SqliteJobStore
from tests.unit import engine_handlers
from tests.unit.test_scheduler import Harness

MB = 1000 * 1000


def stored_log(store: SqliteJobStore, job_id: int) -> list[dict]:
    return store.get_logs(job_id, limit=10**6)


def assert_head_gap_tail(lines: list[dict], cap: int, first: str, last: str) -> None:
    size = sum(len(line["message"].encode()) for line in lines)
    assert size <= cap, size
    messages = [line["message"] for line in lines]
    assert messages[0].startswith(first) and messages[-1].startswith(last), (messages[0][:40], messages[-1][:40])
    gaps = [m for m in messages if m.startswith("… ") and "left out …" in m]
    assert len(gaps) == 1, gaps
    assert " lines (" in gaps[0] and "B) left out" in gaps[0]
    gap_at = messages.index(gaps[0])
    assert gap_at > len(messages) // 4 and len(messages) - gap_at > len(messages) // 4  # head and tail both kept


@pytest.fixture
def processes(tmp_path):
    h = Harness(tmp_path, processes=True)
    yield h
    h.close()


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path)
    yield h
    h.close()


# -- job logs --------------------------------------------------------------------------------


def test_a_thread_handler_logging_20_mb_keeps_its_head_and_tail_within_the_cap(harness):
    def chatty(ctx, job):
        log = logging.getLogger("acacia_plugins.chatty")
        line = "y" * 990
        for i in range(20_000):
            log.info("%08d %s", i, line)
        log.info("the last line")
        return "ok"

    harness.registry.register_handler("chatty", chatty, isolation="thread")
    harness.start()
    job_id = harness.enqueue("chatty")
    assert harness.wait(job_id, "succeeded").result == "ok"
    lines = stored_log(harness.store, job_id)
    assert_head_gap_tail(lines, DEFAULT_LOG_LIMIT, "00000000 y", "the last line")


def test_a_worker_process_printing_20_mb_keeps_its_head_and_tail_within_the_cap(processes):
    processes.registry.register_handler("flood", engine_handlers.flood)
    processes.start()
    assert processes.scheduler.isolation_of("flood") == "process"
    job_id = processes.enqueue("flood", {"mb": 20})
    assert processes.wait(job_id, "succeeded", timeout=120).result == "ok"
    lines = stored_log(processes.store, job_id)
    assert_head_gap_tail(lines, DEFAULT_LOG_LIMIT, "00000000 x", "the last line")
    assert os.path.getsize(processes.store.db.path) < 4 * DEFAULT_LOG_LIMIT


def test_log_limit_is_a_handler_option_in_bytes_or_a_size(harness):
    harness.registry.register_handler("small", lambda ctx, job: [logging.getLogger("p").info("%05d %s", i, "z" * 95)
                                                                 for i in range(2_000)] and None,
                                      isolation="thread", log_limit="20kB")  # fmt: skip
    harness.start()
    job_id = harness.enqueue("small")
    harness.wait(job_id, "succeeded")
    assert_head_gap_tail(stored_log(harness.store, job_id), 20_000, "00000 z", "01999 z")
    assert harness.registry.get_handler("small").describe()["log_limit"] == 20_000


def test_log_limit_is_validated_like_memory_limit():
    assert parse_log_limit("2MB") == 2 * MB and parse_log_limit(4096) == 4096 and parse_log_limit(None) is None
    for bad in ("lots", True, -1, 10, "2PB"):
        with pytest.raises(InvalidOptionError, match="log_limit"):
            parse_log_limit(bad)
    with pytest.raises(InvalidOptionError, match="log_limit"):
        Registry().register_handler("x", lambda ctx, job: None, log_limit="big")


def test_the_tail_kept_in_memory_is_bounded():
    written: list = []

    class Store:
        def append_logs(self, lines):
            written.extend(lines)

    output = JobOutput(Store(), lambda event: None, lambda job_id: "default")
    output.begin(1, 10_000)
    for i in range(100_000):
        output.capture_log(1, 0.0, "INFO", f"{i:06d} " + "q" * 93)
    budget = output._budgets[1]
    assert sum(len(line[3]) for line in budget.tail) <= 5_000
    output.flush_logs()
    assert sum(len(line[3]) for line in written) <= 5_000
    output.end_run(1)
    output.flush_logs()
    assert sum(len(line[3].encode()) for line in written) <= 10_000
    markers = [i for i, line in enumerate(written) if "left out" in line[3]]
    assert written[-1][3].startswith("099999") and len(markers) == 1 and 0 < markers[0] < len(written) - 1


# -- results ---------------------------------------------------------------------------------


def test_a_5_mb_result_fails_the_job_saying_to_write_a_file(processes):
    processes.registry.register_handler("huge.process", engine_handlers.huge_result)
    processes.registry.register_handler("huge.thread", lambda ctx, job: "r" * job.payload["bytes"], isolation="thread")
    processes.start()
    for job_type in ("huge.process", "huge.thread"):
        job = processes.wait(processes.enqueue(job_type, {"bytes": 5 * MB}), "failed", "succeeded")
        assert job.state == "failed", job_type
        assert "write the data to a file and return its path" in job.error and job.result is None
        assert len(job.error) < 300
    ok = processes.wait(processes.enqueue("huge.thread", {"bytes": MAX_RESULT_BYTES - 2}), "succeeded", "failed")
    assert ok.state == "succeeded" and len(ok.result) == MAX_RESULT_BYTES - 2  # the cap counts the JSON quotes


# -- list carries previews -------------------------------------------------------------------


def test_list_carries_only_a_preview_of_big_payloads_and_results(tmp_path):
    from acacia_gui.config import load_config
    from acacia_gui.core.queue import JobQueue
    from acacia_gui.ipc.dispatch import Dispatcher, StandaloneServices
    from tests.unit.test_protocol_dispatch import ok

    config = load_config(tmp_path / "data", tmp_path / "plugins")
    store = SqliteJobStore(config.database)
    registry = Registry()
    registry.register_handler("noop", lambda ctx, job: None)
    dispatcher = Dispatcher(JobQueue(store, registry), StandaloneServices(config), source="socket")
    try:
        big = ok(dispatcher, "enqueue", {"type": "noop", "payload": {"blob": "p" * (3 * MB)}})["id"]
        small = ok(dispatcher, "enqueue", {"type": "noop", "payload": {"n": 1}})["id"]
        with store.db.write() as conn:  # a result written before results were capped
            conn.execute("UPDATE jobs SET state = 'succeeded', result = ? WHERE id = ?", (json.dumps("r" * (3 * MB)), big))
        reply = dispatcher.handle_line(json.dumps({"id": 1, "op": "list", "params": {}}).encode())
        assert len(json.dumps(reply)) < 10_000
        jobs = {job["id"]: job for job in reply["result"]["jobs"]}
        assert jobs[big]["payload_truncated"] and jobs[big]["result_truncated"]
        assert jobs[big]["payload"] == '{"blob":"' + "p" * (LIST_PREVIEW_CHARS - 9)
        assert jobs[small]["payload"] == {"n": 1} and not jobs[small]["payload_truncated"]
        full = ok(dispatcher, "get", {"id": big})
        assert len(full["payload"]["blob"]) == 3 * MB and len(full["result"]) == 3 * MB
    finally:
        store.close()


# -- deletes: short transactions, a bounded WAL, a file that shrinks --------------------------


def test_deleting_many_jobs_with_logs_keeps_the_wal_bounded_and_the_file_shrinks(tmp_path):
    store = SqliteJobStore(tmp_path / "acacia.db")
    db = store.db
    conn = db.conn
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    assert conn.execute("PRAGMA journal_size_limit").fetchone()[0] == 64 * 1024 * 1024
    now = 1.0
    with db.write() as c:
        c.executemany("INSERT INTO jobs (type, queue, state, payload, attempts, max_attempts, run_at, created_at,"
                      " finished_at) VALUES ('t', 'default', 'succeeded', '{}', 1, 1, ?, ?, ?)",
                      [(now, now, now)] * 1_200)  # fmt: skip
    ids = [row[0] for row in conn.execute("SELECT id FROM jobs")]
    line = "m" * 200
    for start in range(0, len(ids), 100):
        with db.write() as c:
            c.executemany("INSERT INTO job_logs (job_id, at, level, message) VALUES (?, 1.0, 'INFO', ?)",
                          [(job_id, line) for job_id in ids[start:start + 100] for _ in range(100)])  # fmt: skip
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = os.path.getsize(db.path)
    assert before > 20 * MB
    wal = str(db.path) + "-wal"
    transactions = []
    conn.set_trace_callback(lambda sql: transactions.append(sql) if sql == "BEGIN IMMEDIATE" else None)
    deleted = store.clear_finished("api")
    conn.set_trace_callback(None)
    assert len(deleted) == 1_200 and store.count_jobs() == 0
    assert not conn.execute("SELECT count(*) FROM job_logs").fetchone()[0]
    assert len(transactions) >= 12 + 3  # 120,000 lines: 10,000 per transaction, jobs 500 per transaction
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert os.path.getsize(wal) <= 64 * 1024 * 1024
    after = os.path.getsize(db.path)
    assert after < before / 4, (before, after)
    store.close()


def test_an_existing_small_database_switches_to_incremental_vacuum_at_open(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    store = SqliteJobStore(path)
    assert store.db.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    store.close()
