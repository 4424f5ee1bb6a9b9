"""How PostgreSQL reads the window's and `acacia list`'s pages of a big table: through an index,
never by sorting every job (a plan is read, no time is asserted; bench/postgres_bench.py has
none of this, the README's figures come from a 100,000-job table measured by hand).

The newest page reads the primary key backwards; a page of one of the rarer states reads an
index that holds it: jobs_state (schema 7 keeps `queued`, `running` and `succeeded` out of it,
as they change in every job's life), jobs_due for `scheduled`, jobs_running for `running`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from acacia_gui.core.job import JobState
from acacia_gui.store.postgres.store import PostgresJobStore
from tests.support.postgres_server import server_or_skip

# 20,000 jobs: mostly succeeded, then queued, a few of each other state.
MIX = ("CASE WHEN g % 100 < 80 THEN 'succeeded' WHEN g % 100 < 95 THEN 'queued' WHEN g % 100 < 97 THEN 'failed'"
       " WHEN g % 100 < 98 THEN 'waiting' WHEN g % 100 < 99 THEN 'scheduled' ELSE 'running' END")  # fmt: skip


@pytest.fixture(scope="module")
def store() -> Iterator[PostgresJobStore]:
    with server_or_skip("the listing plan tests").database() as url:
        store = PostgresJobStore(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO jobs (type, queue, state, payload, run_at, created_at, finished_at, instance_id)"
                f" SELECT 't', 'q', s, '1', 0, g, CASE WHEN s IN ('succeeded', 'failed') THEN g END,"
                f" CASE WHEN s = 'running' THEN 'i' END FROM (SELECT g, {MIX} AS s FROM generate_series(1, 20000) g) x"
            )
            conn.execute("VACUUM ANALYZE jobs")
        try:
            yield store
        finally:
            store.close()


def plan(store: PostgresJobStore, **listing) -> list[str]:
    """The node types and index names of the plan list_jobs(**listing) runs."""
    sql, params = store.jobs._listing_sql(**listing)
    with store.db.read() as conn:
        tree = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0]
    tree = json.loads(tree) if isinstance(tree, str) else tree
    found: list[str] = []

    def walk(node: dict) -> None:
        found.append(node["Node Type"] + (f" {node['Index Name']}" if "Index Name" in node else ""))
        for child in node.get("Plans", []):
            walk(child)

    walk(tree[0]["Plan"])
    return found


@pytest.mark.parametrize("descending", [True, False], ids=["newest", "oldest"])
def test_a_page_by_id_reads_the_primary_key_in_order(store, descending):
    nodes = plan(store, order_by="id", descending=descending, limit=200, preview=True)
    assert any("jobs_pkey" in node for node in nodes) and "Sort" not in nodes, nodes
    jobs = store.list_jobs(order_by="id", descending=descending, limit=3)
    assert [job.id for job in jobs] == ([20000, 19999, 19998] if descending else [1, 2, 3])


@pytest.mark.parametrize("state, indexes", [
    ("failed", {"jobs_state"}), ("waiting", {"jobs_state"}), ("scheduled", {"jobs_state", "jobs_due"}),
    ("running", {"jobs_running"}),
])  # fmt: skip
def test_a_page_of_a_rare_state_reads_an_index_that_holds_it(store, state, indexes):
    nodes = plan(store, state=state, order_by="id", descending=True, limit=200, preview=True)
    assert any(node.split()[-1] in indexes for node in nodes) and "Seq Scan" not in nodes, nodes
    assert {job.state.value for job in store.list_jobs(state=state, limit=50)} == {state}


def test_a_nullable_field_still_sorts_its_nulls_as_sqlite_does(store):
    """`finished_at` is NULL for jobs that have not ended: first going up, last going down."""
    up = store.list_jobs(order_by="finished_at", limit=1)
    down = store.list_jobs(order_by="finished_at", descending=True, limit=1)
    assert up[0].finished_at is None and down[0].finished_at == 20000  # g = 20000 is a succeeded job


def test_no_state_of_a_job_s_usual_life_takes_an_entry_in_jobs_state(store):
    """queued → running → succeeded: each change is a new row version, which takes an entry in
    every index whose predicate it meets; none of these three meets jobs_state's, the others do."""
    with store.db.read() as conn:
        predicate = conn.execute("SELECT pg_get_expr(indpred, indrelid) FROM pg_index"
                                 " WHERE indexrelid = 'jobs_state'::regclass").fetchone()[0]  # fmt: skip
        states = "(VALUES " + ", ".join(f"('{s.value}')" for s in JobState) + ") AS jobs (state)"
        indexed = {row[0] for row in conn.execute(f"SELECT state FROM {states} WHERE {predicate}")}
    assert indexed == {s.value for s in JobState} - {"queued", "running", "succeeded"}
