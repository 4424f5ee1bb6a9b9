"""A job watch replays the job's history, then follows it live: no event missed, none twice.

Real `acacia serve`, real sockets. What the watch sends is checked against the database
itself (the events and job_logs tables, read with sqlite3): every row, by id, in order.
Jobs that must still be running when the watch starts wait for a flag file the test
creates, so nothing depends on timing.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import wait_until
from .serve_process import REPO, Sandbox, served_app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory, "watch-replay") as app:
        yield app


@pytest.fixture
def box(served):
    return served[0]


@pytest.fixture
def client(box):
    with box.client() as c:
        yield c


def rows(box: Sandbox, table: str, job_id: int) -> list[tuple]:
    """(id, new_state) of the job's events, or (id, message) of its log lines, from the database file."""
    column = "new_state" if table == "events" else "message"
    with sqlite3.connect(f"file:{box.data_dir / 'acacia.db'}?mode=ro", uri=True) as db:
        return db.execute(f"SELECT id, {column} FROM {table} WHERE job_id = ? ORDER BY id", (job_id,)).fetchall()


def collect(stream) -> list[dict]:
    return [event for event in stream if event is not None]


def state_rows(events: list[dict]) -> list[tuple]:
    return [(e["id"], e["state"]) for e in events if e["kind"] in ("enqueued", "state")]


def log_rows(events: list[dict]) -> list[tuple]:
    return [(e["log_id"], e["message"]) for e in events if e["kind"] == "log"]


def gated_command(flag: Path, before: list[str], after: list[str], exit_code: int = 0) -> str:
    """A shell command that prints `before`, waits for `flag` to exist, prints `after`."""
    say = lambda lines: "; ".join(f"echo {line}" for line in lines)  # noqa: E731
    return f"{say(before)}; while [ ! -e {flag} ]; do sleep 0.02; done; {say(after)}; exit {exit_code}"


def test_watching_a_finished_job_replays_all_its_states_in_order_then_ends(box, client):
    job_id = client.enqueue("shell.run", {"command": "echo one; echo two"})
    wait_until(lambda: client.get(job_id)["state"] == "succeeded", message="job succeeded")
    stream = client.watch(job=job_id)
    events = collect(stream)
    assert state_rows(events) == rows(box, "events", job_id)
    assert [e["state"] for e in events if e["kind"] in ("enqueued", "state")] == ["queued", "running", "succeeded"]
    assert events[0]["kind"] == "enqueued" and events[0]["source"] == "socket" and events[0]["type"] == "shell.run"
    assert log_rows(events) == rows(box, "job_logs", job_id) and [m for _, m in log_rows(events)] == ["one", "two"]
    kinds = [e["kind"] for e in events]
    assert kinds.index("log") > kinds.index("state") and events[-1]["kind"] == "state"  # lines inside the run
    assert kinds.count("progress") <= 1  # the row's last progress, once, before the final state
    assert events[-1]["state"] == "succeeded" and events[-1]["error"] is None and events[-1]["attempt"] == 1
    ids = [e["id"] for e in events if "id" in e]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert stream.end["reason"] == "the job had already finished" and stream.end["job"]["state"] == "succeeded"
    assert stream.ack["since"] == {"event_id": 0, "log_id": 0}


def test_watching_a_running_job_sends_its_history_then_live_events_without_gap_or_duplicate(box, client, tmp_path):
    flag = tmp_path / "go"
    command = gated_command(flag, ["first", "second"], ["third", "fourth"])
    job_id = client.enqueue("shell.run", {"command": command})
    wait_until(lambda: client.get(job_id, logs=2).get("log_count") == 2, message="two lines logged")
    stream = client.watch(job=job_id)
    assert stream.ack["job"]["state"] == "running"
    seen: list[dict] = []
    for event in stream:  # the replay: enqueued, running, the two lines so far
        seen.append(event)
        if event["kind"] == "log" and event["message"] == "second":
            break
    assert [e["state"] for e in seen if e["kind"] in ("enqueued", "state")] == ["queued", "running"]
    flag.touch()  # from here on, everything comes live
    seen += collect(stream)
    assert state_rows(seen) == rows(box, "events", job_id)
    assert log_rows(seen) == rows(box, "job_logs", job_id)
    assert [m for _, m in log_rows(seen)] == ["first", "second", "third", "fourth"]
    assert seen[-1]["kind"] == "state" and seen[-1]["state"] == "succeeded"
    assert stream.end["reason"] == "the job finished"


