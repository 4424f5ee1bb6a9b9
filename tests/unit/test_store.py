"""SqliteJobStore's own matters: WAL and pragmas, constraints, durability levels, old and newer files,
disk full, a locked file, and how it is composed. What every backend promises is in tests/contract."""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.errors import InvalidOptionError, StoreError
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.store import sqlite_db, sqlite_jobs, sqlite_worker
from acacia_gui.store.rows import COLUMN_RULES, COLUMNS, OWNER_RULE
from acacia_gui.store.sqlite import SCHEMA_VERSION, SqliteJobStore
from acacia_gui.store.sqlite_artifacts import SqliteArtifacts
from acacia_gui.store.sqlite_checkpoints import SqliteCheckpoints
from acacia_gui.store.sqlite_jobs import SqliteJobs
from acacia_gui.store.sqlite_rates import SqliteRates
from acacia_gui.store.sqlite_schedules import SqliteSchedules
from acacia_gui.store.sqlite_stalls import SqliteStalls
from acacia_gui.store.sqlite_worker import READY_QUEUES, SqliteWorkerStore

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def store(tmp_path):
    s = SqliteJobStore(tmp_path / "acacia.db")
    yield s
    s.close()


def add(store, n=1, **options):
    return JobQueue(store, Registry()).enqueue_many(Context.background(), [Job("t", {"i": i}, **options) for i in range(n)])


def test_new_database_is_wal_with_schema_version(store):
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_full_durability_sets_synchronous_full(tmp_path):
    s = SqliteJobStore(tmp_path / "f.db", synchronous="full")
    assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    with pytest.raises(InvalidOptionError):
        SqliteJobStore(tmp_path / "g.db", synchronous="sometimes")


def test_check_constraints_refuse_invalid_states(store):
    add(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET state = 'exploded'")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET state = 'running'")  # running needs an owner
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET max_attempts = 0")


def test_the_checked_in_v1_database_still_opens(tmp_path):
    copy = tmp_path / "old.db"
    shutil.copy(DATA / "acacia-v1.db", copy)
    old = SqliteJobStore(copy)
    jobs = old.list_jobs()
    assert [j.state for j in jobs] == ["succeeded", "failed", "queued"]
    assert jobs[0].result == {"ok": True} and jobs[1].error == "boom"
    assert old.integrity_check() == "ok"


def test_a_newer_schema_is_refused_clearly(tmp_path):
    path = tmp_path / "new.db"
    SqliteJobStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer Acacia"):
        SqliteJobStore(path)


def test_disk_full_raises_store_error_and_keeps_the_file_sound(store):
    add(store, 5)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match="full"):
        add(store, 2000)
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.count_jobs() == 5
    assert store.integrity_check() == "ok"


def test_a_locked_file_raises_store_error_and_changes_nothing(tmp_path):
    store = SqliteJobStore(tmp_path / "locked.db", busy_timeout=0.05)
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked"):
            add(store)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.count_jobs() == 0 and add(store) == [1]
    store.close()


def public_methods(cls: type) -> dict[str, object]:
    return {name: value for name, value in vars(cls).items() if callable(value) and not name.startswith("_")}


@pytest.mark.parametrize("part", [SqliteJobs, SqliteWorkerStore, SqliteArtifacts, SqliteStalls, SqliteCheckpoints,
                                  SqliteRates, SqliteSchedules], ids=lambda c: c.__name__)
def test_the_store_offers_each_part_s_methods_unchanged(part):
    """SqliteJobStore forwards to its parts: same names, same signatures, so callers keep one object."""
    for name, method in public_methods(part).items():
        assert name in public_methods(SqliteJobStore), f"SqliteJobStore lacks {part.__name__}.{name}"
        assert inspect.signature(getattr(SqliteJobStore, name)) == inspect.signature(method), name


def test_the_parts_share_only_the_database_s_public_methods():
    """No mixin reaching into another object's privates: each part holds the SqliteDatabase and
    uses its public methods; neither imports the other or the store that composes them."""
    for module in (sqlite_jobs, sqlite_worker):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert not re.findall(r"\bdb\._\w+", source), module.__name__
        siblings = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom) and node.level == 1}
        assert siblings <= {"rows", "sqlite_db", "sqlite_dependencies", "sqlite_artifacts", "sqlite_rates"}, (
            module.__name__, siblings)
        assert "sqlite_jobs" not in siblings and "sqlite_worker" not in siblings and "sqlite" not in siblings


