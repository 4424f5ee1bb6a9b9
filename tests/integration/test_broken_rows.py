"""Rows written behind Acacia's back, by the `sqlite3` shell (or, where it is not installed,
a plain connection of Python's sqlite3 module, as a script would): the schema refuses a broken
row; one written past the schema's rules fails alone, every other job runs, and `list`,
`show` and `stats` keep working, with and without a running app."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until

from .serve_process import Sandbox, ServeProcess

PAST_THE_CHECKS = "PRAGMA ignore_check_constraints = ON"
BREAK_JOB_2 = "UPDATE jobs SET payload = '{\"seconds\": 0' WHERE id = 2"  # a JSON object never closed
ORPHAN = ("INSERT INTO jobs (type, queue, state, payload, run_at, created_at)"
          " VALUES ('demo.sleep', 'orphan', 'queued', '{\"seconds\": 0}', 0.0, 0.0)")  # fmt: skip


def foreign_sql(db: Path, *statements: str) -> tuple[bool, str]:
    """Run statements as another program; (whether they all ran, the error)."""
    if shutil.which("sqlite3"):
        shell = subprocess.run(["sqlite3", "-bail", str(db), ";\n".join(statements) + ";"],
                               capture_output=True, text=True, timeout=30)  # fmt: skip
        return shell.returncode == 0, shell.stderr
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
        return True, ""
    except sqlite3.Error as exc:
        return False, str(exc)
    finally:
        conn.close()


@pytest.fixture
def box(tmp_path):
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.cleanup()


def enqueue(box: Sandbox, n: int) -> None:
    for _ in range(n):
        result = box.cli("enqueue", "demo.sleep", "--payload", '{"seconds": 0}')
        assert result.returncode == 0, result.stderr


def test_the_shell_cannot_write_a_broken_row_and_one_written_past_the_rules_leaves_the_cli_working(box):
    enqueue(box, 3)
    db = box.data_dir / "acacia.db"
    ran, error = foreign_sql(db, BREAK_JOB_2)
    assert not ran and "CHECK constraint failed" in error
    assert foreign_sql(db, PAST_THE_CHECKS, BREAK_JOB_2, ORPHAN, "DELETE FROM queues WHERE name = 'orphan'")[0]

    listed = box.cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    jobs = {job["id"]: job for job in json.loads(listed.stdout)["jobs"]}
    assert sorted(jobs) == [1, 2, 3, 4]
    assert jobs[2]["payload"] is None and "row in the database is broken (payload" in jobs[2]["error"]
    assert jobs[1]["payload"] == {"seconds": 0} and jobs[1]["error"] is None
    shown = box.cli("show", "2")
    assert shown.returncode == 0 and "broken" in shown.stdout, shown.stderr
    stats = box.cli("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    queues = {queue["name"]: queue for queue in json.loads(stats.stdout)["queues"]}
    assert queues["orphan"]["counts"]["queued"] == 1 and queues["default"]["counts"]["queued"] == 3


def test_a_running_app_fails_the_broken_row_alone_and_runs_every_other_job(box):
    enqueue(box, 3)
    db = box.data_dir / "acacia.db"
    assert foreign_sql(db, PAST_THE_CHECKS, BREAK_JOB_2, ORPHAN)[0]
    store = SqliteJobStore(db)
    try:
        with ServeProcess(box, "--workers", "2") as serve:
            wait_until(lambda: store.count_jobs(state=["queued", "running"]) == 0, timeout=30)
            enqueue(box, 2)  # through the socket: the worker goes on
            wait_until(lambda: store.count_jobs(state="succeeded") == 5, timeout=30)
            assert serve.alive()
        assert "polling the queue failed" not in serve.log() and "could not write job states" not in serve.log()
        broken = store.get_job(2)
        assert broken.state == "failed" and broken.error.startswith("set aside: its row in the database was broken")
        assert [j.id for j in store.list_jobs(state="succeeded")] == [1, 3, 4, 5, 6]
        assert store.get_queue("orphan").counts["succeeded"] == 1
    finally:
        store.close()
