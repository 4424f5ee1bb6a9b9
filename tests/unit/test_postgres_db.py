"""PostgresDatabase itself (store/postgres/db.py): the schema is SQLite's, migrations are safe to
race and refuse a newer database, a write is one transaction and its notes count only once it
commits, and no error message carries the password. Needs a server (tests/support/postgres_server.py)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from acacia_gui.core.errors import StoreError
from acacia_gui.store.postgres.db import SCHEMA_VERSION, PostgresDatabase
from acacia_gui.store.sqlite import SqliteJobStore
from tests.support.postgres_server import server_or_skip, with_database


@pytest.fixture
def empty_url() -> Iterator[str]:
    """An empty database (no schema), dropped after."""
    server = server_or_skip()
    name = f"acacia_test_empty_{secrets.token_hex(6)}"
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    try:
        yield with_database(server.admin_url, name)
    finally:
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name)))


def test_postgres_schema_has_sqlite_s_tables_and_columns(empty_url, tmp_path):
    """Same names, so each part ports SQLite's statements one by one (and rows.JOB_COLUMNS reads both)."""
    lite = SqliteJobStore(tmp_path / "schema.db")
    tables = [row[0] for row in lite.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    sqlite_columns = {table: [row[1] for row in lite.conn.execute(f"PRAGMA table_info({table})")]
                      for table in tables if table != "sqlite_sequence"}  # fmt: skip
    lite.close()
    db = PostgresDatabase(empty_url)
    try:
        assert db.migrate() == SCHEMA_VERSION
        rows = db.fetchall("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
                           " ORDER BY table_name, ordinal_position")  # fmt: skip
    finally:
        db.close()
    postgres_columns: dict[str, list[str]] = {}
    for table, column in rows:
        postgres_columns.setdefault(table, []).append(column)
    postgres_columns.pop("schema_version")
    assert postgres_columns.pop("acacia_commit_counter") == ["session", "commits", "xact"]  # data_version's, PostgreSQL only
    assert postgres_columns == sqlite_columns


def test_migrations_race_safely_and_a_newer_database_is_refused(empty_url):
    dbs = [PostgresDatabase(empty_url, max_size=2) for _ in range(4)]
    try:
        versions: list[int] = []
        threads = [threading.Thread(target=lambda db=db: versions.append(db.migrate())) for db in dbs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert versions == [SCHEMA_VERSION] * 4
        applied = dbs[0].fetchall("SELECT version FROM schema_version ORDER BY version")
        assert applied == [(v,) for v in range(1, SCHEMA_VERSION + 1)]  # each script once
        assert dbs[0].fetchone("SELECT count(*) FROM queues WHERE name = 'default'") == (1,)  # the script ran once
        with dbs[0].write() as conn:
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, 0)", (SCHEMA_VERSION + 1,))
        with pytest.raises(StoreError, match=rf"schema {SCHEMA_VERSION + 1}, this one knows {SCHEMA_VERSION}"):
            dbs[1].migrate()
    finally:
        for db in dbs:
            db.close()


@pytest.mark.parametrize("pipeline", [False, True], ids=["plain", "pipelined"])
def test_a_write_is_one_transaction_and_its_notes_count_once_committed(empty_url, pipeline, caplog):
    db = PostgresDatabase(empty_url, max_size=1)  # one connection: the one a failed write gave back

    def given_back_idle() -> bool:
        with db.read() as conn:
            return conn.info.transaction_status == TransactionStatus.IDLE

    try:
        db.migrate()
        with pytest.raises(RuntimeError), db.write(pipeline=pipeline) as conn:
            conn.execute("INSERT INTO queues (name, created_at) VALUES ('rolled-back', 0)")
            db.note([(1, "rolled-back", "queued")])
            raise RuntimeError("the caller's own failure")
        assert given_back_idle()
        assert db.fetchone("SELECT count(*) FROM queues WHERE name = 'rolled-back'") == (0,)
        assert db.take_notes() == []
        with pytest.raises(StoreError, match="check constraint"), db.write(pipeline=pipeline) as conn:
            conn.execute("INSERT INTO queues (name, created_at) VALUES ('before-the-bad-one', 0)")
            conn.execute("INSERT INTO queues (name, concurrency, created_at) VALUES ('bad', -1, 0)")
            conn.execute("INSERT INTO queues (name, created_at) VALUES ('after-the-bad-one', 0)")
        assert given_back_idle()
        assert db.fetchone("SELECT count(*) FROM queues WHERE name <> 'default'") == (0,)
        assert not [r for r in caplog.records if r.name.startswith("psycopg")]  # no "rolling back returned connection"
        with db.write(pipeline=pipeline) as conn:
            conn.execute("INSERT INTO queues (name, created_at) VALUES ('kept', 0)")
            db.event(conn, 7, "cli", None, "queued", "by hand")
            db.note([(7, "kept", "queued")])
        assert db.take_notes() == [(7, "kept", "queued")] and db.take_notes() == []
        assert db.fetchone("SELECT job_id, source, new_state, message FROM events") == (7, "cli", "queued", "by hand")
    finally:
        db.close()


@pytest.mark.parametrize("url", ["postgresql://acacia:s3cr3t-pw@127.0.0.1:1/nowhere",
                                 "host=127.0.0.1 port=1 user=acacia password=s3cr3t-pw dbname=nowhere"])  # fmt: skip
def test_an_unreachable_server_is_a_store_error_without_the_password(url):
    with pytest.raises(StoreError) as caught:
        PostgresDatabase(url, connect_timeout=2)
    assert "s3cr3t-pw" not in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert "postgresql://acacia@127.0.0.1:1/nowhere" in str(caught.value)


def test_a_state_outside_the_list_is_refused(empty_url):
    """SQLite's state CHECK, ported (rows.COLUMN_RULES["state"])."""
    db = PostgresDatabase(empty_url)
    try:
        db.migrate()
        with pytest.raises(StoreError, match="jobs_state_check"), db.write() as conn:
            conn.execute("INSERT INTO jobs (type, queue, state, payload, run_at, created_at)"
                         " VALUES ('t', 'q', 'lost', '{}', 0, 0)")
    finally:
        db.close()


def test_ended_sessions_commit_counters_are_folded_without_changing_data_version(empty_url):
    """Each writing session has a counter row; a heartbeat folds the rows of sessions that ended
    into one, in one transaction: data_version (their sum) is the same before and after."""
    from acacia_gui.core.context import Context
    from acacia_gui.core.job import Job
    from acacia_gui.core.queue import JobQueue
    from acacia_gui.core.registry import Registry
    from acacia_gui.store.postgres.store import PostgresJobStore

    for _ in range(4):  # four stores, each writing on its own sessions, then closed: their sessions end
        short = PostgresJobStore(empty_url)
        JobQueue(short, Registry()).enqueue(Context.background(), Job("demo.x"))
        short.close()
    store = PostgresJobStore(empty_url)
    try:
        rows = "SELECT count(*) FROM acacia_commit_counter"
        before, ended = store.data_version(), store.db.fetchone(rows)[0]
        assert ended >= 4
        store.register_instance("folding")
        store.worker._fold_due = 0.0
        store.heartbeat("folding")
        after = store.db.fetchone(rows)[0]
        assert after <= 3  # row 0, and this store's own session(s)
        assert store.data_version() >= before  # the heartbeat itself counts as a commit; nothing was lost
        assert store.data_version() - before <= 2
    finally:
        store.close()


def test_schema_4_adds_ran_on_empty_for_the_rows_already_there(empty_url):
    """0004_ran_on.sql on a database at schema 3 with rows: jobs and jobs_quarantine get `ran_on`, NULL
    for every row already there (SQLite's schema 10); the claim writes it from then on."""
    import os
    import socket

    from acacia_gui.store.postgres.db import VERSION_TABLE, schema_scripts
    from acacia_gui.store.postgres.store import PostgresJobStore

    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute(VERSION_TABLE)
        for number, script in sorted(schema_scripts().items()):
            if number < 4:
                conn.execute(script)
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, 0)", (number,))
        columns = "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name = 'ran_on'"
        assert conn.execute(columns, ("jobs",)).fetchall() == []
        done, queued = (conn.execute("INSERT INTO jobs (type, queue, state, payload, attempts, run_at, created_at)"
                                     " VALUES ('t', 'default', %s, '{}', %s, 0, 0) RETURNING id", (state, attempts)).fetchone()[0]
                        for state, attempts in (("succeeded", 1), ("queued", 0)))  # fmt: skip
        conn.execute("INSERT INTO jobs_quarantine (quarantined_at, reason, id) VALUES (0, 'old', 99)")
    store = PostgresJobStore(empty_url)  # migrates
    try:
        assert store.db.schema_version() == SCHEMA_VERSION >= 4
        assert store.db.fetchall("SELECT id, ran_on FROM jobs ORDER BY id") == [(done, None), (queued, None)]
        assert store.db.fetchall("SELECT id, ran_on FROM jobs_quarantine") == [(99, None)]
        (claimed,) = store.complete_and_claim([], "me", 1)[1]
        here = f"{socket.gethostname()}:{os.getpid()}"
        assert (claimed.id, claimed.ran_on, store.get_job(queued).ran_on, store.get_job(done).ran_on) == (queued, here, here,
                                                                                                        None)  # fmt: skip
    finally:
        store.close()