# -- rows other programs write (schema 3) ---------------------------------------------
MIGRATIONS = Path(sqlite_db.__file__).with_name("migrations")


def foreign_write(path: Path, sql: str, params: tuple = (), *, past_the_checks: bool = False) -> None:
    """Write as another program would: a plain connection of Python's sqlite3 module."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if past_the_checks:
            conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(sql, params)
    finally:
        conn.close()


@pytest.mark.parametrize(
    "change",
    [
        "payload = '{not json'", "payload = x'7b7d'", "result = 'not json'", "priority = 'high'", "priority = 1.5",
        "attempts = 'one'", "run_at = 'soon'", "timeout = 'long'", "progress = 2", "progress_message = x'00'",
        "type = 'has spaces'", "type = CAST(x'ff' AS TEXT)", "queue = 'x/y'", "queue = ''", "error = x'00'",
        "created_at = 'today'", "memory_limit = 1.5", "nice = 20", "cancel_requested = 'yes'", "instance_id = 'me'",
    ],
)  # fmt: skip
def test_the_schema_refuses_a_row_acacia_could_not_read(store, change):
    add(store)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        foreign_write(store.path, f"UPDATE jobs SET {change} WHERE id = 1")
    assert store.get_job(1).payload == {"i": 0}


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 shell is not installed (apt-get install sqlite3)")
def test_the_sqlite3_shell_cannot_write_a_broken_row(store):
    add(store)
    store.close()
    insert = ("INSERT INTO jobs (type, queue, state, payload, run_at, created_at)"
              " VALUES ('demo.sleep', 'default', 'queued', '{\"seconds\": 1', 0.0, 0.0);")  # fmt: skip
    for sql in (insert, "UPDATE jobs SET payload = 'seconds=1' WHERE id = 1;"):
        shell = subprocess.run(["sqlite3", str(store.path), sql], capture_output=True, text=True, timeout=30)
        assert shell.returncode != 0 and "CHECK constraint failed" in shell.stderr, shell
    good = subprocess.run(["sqlite3", str(store.path), "INSERT INTO jobs (type, queue, state, payload, run_at, created_at)"
                           " VALUES ('demo.sleep', 'default', 'queued', '{\"seconds\": 1}', 0.0, 0.0);"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert [j.payload for j in store.list_jobs()] == [{"i": 0}, {"seconds": 1}]


def test_the_broken_row_rules_are_the_schema_s_checks(store):
    """rows.COLUMN_RULES tell which column of a row breaks the schema: each is its column's CHECK, word for word."""
    schema = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs'").fetchone()[0]
    checks = re.findall(r"CHECK \((.*)\)", schema)
    assert sorted(checks) == sorted([rule for rule, _, _ in COLUMN_RULES.values()] + [OWNER_RULE])
    assert list(COLUMN_RULES) == list(COLUMNS[1:])


