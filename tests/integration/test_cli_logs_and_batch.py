"""`acacia logs ID [-f]` and `acacia enqueue --batch` of any size, against a real `acacia serve`
(and, for `logs` without -f, against the database with no app running)."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acacia_gui.cli.logs import LOGS_PAGE
from acacia_gui.core.definitions import DEFAULT_MAX_LINE_BYTES

from ..conftest import wait_until
from .serve_process import Sandbox, ServeProcess, served_app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory, "cli-logs") as app:
        yield app


@pytest.fixture
def box(served):
    return served[0]


def finished(box: Sandbox, command: str, state: str = "succeeded") -> int:
    with box.client() as client:
        job_id = client.enqueue("shell.run", {"command": command})
        wait_until(lambda: client.get(job_id)["state"] == state, timeout=60, message=f"job {state}")
    return job_id


def gated(flag: Path, before: list[str], after: list[str], exit_code: int = 0) -> str:
    echo = lambda lines: "; ".join(f"echo {line}" for line in lines)  # noqa: E731
    return f"{echo(before)}; while [ ! -e {flag} ]; do sleep 0.02; done; {echo(after)}; exit {exit_code}"


class Follower:
    """`acacia logs ID -f` in a subprocess, read line by line with a deadline (never blocking forever)."""

    def __init__(self, box: Sandbox, job_id: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "acacia_gui", "logs", str(job_id), "-f", *box.where],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=box.env)  # fmt: skip
        self.buffer = b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)

    def lines(self, n: int, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while self.buffer.count(b"\n") < n:
            left = deadline - time.monotonic()
            assert left > 0, f"only {self.buffer!r} after {timeout} s"
            if self.selector.select(left):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"acacia logs -f exited early: {self.buffer!r} {self.proc.stderr.read()!r}"
                self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n", n)
        return [line.decode() for line in lines]

    def finish(self) -> tuple[int, list[str], str]:
        out, err = self.proc.communicate(timeout=60)
        self.selector.close()
        rest = (self.buffer + out).decode().splitlines()
        return self.proc.returncode, rest, err.decode()


# -- acacia logs ------------------------------------------------------------------------------

def test_logs_prints_the_whole_log_from_the_first_line_over_several_pages(box):
    count = 2 * LOGS_PAGE + 500
    job_id = finished(box, f"seq 1 {count}")
    result = box.cli("logs", str(job_id))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.splitlines() == [str(i) for i in range(1, count + 1)]
    lines = [json.loads(line) for line in box.cli("logs", str(job_id), "--json").stdout.splitlines()]
    assert [line["message"] for line in lines] == [str(i) for i in range(1, count + 1)]
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids) and len(set(ids)) == count and {line["level"] for line in lines} == {"INFO"}
    stamped = box.cli("logs", str(job_id), "-t").stdout.splitlines()
    assert stamped[0].endswith(" INFO    1") and len(stamped) == count


def test_logs_pages_through_the_socket_op(box):
    job_id = finished(box, "seq 1 25")
    with box.client() as client:
        first = client.logs(job_id, limit=10)
        assert [line["message"] for line in first["lines"]] == [str(i) for i in range(1, 11)] and first["more"]
        second = client.logs(job_id, after=first["next"], limit=10)
        third = client.logs(job_id, after=second["next"], limit=10)
        assert [line["message"] for line in second["lines"] + third["lines"]] == [str(i) for i in range(11, 26)]
        assert not third["more"] and third["state"] == "succeeded"
        assert client.logs(job_id, after=third["next"]) == {"id": job_id, "state": "succeeded", "lines": [],
                                                             "next": third["next"], "more": False}  # fmt: skip


def test_logs_of_an_unknown_job_is_bad_input(box):
    result = box.cli("logs", "987654")
    assert result.returncode == 2 and "no job with id 987654" in result.stderr


def test_logs_follow_prints_live_lines_and_exits_0_when_the_job_succeeds(box, tmp_path):
    flag = tmp_path / "go"
    with box.client() as client:
        job_id = client.enqueue("shell.run", {"command": gated(flag, ["first", "second"], ["third", "fourth"])})
    follower = Follower(box, job_id)
    assert follower.lines(2) == ["first", "second"]  # the log so far, then it waits for more
    with box.client() as client:
        assert client.get(job_id)["state"] == "running"
    flag.touch()
    status, rest, err = follower.finish()
    assert status == 0, err
    assert rest == ["third", "fourth"]


def test_logs_follow_exits_1_when_the_job_fails(box, tmp_path):
    flag = tmp_path / "go"
    with box.client() as client:
        job_id = client.enqueue("shell.run", {"command": gated(flag, ["trying"], ["giving up"], exit_code=3)})
    follower = Follower(box, job_id)
    assert follower.lines(1) == ["trying"]
    flag.touch()
    status, rest, err = follower.finish()
    assert status == 1 and rest == ["giving up"]
    assert f"job {job_id} failed" in err and "exited with code 3" in err


def test_logs_follow_on_a_finished_job_prints_it_all_and_exits_with_its_outcome(box):
    ok = finished(box, "echo done")
    result = box.cli("logs", str(ok), "-f")
    assert (result.returncode, result.stdout) == (0, "done\n")
    failed = finished(box, "echo oops; exit 1", state="failed")
    result = box.cli("logs", str(failed), "-f")
    assert (result.returncode, result.stdout) == (1, "oops\n") and "failed" in result.stderr


def test_logs_without_an_app_reads_the_database(tmp_path):
    box = Sandbox(tmp_path)
    try:
        with ServeProcess(box, "--workers", "1"):
            job_id = finished(box, f"seq 1 {LOGS_PAGE + 10}")
        result = box.cli("logs", str(job_id))
        assert result.returncode == 0 and "no app is running" in result.stderr
        assert result.stdout.splitlines() == [str(i) for i in range(1, LOGS_PAGE + 11)]
        follow = box.cli("logs", str(job_id), "-f")
        assert follow.returncode == 1 and "acacia serve" in follow.stderr  # following needs the app
    finally:
        box.cleanup()


# -- acacia enqueue --batch of any size ------------------------------------------------------------

def batch_lines(queue: str, n: int, bad_at: int | None = None) -> str:
    lines = []
    for number in range(1, n + 1):
        seconds = "ten" if number == bad_at else 0
        lines.append(json.dumps({"type": "demo.sleep", "payload": {"seconds": seconds}, "queue": queue,
                                 "delay": 3600, "priority": number}))  # fmt: skip
    return "\n".join(lines) + "\n"


def test_a_20000_line_batch_goes_through_in_chunks_with_every_id(box):
    batch = batch_lines("bulk", 20_000)
    assert len(batch.encode()) > 1.3 * DEFAULT_MAX_LINE_BYTES  # more than one request can hold
    result = box.cli("enqueue", "--batch", "-", input=batch, timeout=300)
    assert result.returncode == 0, result.stderr
    ids = [int(line) for line in result.stdout.split()]
    assert len(ids) == 20_000 and len(set(ids)) == 20_000 and ids == sorted(ids)
    with box.client() as client:
        listed = client.list(queue="bulk", order_by="priority")
        assert listed["total"] == 20_000
        assert [job["id"] for job in listed["jobs"]] == ids  # line N is job ids[N-1]
        client.delete_finished()  # nothing final yet; the jobs stay scheduled an hour


def test_a_batch_with_a_bad_line_at_15000_writes_nothing(box):
    result = box.cli("enqueue", "--batch", "-", input=batch_lines("badbulk", 20_000, bad_at=15_000), timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "batch line 15000" in result.stderr and "seconds" in result.stderr
    assert result.stdout == ""
    with box.client() as client:
        assert client.list(queue="badbulk")["total"] == 0