def test_a_long_log_is_replayed_whole_at_the_client_s_pace(box, client, served):
    # 1 MB of log text, just under a job's 1 MiB log cap, and with each line's envelope ~1.6 MB of
    # replay: more than the server lets wait unsent for one client
    count, width = 4000, 250
    command = f"{sys.executable} -c \"for i in range({count}): print(str(i).rjust({width}, 'x'))\""
    job_id = client.enqueue("shell.run", {"command": command})
    wait_until(lambda: client.get(job_id)["state"] == "succeeded", timeout=60, message="job succeeded")
    stream = client.watch(job=job_id, kinds=["log"])
    lines = log_rows(collect(stream))
    assert [message.lstrip("x") for _, message in lines] == [str(i) for i in range(count)]
    assert lines == rows(box, "job_logs", job_id) and stream.end["job"]["state"] == "succeeded"
    assert served[1].alive() and "dropped" not in served[1].log()


def test_since_an_event_id_replays_only_what_came_after_it(box, client):
    job_id = client.enqueue("shell.run", {"command": "echo alpha; echo beta"})
    wait_until(lambda: client.get(job_id)["state"] == "succeeded", message="job succeeded")
    history = rows(box, "events", job_id)
    running_id = next(event_id for event_id, state in history if state == "running")
    first_line = rows(box, "job_logs", job_id)[0][0]

    after_running = client.watch(job=job_id, since=running_id)
    assert state_rows(collect(after_running)) == [r for r in history if r[0] > running_id]
    assert after_running.ack["since"]["event_id"] == running_id

    with_lines = client.watch(job=job_id, since=running_id, since_log=first_line, kinds=["state", "log"])
    events = collect(with_lines)
    assert [e["kind"] for e in events] == ["log", "state"] and events[0]["message"] == "beta"

    nothing = client.watch(job=job_id, since="now", kinds=["enqueued", "state", "log"])
    assert collect(nothing) == [] and nothing.end["job"]["state"] == "succeeded"

    with pytest.raises(Exception, match="since"):
        client.watch(queue="default", since=1)
    with pytest.raises(Exception, match="since"):
        client.watch(job=job_id, since="yesterday")


def test_a_watch_started_after_a_retry_does_not_end_on_the_old_final_state(box, client):
    job_id = client.enqueue("shell.run", {"command": "echo once; exit 1"})
    wait_until(lambda: client.get(job_id)["state"] == "failed", message="job failed")
    client.retry(job_id)
    # The second run may be queued, running or over already: either way the watch reaches its end.
    stream = client.watch(job=job_id)
    events = collect(stream)
    states = [e["state"] for e in events if e["kind"] in ("enqueued", "state")]
    assert states[:3] == ["queued", "running", "failed"] and states[3] == "queued" and states[-1] == "failed"
    assert len(states) == 6 and state_rows(events) == rows(box, "events", job_id)


def test_the_readme_client_watch_example_prints_a_fast_job_s_events(box, tmp_path):
    readme = (REPO / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "acacia.watch(job=job_id)" in b)
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 1000)
    assert '"/data/big.iso"' in block
    code = block.replace('"/data/big.iso"', repr(str(small)))  # a file that exists: the job takes milliseconds
    env = dict(box.env, ACACIA_DATA_DIR=str(box.data_dir), PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    assert any("'enqueued'" in line for line in printed), result.stdout
    assert any("'running'" in line for line in printed) and "'succeeded'" in printed[-1], result.stdout
