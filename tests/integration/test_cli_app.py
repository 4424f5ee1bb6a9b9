"""The `acacia` CLI against a running `acacia serve`: everything goes through the socket."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from ..conftest import wait_until
from .serve_process import served_app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory, "cli-app") as app:
        yield app


@pytest.fixture
def box(served):
    return served[0]


def ok(box, *args, input=None):
    result = box.cli(*args, input=input)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def _ctrl_c_as_at_a_terminal() -> None:
    """A command started in the background by a non-interactive shell (`cmd &`, as some CI
    runners start the suite) inherits SIGINT ignored, and Python then leaves it ignored: the
    CLI must get Ctrl-C as it does at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_cli(box, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "acacia_gui", *args, *box.where], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=box.env,
                            preexec_fn=_ctrl_c_as_at_a_terminal)  # fmt: skip


def test_enqueue_goes_through_the_app(box):
    result = ok(box, "enqueue", "demo.sleep", "--payload", '{"seconds": 0}')
    assert result.stderr == ""  # no "working on the database directly" notice
    job_id = int(result.stdout)
    with box.client() as client:
        assert client.get(job_id, events=True)["events"][0]["source"] == "socket"


def test_enqueue_wait_success_failure_and_json(box):
    result = ok(box, "enqueue", "demo.sleep", "--payload", '{"seconds": 0.3}', "--wait")
    assert result.stdout.strip().isdigit()
    assert "succeeded" in result.stderr.splitlines()[-1]
    failed = box.cli("enqueue", "demo.sleep", "--payload", '{"seconds": 0, "fail": true}', "--wait")
    assert failed.returncode == 1 and "failed" in failed.stderr and "on purpose" in failed.stderr
    final = json.loads(ok(box, "enqueue", "demo.sleep", "--payload", '{"seconds": 0}', "--wait", "--json").stdout)
    assert final["state"] == "succeeded" and final["result"] == {"slept": 0}


@pytest.mark.parametrize("cancel", [False, True], ids=["detach", "cancel-on-interrupt"])
def test_ctrl_c_during_wait(box, cancel):
    args = ["enqueue", "demo.sleep", "--payload", '{"seconds": 60}', "--wait"]
    proc = popen_cli(box, *args, *(["--cancel-on-interrupt"] if cancel else []))
    job_id = int(proc.stdout.readline())
    with box.client() as client:
        wait_until(lambda: client.get(job_id)["state"] == "running", message="job running")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        if cancel:
            assert "cancel requested" in err
            wait_until(lambda: client.get(job_id)["state"] == "cancelled", message="job cancelled")
        else:
            assert "detached from job" in err
            assert client.get(job_id)["state"] == "running"
            client.cancel(job_id)


def test_watch_prints_json_lines_until_the_job_ends(box):
    with box.client() as client:
        client.pause("watched", create=True)
        job_id = client.enqueue("demo.sleep", {"seconds": 0.5}, queue="watched")
        proc = popen_cli(box, "watch", str(job_id), "--json")
        snapshot = json.loads(proc.stdout.readline())  # the watch is in place
        assert snapshot["kind"] == "snapshot" and snapshot["job"]["state"] == "queued"
        client.resume("watched")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["kind"] == "state" and events[-1]["state"] == "succeeded"
    assert any(e["kind"] == "state" and e["state"] == "running" for e in events)
    assert any(e["kind"] == "progress" for e in events) and all(e["job_id"] == job_id for e in events)


def test_watch_draws_a_live_table_on_a_terminal(box):
    client = box.client()
    client.pause("onscreen", create=True)
    job_id = client.enqueue("demo.sleep", {"seconds": 1}, queue="onscreen")
    master, slave = pty.openpty()
    env = dict(box.env, COLUMNS="120", LINES="30", PYTHONIOENCODING="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "acacia_gui", "watch", str(job_id), *box.where],
                            stdin=slave, stdout=slave, stderr=slave, env=env)  # fmt: skip
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if b"PROGRESS" in screen and client.stats()["queues"] and client.get(job_id)["state"] == "queued":
                client.resume("onscreen")  # the table is up: now let the job run
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(master)
    client.close()
    text = screen.decode("utf-8", "replace")
    assert proc.returncode == 0, text[-2000:]
    assert "\x1b[?1049h" in text and "\x1b[?1049l" in text  # alternate screen, restored
    assert f"Acacia: job {job_id}" in text and "PROGRESS" in text and "█" in text
    assert f"job {job_id} succeeded" in text