def test_a_claim_that_takes_nothing_writes_nothing(empty_url):
    """An idle instance woken with the others finds the job locked by the one that won
    (SKIP LOCKED): its claim must not count as a commit (every window and instance would read
    the store again) nor write WAL (a durable commit for nothing, in the winner's way)."""
    from acacia_gui.core.job import Job
    from acacia_gui.store.postgres.store import PostgresJobStore

    store = PostgresJobStore(empty_url, max_size=1)
    try:
        store.register_instance("me")
        store.insert_jobs([Job("t", 0)], "api")
        assert len(store.complete_and_claim([], "me", 1)[1]) == 1  # the queue is found alone: the next claim guesses it
        store.insert_jobs([Job("t", 1)], "api")
        with psycopg.connect(empty_url) as winner, psycopg.connect(empty_url, autocommit=True) as probe:
            winner.execute("SELECT id FROM jobs WHERE state = 'queued' FOR UPDATE").fetchall()
            before = store.data_version(), probe.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
            assert store.complete_and_claim([], "me", 2)[1] == []  # the guessed claim, one statement
            store.worker._alone = None
            assert store.complete_and_claim([], "me", 2)[1] == []  # the general claim
            assert (store.data_version(), probe.execute("SELECT pg_current_wal_insert_lsn()").fetchone()) == before
        assert [job.payload for job in store.complete_and_claim([], "me", 2)[1]] == [1]  # unlocked: claimed
    finally:
        store.close()
