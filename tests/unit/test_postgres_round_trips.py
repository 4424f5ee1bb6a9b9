"""Round trips of the PostgreSQL store's hot paths, counted on the wire (libpq's protocol trace).

An enqueue and a claim from the queue the last claim found alone are one statement each, its
own transaction: one Sync, nothing else. A pipelined write sends BEGIN, its statements and
COMMIT together: one Sync, no Flush before it (psycopg's conn.transaction() in pipeline mode
syncs after BEGIN, after the block and after COMMIT: four). Every round trip to a server
process that had gone to sleep costs a wake-up, which is most of an idle instance's latency.
They also keep db.write's `single` honest: its statement runs in autocommit, so a second one
added to the enqueue or the claim would be a second Sync here (and a second transaction)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator

import pytest
from psycopg.pq import Trace

from acacia_gui.core.job import Job, JobState
from acacia_gui.core.runner import Completion
from acacia_gui.store.postgres.store import PostgresJobStore
from tests.support.postgres_server import server_or_skip


@pytest.fixture
def store() -> Iterator[PostgresJobStore]:
    with server_or_skip("the round-trip tests").database() as url:
        store = PostgresJobStore(url, min_size=1, max_size=1)  # one connection: the one traced
        try:
            yield store
        finally:
            store.close()


def sent(store: PostgresJobStore, action: Callable[[], object]) -> list[str]:
    """The Sync and Flush messages `action()` sent: each makes the server answer, so a round trip."""
    with tempfile.TemporaryFile("w+") as trace:
        with store.db.pool.connection() as conn:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
        try:
            action()
        finally:
            with store.db.pool.connection() as conn:
                conn.pgconn.untrace()
        trace.seek(0)
        lines = [line.split("\t") for line in trace.read().splitlines()]
    return [fields[2].split()[0] for fields in lines
            if fields[0] == "F" and len(fields) > 2 and fields[2].split()[0] in ("Sync", "Flush")]  # fmt: skip


def test_an_enqueue_is_one_round_trip(store):
    store.insert_jobs([Job("t", 0)], "api")  # the queue row exists from now on
    ids: list[int] = []
    assert sent(store, lambda: ids.extend(store.insert_jobs([Job("t", 1)], "api"))) == ["Sync"]
    assert store.get_job(ids[0]).state is JobState.QUEUED


def test_a_claim_from_the_queue_found_alone_is_one_round_trip(store):
    store.register_instance("me")
    store.insert_jobs([Job("t", 0), Job("t", 1)], "api")
    first = store.complete_and_claim([], "me", 1)[1]  # reads the queue list: `default` is alone
    claimed = []
    assert sent(store, lambda: claimed.extend(store.complete_and_claim([], "me", 1)[1])) == ["Sync"]
    assert [job.payload for job in first + claimed] == [0, 1]
    assert all(store.get_job(job.id).state is JobState.RUNNING for job in claimed)


def test_a_pipelined_write_sends_begin_its_statements_and_commit_at_once(store):
    def write() -> None:
        with store.db.write(pipeline=True) as conn:
            conn.execute("INSERT INTO queues (name, created_at) VALUES ('one', 0)")
            conn.execute("INSERT INTO queues (name, created_at) VALUES ('two', 0)")

    messages = sent(store, write)
    assert messages[0] == "Sync" and messages.count("Sync") == 1, messages
    assert store.db.fetchall("SELECT name FROM queues WHERE name IN ('one', 'two') ORDER BY name") == [("one",), ("two",)]


def test_a_completion_with_its_claim_waits_for_its_reads_only(store):
    """Its reads (the completed rows, the dependents to settle, the queue list) each wait for an
    answer; everything else travels with them or with COMMIT."""
    store.register_instance("me")
    store.insert_jobs([Job("t", 0), Job("t", 1)], "api")
    job = store.complete_and_claim([], "me", 1)[1][0]
    done = Completion(job.id, job.attempts, JobState.SUCCEEDED)
    messages = sent(store, lambda: store.complete_and_claim([done], "me", 1))
    assert messages.count("Sync") == 1 and messages.index("Sync") <= 3, messages
    assert store.get_job(job.id).state is JobState.SUCCEEDED