def test_data_commands_through_the_socket(box):
    first = int(ok(box, "enqueue", "demo.sleep", "--payload", '{"seconds": 0}', "--queue", "cmds").stdout)
    held = int(ok(box, "enqueue", "demo.sleep", "--delay", "3600", "--queue", "cmds").stdout)
    listed = json.loads(ok(box, "list", "--queue", "cmds", "--json").stdout)
    assert {j["id"] for j in listed["jobs"]} == {first, held}
    assert json.loads(ok(box, "show", str(held), "--json").stdout)["state"] == "scheduled"
    cancelled = json.loads(ok(box, "cancel", str(held), "--json").stdout)
    assert cancelled[0]["state"] == "cancelled"
    assert json.loads(ok(box, "retry", str(held), "--json").stdout)[0]["state"] == "queued"
    ok(box, "cancel", str(held))
    assert json.loads(ok(box, "delete", str(held), "--json").stdout)["deleted"] == 1
    assert json.loads(ok(box, "pause", "cmds", "--json").stdout)["paused"] is True
    assert json.loads(ok(box, "resume", "cmds", "--json").stdout)["paused"] is False
    assert json.loads(ok(box, "concurrency", "cmds", "1", "--json").stdout)["concurrency"] == 1
    assert json.loads(ok(box, "concurrency", "--workers", "3", "--json").stdout) == {"workers": 3}
    stats = json.loads(ok(box, "stats", "--json").stdout)
    assert stats["concurrency"] == 3 and stats["uptime"] > 0
    assert "workers: 3" in ok(box, "stats").stdout
    ok(box, "concurrency", "--workers", "2")
    handlers = json.loads(ok(box, "handlers", "--json").stdout)
    assert {h["type"] for h in handlers["handlers"]} == {"demo.sleep", "file.hash", "folder.process", "shell.run"}
    assert json.loads(ok(box, "info", "--json").stdout)["running"] is True
    for args in (["list"], ["show", str(first)], ["stats"], ["handlers"]):
        assert ok(box, *args).stderr == ""


def test_bad_input_through_the_socket_writes_nothing(box):
    with box.client() as client:
        before = client.list()["total"]
    good = json.dumps({"type": "demo.sleep"})
    cases = [
        (["enqueue", "demo.slep"], None, "known types: demo.sleep"),
        (["enqueue", "demo.sleep", "--payload", '{"seconds": -3}'], None, "payload.seconds"),
        (["enqueue", "demo.sleep", "--max-attempts", "0"], None, "max_attempts"),
        (["enqueue", "--batch", "-"], f"{good}\n{good}\n{{\"type\": \"demo.sleep\", \"timeout\": -1}}\n", "batch line 3"),
        (["show", "987654"], None, "no job with id 987654"),
        (["cancel", "987654"], None, "no job with id 987654"),
    ]
    for args, stdin, words in cases:
        result = box.cli(*args, input=stdin)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and words in result.stderr, (args, result.stderr)
    with box.client() as client:
        assert client.list()["total"] == before


def test_a_batch_line_over_the_socket_line_limit_says_size_limit_and_fix(box):
    """A large batch is sent in chunks (test_cli_logs_and_batch.py); one job alone over the limit cannot be."""
    with box.client() as client:
        before = client.list()["total"]
    small = json.dumps({"type": "demo.sleep", "payload": {"seconds": 0}, "delay": 3600})
    huge = json.dumps({"type": "shell.run", "payload": {"command": "echo " + "x" * 1_100_000}})
    batch = "\n".join([small, small, huge, small, small]) + "\n"
    result = box.cli("enqueue", "--batch", "-", input=batch)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "batch line 3 is" in result.stderr and "1048576 bytes" in result.stderr
    size = int(result.stderr.split("batch line 3 is ")[1].split()[0])
    assert size > 1048576 and f"--max-line-bytes {size}" in result.stderr and result.stdout == ""
    with box.client() as client:
        assert client.list()["total"] == before


def test_show_and_get_name_the_instance_that_ran_a_finished_job(served):
    """`ran_on` ("host:pid" of the app that claimed the job) stays once the job ends; `show` prints it as
    `ran on` for a job that is not running, and keeps its `instance` line for one that runs."""
    box, serve = served
    here = f"{socket.gethostname()}:{serve.proc.pid}"
    done = int(ok(box, "enqueue", "demo.sleep", "--payload", '{"seconds": 0}', "--wait").stdout)
    with box.client() as client:
        job = client.get(done)
        assert (job["state"], job["ran_on"], job["instance"], job["instance_id"]) == ("succeeded", here, None, None)
        never = client.enqueue("demo.sleep", {"seconds": 0}, delay=3600)
        assert client.get(never)["ran_on"] is None
        client.cancel(never)
    assert json.loads(ok(box, "show", str(done), "--json").stdout)["ran_on"] == here
    text = ok(box, "show", str(done)).stdout
    assert f"\n  ran on    {here}\n" in text and "\n  instance " not in text, text
    assert "ran on" not in ok(box, "show", str(never)).stdout
    running = int(ok(box, "enqueue", "demo.sleep", "--payload", '{"seconds": 60}').stdout)
    with box.client() as client:
        wait_until(lambda: client.get(running)["state"] == "running", message="job running")
        assert client.get(running)["ran_on"] == client.get(running)["instance"] == here
        text = ok(box, "show", str(running)).stdout
        assert f"\n  instance  {here} (instance " in text and "ran on" not in text, text
        client.cancel(running)