def test_ready_queues_cost_one_index_seek_per_queue(store):
    """A claim finds the queues with queued jobs (with a `queues` row or not) by a loose scan of jobs_ready."""
    plan = [row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {READY_QUEUES}")]
    assert "SEARCH jobs USING INDEX jobs_ready (queue>?)" in plan, plan
    assert not [step for step in plan if step.startswith("SCAN jobs") and "jobs_ready" not in step], plan


def test_a_chain_step_opens_no_savepoint_unless_a_broken_row_spoiled_it(store):
    """complete_and_claim's first try runs without a savepoint (each page it changes would be copied
    for one); a write a broken row spoiled is run again from the start in savepoints."""
    from acacia_gui.core.job import JobState
    from acacia_gui.core.runner import Completion

    first = Job("t", {})
    JobQueue(store, Registry()).enqueue_many(Context.background(), [first, Job("t", {}, after=[first]), Job("t", {})])
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    _, (job,) = store.complete_and_claim([], "me", 1)
    _, (child,) = store.complete_and_claim([Completion(job.id, job.attempts, JobState.SUCCEEDED)], "me", 1)
    assert child.id == first.id + 1
    assert statements and not [sql for sql in statements if "SAVEPOINT" in sql], statements
    statements.clear()
    foreign_write(store.path, "UPDATE jobs SET payload = ? WHERE id = ?", ("{not json", first.id + 2), past_the_checks=True)
    _, claimed = store.complete_and_claim([Completion(child.id, child.attempts, JobState.SUCCEEDED)], "me", 1)
    assert claimed == [] and store.require_job(first.id + 2).state is JobState.FAILED  # set aside, not claimed
    assert [sql for sql in statements if sql.startswith("SAVEPOINT")], statements
    assert store.require_job(child.id).state is JobState.SUCCEEDED


def old_database(path: Path, version: int) -> sqlite3.Connection:
    """An empty database as Acacia wrote it at schema `version` (its migration scripts, run as they were)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for script in sorted(MIGRATIONS.glob("*.sql"))[:version]:
        conn.executescript(script.read_text(encoding="utf-8"))
    conn.execute(f"PRAGMA user_version = {version}")
    return conn


def test_upgrading_sets_broken_rows_aside_and_keeps_every_other_row_as_it_was(tmp_path):
    path = tmp_path / "v2.db"
    old = old_database(path, 2)
    insert = ("INSERT INTO jobs (type, queue, priority, state, payload, attempts, run_at, result, created_at, started_at,"
              " finished_at, instance_id) VALUES (?, ?, ?, ?, ?, ?, 100.0, ?, 100.0, ?, ?, ?)")  # fmt: skip
    rows = {
        "good": ("demo.sleep", "default", 5, "queued", '{"seconds": 1}', 0, None, None, None, None),
        "done": ("demo.sleep", "default", 0, "succeeded", "{}", 1, '{"ok": true}', 101.0, 102.0, None),
        "orphan": ("demo.sleep", "orphan", 0, "queued", "[]", 0, None, None, None, None),
        "not json": ("demo.sleep", "default", 0, "queued", "{'seconds': 1}", 0, None, None, None, None),
        "blob": ("demo.sleep", "default", 0, "queued", b"{}", 0, None, None, None, None),
        "result": ("demo.sleep", "default", 0, "succeeded", "{}", 1, "ok", 101.0, 102.0, None),
        "priority": ("demo.sleep", "default", "high", "queued", "{}", 0, None, None, None, None),
        "running": ("demo.sleep", "default", 0, "running", "{", 1, None, 101.0, None, "instance-gone"),
        "type": ("demo sleep", "default", 0, "queued", "{}", 0, None, None, None, None),
    }
    ids = {name: old.execute(insert, values).lastrowid for name, values in rows.items()}
    doomed = old.execute(insert, rows["good"]).lastrowid
    old.execute("DELETE FROM jobs WHERE id = ?", (doomed,))  # the largest id ever used is not in the table
    old.execute("CREATE VIEW report AS SELECT state, count(*) FROM jobs GROUP BY state")  # another program's
    old.close()

    store = SqliteJobStore(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    good, done = store.get_job(ids["good"]), store.get_job(ids["done"])
    assert (good.state, good.priority, good.payload) == ("queued", 5, {"seconds": 1})
    assert (done.state, done.result, done.started_at, done.finished_at) == ("succeeded", {"ok": True}, 101.0, 102.0)
    assert store.get_queue("orphan").counts["queued"] == 1  # its queue row was made
    broken = {name: ids[name] for name in ("not json", "blob", "result", "priority", "running", "type")}
    for name, job_id in broken.items():
        job = store.get_job(job_id)
        assert (job.state, job.instance_id) == ("failed", None), name
        assert job.error.startswith("set aside by the upgrade to schema 3: its row was broken (")
        assert "jobs_quarantine" in job.error
        assert store.get_events(job_id)[-1]["source"] == "recovery"
    assert "(payload)" in store.get_job(broken["not json"]).error and store.get_job(broken["not json"]).payload is None
    assert store.get_job(broken["priority"]).priority == 0 and store.get_job(broken["type"]).type == "unreadable"
    assert store.get_job(broken["result"]).result is None
    kept = store.conn.execute("SELECT id, typeof(payload), payload, priority, reason FROM jobs_quarantine ORDER BY id").fetchall()
    assert [row[0] for row in kept] == sorted(broken.values())
    assert kept[1][1:3] == ("blob", b"{}") and kept[3][3] == "high"  # the originals, verbatim
    assert kept[0][4] == "schema 3 upgrade: broken payload"
    indexes = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'")}
    assert indexes == {"jobs_ready", "jobs_due", "jobs_running", "jobs_state", "jobs_finished", "jobs_unique_key"}
    assert add(store) == [doomed + 1]  # ids are still never reused
    assert store.conn.execute("SELECT count(*) FROM sqlite_temp_master").fetchone()[0] == 0
    assert dict(store.conn.execute("SELECT * FROM report")) == {"queued": 3, "succeeded": 1, "failed": 6}
    assert store.integrity_check() == "ok"
    assert [j.id for j in store.complete_and_claim([], "me", 10)[1]] == [ids["good"], ids["orphan"], doomed + 1]


def test_a_row_past_the_checks_is_set_aside_whole_into_quarantine(store):
    add(store, 3)
    foreign_write(store.path, "UPDATE jobs SET payload = 'oops', run_at = 'soon', nice = 99 WHERE id = 2", past_the_checks=True)
    assert [j.id for j in store.complete_and_claim([], "me", 10)[1]] == [1, 3]
    job = store.get_job(2)
    assert job.state == "failed" and job.nice is None and job.payload is None and isinstance(job.run_at, float)
    assert "payload is not valid JSON text" in job.error and "nice is not" in job.error and "run_at is not" in job.error
    quarantined = store.conn.execute("SELECT id, payload, run_at, nice, reason FROM jobs_quarantine").fetchall()
    assert quarantined == [(2, "oops", "soon", 99, quarantined[0][4])] and "payload" in quarantined[0][4]
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.conn.execute("SELECT count(*) FROM jobs WHERE NOT (" + " AND ".join(
        f"({rule})" for rule, _, _ in COLUMN_RULES.values()) + ")").fetchone()[0] == 0  # fmt: skip


# -- schema 10: jobs.ran_on ----------------------------------------------------------------

def database_at(path: Path, version: int) -> None:
    """An empty database as Acacia wrote it at schema `version`: its SQL scripts and Python steps up
    to `version`, each in the order and the transaction SqliteDatabase._migrate gives it."""
    from acacia_gui.store.migrations import PYTHON_STEPS

    scripts = {int(p.name.split("_", 1)[0]): p for p in MIGRATIONS.glob("*.sql")}
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        for number in sorted(n for n in {*scripts, *PYTHON_STEPS} if n <= version):
            if number in PYTHON_STEPS:
                PYTHON_STEPS[number](conn)
            else:
                for statement in sqlite_db._split_sql(scripts[number].read_text(encoding="utf-8")):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_upgrading_to_schema_10_adds_ran_on_empty_for_existing_rows(tmp_path):
    import os
    import socket

    path = tmp_path / "v9.db"
    database_at(path, 9)
    old = sqlite3.connect(path, isolation_level=None)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 9
    assert "ran_on" not in [row[1] for row in old.execute("PRAGMA table_info(jobs)")]
    insert = ("INSERT INTO jobs (type, queue, state, payload, attempts, run_at, created_at, started_at, finished_at,"
              " instance_id) VALUES ('t', 'default', ?, '{}', ?, 100.0, 100.0, ?, ?, ?)")  # fmt: skip
    done = old.execute(insert, ("succeeded", 1, 101.0, 102.0, None)).lastrowid
    running = old.execute(insert, ("running", 1, 101.0, None, "instance-of-schema-9")).lastrowid
    queued = old.execute(insert, ("queued", 0, None, None, None)).lastrowid
    old.execute("INSERT INTO jobs_quarantine (quarantined_at, reason, id, type) VALUES (100.0, 'old', 99, 't')")
    old.close()

    store = SqliteJobStore(path)
    try:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 10
        assert [store.get_job(i).ran_on for i in (done, running, queued)] == [None, None, None]  # nobody knows
        assert store.get_job(running).instance_id == "instance-of-schema-9"
        assert store.conn.execute("SELECT id, ran_on FROM jobs_quarantine").fetchall() == [(99, None)]
        fresh = SqliteJobStore(tmp_path / "fresh.db")
        try:
            tables = "SELECT name, sql FROM sqlite_master WHERE name IN ('jobs', 'jobs_quarantine') ORDER BY name"
            assert store.conn.execute(tables).fetchall() == fresh.conn.execute(tables).fetchall()  # as a new file has it
        finally:
            fresh.close()
        schema = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs'").fetchone()[0]
        assert "\n    ran_on           TEXT CHECK (ran_on IS NULL OR typeof(ran_on) = 'text')," in schema  # its own line
        with pytest.raises(sqlite3.IntegrityError):
            store.conn.execute("UPDATE jobs SET ran_on = x'ff' WHERE id = ?", (done,))  # a blob: not text
        (claimed,) = store.complete_and_claim([], "me", 1)[1]
        here = f"{socket.gethostname()}:{os.getpid()}"
        assert (claimed.id, claimed.ran_on, store.get_job(queued).ran_on) == (queued, here, here)
        assert store.get_job(done).ran_on is None  # only a claim writes it
        assert store.integrity_check() == "ok"
    finally:
        store.close()
