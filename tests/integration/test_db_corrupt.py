"""A damaged database is caught at start, and `acacia db check` / `acacia db recover OUT` (issue 10)."""

from __future__ import annotations

import os
import sqlite3

import pytest

from .serve_process import Sandbox

JOBS = 5000
PAGE = 4096


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("db-corrupt"))
    batch = "\n".join('{"type": "demo.sleep", "payload": {"seconds": 1}, "queue": "held"}' for _ in range(JOBS))
    done = box.cli("enqueue", "--batch", "-", input=batch, timeout=120)
    assert done.returncode == 0, done.stderr
    database = box.data_dir / "acacia.db"
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    pages = os.path.getsize(database) // PAGE
    assert pages > 100
    with open(database, "r+b") as f:  # zero three pages in the middle, the app stopped
        for page in range(pages // 2, pages // 2 + 3):
            f.seek(page * PAGE)
            f.write(b"\0" * PAGE)
    yield box, database
    box.cleanup()


def test_serve_refuses_a_damaged_database_with_one_line(damaged):
    box, database = damaged
    result = box.cli("serve", timeout=60)
    assert result.returncode == 1
    line = [text for text in result.stderr.splitlines() if text.startswith("acacia: ")]
    assert len(line) == 1, result.stderr
    assert str(database) in line[0] and "damaged" in line[0] and "acacia db recover OUT" in line[0]
    assert "Traceback" not in result.stderr


def test_db_check_exit_codes(damaged, tmp_path):
    box, _ = damaged
    bad = box.cli("db", "check")
    assert bad.returncode == 1 and "malformed" in bad.stdout + bad.stderr
    assert box.cli("db", "check", "--full").returncode == 1
    good = Sandbox(tmp_path)
    assert good.cli("enqueue", "demo.sleep").returncode == 0
    ok = good.cli("db", "check")
    assert ok.returncode == 0 and "ok" in ok.stdout
    good.cleanup()


def test_db_recover_saves_the_readable_jobs(damaged):
    box, database = damaged
    out = database.parent / "recovered.db"
    result = box.cli("db", "recover", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "recovered" in result.stdout
    conn = sqlite3.connect(out)
    try:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        saved = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
    finally:
        conn.close()
    assert JOBS * 0.9 < saved <= JOBS
    again = box.cli("db", "recover", str(out))
    assert again.returncode != 0 and "already exists" in again.stderr
