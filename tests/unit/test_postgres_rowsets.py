"""store/postgres/rowsets.py on a real server: rows sent as one JSON parameter come back with
every value as Python sent it (floats to the last bit, text with quotes, backslashes, newlines
and any Unicode, NULLs, 64-bit integers), in their order; id_array is the bigint[] it says.
And the statements built on it stay index lookups on a table whose statistics are stale."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator

import psycopg
import pytest

from acacia_gui.store.postgres.rowsets import id_array, rows_param, rowset
from tests.support.postgres_server import server_or_skip

COLUMNS = (("n", "bigint"), ("x", "float8"), ("t", "text"))
SELECT = f"SELECT n, x, t, ord FROM {rowset('r', COLUMNS)} ORDER BY ord"


@pytest.fixture
def postgres_conn() -> Iterator[psycopg.Connection]:
    server = server_or_skip()
    with server.database() as url, psycopg.connect(url, autocommit=True) as conn:
        yield conn


def test_postgres_rows_come_back_exactly_and_in_order(postgres_conn):
    rows = [
        (1, 0.1, "plain"),
        (-(2**63), 1e308, 'quotes " and \' and \\ backslash'),
        (2**63 - 1, 5e-324, "new\nline\ttab"),
        (0, math.pi, "émoji 🎉 and 中文"),
        (None, None, None),
        (7, 1733112000.123456, ""),
        (8, sys.float_info.epsilon, "{\"looks\": [\"like\", \"json\"]}"),
    ]
    got = postgres_conn.execute(SELECT, (rows_param(rows),)).fetchall()
    assert [row[:3] for row in got] == rows
    assert [row[3] for row in got] == list(range(1, len(rows) + 1))


def test_postgres_an_empty_rowset_is_no_rows(postgres_conn):
    assert postgres_conn.execute(SELECT, (rows_param([]),)).fetchall() == []


def test_postgres_a_float_that_is_not_a_number_is_refused_before_it_is_sent():
    with pytest.raises(ValueError):
        rows_param([(1, math.nan, "x")])


def test_postgres_id_array_is_the_bigint_array(postgres_conn):
    ids = [1, 2**40, 3]
    assert postgres_conn.execute("SELECT %s::bigint[]", (id_array(ids),)).fetchone()[0] == ids
    assert postgres_conn.execute("SELECT %s::bigint[]", (id_array([]),)).fetchone()[0] == []


def test_postgres_completion_plan_looks_jobs_up_by_id_with_stale_statistics(postgres_conn):
    """The completion's generic plan (psycopg prepares a statement after 5 runs) must find the
    jobs through the primary key: on a table filled after its last ANALYZE, a plan that trusted
    the statistics scanned every running job per completed one, or the whole table."""
    from acacia_gui.store.postgres.worker import _COMPLETE

    postgres_conn.execute("ANALYZE jobs")  # statistics of an empty table...
    postgres_conn.execute(
        "INSERT INTO jobs (type, queue, state, payload, run_at, created_at, instance_id, attempts)"
        " SELECT 't', 'default', 'running', '1', 0, 0, 'me', 1 FROM generate_series(1, 20000)"
    )  # ...then 20,000 running jobs of one instance
    rows = [(job_id, 1, "succeeded", None, None, None, 1.0, None, 0, 1.0, "", None) for job_id in range(1, 51)]
    with postgres_conn.transaction():
        postgres_conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        postgres_conn.execute("PREPARE complete AS " + _COMPLETE.replace("%s", "$%d") % (1, 2, 3))
        cursor = psycopg.ClientCursor(postgres_conn)
        plan = "\n".join(row[0] for row in cursor.execute(
            "EXPLAIN EXECUTE complete(%s, %s, 'me')", (rows_param(rows), id_array(range(1, 51)))))  # fmt: skip
        postgres_conn.execute("DEALLOCATE complete")
    assert "jobs_pkey" in plan and "Seq Scan on jobs" not in plan and "jobs_running" not in plan, plan


def test_postgres_claim_plan_looks_jobs_up_by_id_with_stale_statistics(postgres_conn):
    """The claim's UPDATE of the rows it picked, likewise: by primary key, not by a scan of every
    queued job's entry in jobs_state."""
    from acacia_gui.store.postgres.worker import _CLAIM_SET, _STILL_CLAIMABLE

    postgres_conn.execute("ANALYZE jobs")
    postgres_conn.execute(
        "INSERT INTO jobs (type, queue, state, payload, run_at, created_at)"
        " SELECT 't', 'default', 'queued', '1', 0, 0 FROM generate_series(1, 20000)"
    )
    claim = f"UPDATE jobs SET {_CLAIM_SET} WHERE id = ANY(%s::bigint[]) AND {_STILL_CLAIMABLE} RETURNING id"
    with postgres_conn.transaction():
        postgres_conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        postgres_conn.execute("PREPARE claim AS " + claim.replace("%s", "$%d") % (1, 2, 3, 4, 5))
        cursor = psycopg.ClientCursor(postgres_conn)
        plan = "\n".join(row[0] for row in cursor.execute(
            "EXPLAIN EXECUTE claim('me', 'host:1', %s, 1.0, %s)", (id_array([1]), id_array(range(1, 65)))))  # fmt: skip
        postgres_conn.execute("DEALLOCATE claim")
    assert "jobs_pkey" in plan and "jobs_state" not in plan and "Seq Scan on jobs" not in plan, plan


def test_postgres_one_queue_claim_reads_the_ready_index_with_stale_statistics(postgres_conn):
    """The one-statement claim of a queue (the common case) reads the best jobs from jobs_ready
    and updates them by primary key: no scan of the table, however stale its statistics."""
    from acacia_gui.store.postgres.worker import _CLAIM_ONE_QUEUE

    postgres_conn.execute("ANALYZE jobs")
    postgres_conn.execute(
        "INSERT INTO jobs (type, queue, state, payload, run_at, created_at)"
        " SELECT 't', 'default', 'queued', '1', 0, 0 FROM generate_series(1, 20000)"
    )
    with postgres_conn.transaction():
        postgres_conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        postgres_conn.execute("PREPARE claim AS " + _CLAIM_ONE_QUEUE.replace("%s", "$%d") % tuple(range(1, 14)))
        plan = "\n".join(row[0] for row in postgres_conn.execute(  # a guessed queue: its checks are planned too
            "EXPLAIN EXECUTE claim(false, 'default', 'default', 'default', 'default', 'default', 65, 64, 2, 'me',"
            " 'host:1', 1.0, 1.0)"))  # fmt: skip
        postgres_conn.execute("DEALLOCATE claim")
    assert "jobs_ready" in plan and "jobs_pkey" in plan and "Seq Scan on jobs" not in plan, plan
