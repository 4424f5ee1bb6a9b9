"""`acacia serve` killed with SIGKILL mid-run, restarted: every job final, none lost, none run twice at once."""

from __future__ import annotations

import json
import os
import signal
import textwrap

import pytest

from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess, all_gone, descendants
from tests.integration.test_crash_recovery import assert_never_ran_twice_at_once

RECORDER = textwrap.dedent('''
    """Test plugin: records each run's start and end, one O_APPEND write per line."""
    import os, time
    from acacia_gui.jobs import handler

    RECORD = {record!r}

    def _write(kind, job):
        fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{{kind}} {{os.getpid()}} {{job.id}} {{job.attempts}} {{time.time():.6f}}\\n".encode())
        finally:
            os.close(fd)

    @handler("rec.sleep", max_attempts=5)
    def rec_sleep(ctx, job):
        _write("start", job)
        ctx.wait(job.payload["seconds"])
        ctx.check()
        _write("end", job)
        return job.id
''')


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(tmp_path)
    record = tmp_path / "record.txt"
    plugin = box.plugins_dir / "recorder.py"
    plugin.write_text(RECORDER.format(record=str(record)))
    os.chmod(plugin, 0o600)
    box.record = record
    yield box
    box.cleanup()


def read_record(path):
    if not path.exists():
        return []
    return [(k, int(p), int(j), int(a), float(t)) for k, p, j, a, t in (line.split() for line in path.read_text().splitlines())]


def test_sigkill_mid_run_then_restart_finishes_every_job(sandbox):
    batch = "\n".join(json.dumps({"type": "rec.sleep", "payload": {"seconds": 0.4}}) for _ in range(10))
    first = ServeProcess(sandbox, "--workers", "3").start()
    enqueued = sandbox.cli("enqueue", "--batch", "-", input=batch)
    assert enqueued.returncode == 0, enqueued.stderr
    ids = [int(line) for line in enqueued.stdout.split()]
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    wait_until(lambda: store.count_jobs(state="running") == 3, timeout=20)
    workers = descendants(first.proc.pid)  # the handlers run in worker processes
    assert len(workers) >= 3
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    first.stop()
    wait_until(lambda: all_gone(workers), timeout=10, message="the app's worker processes die with it")
    assert store.integrity_check() == "ok"
    assert store.count_jobs() == len(ids)
    with ServeProcess(sandbox, "--workers", "3"):
        wait_until(lambda: store.count_jobs(state="succeeded") == len(ids), timeout=60)
    assert {j.state for j in store.list_jobs()} == {"succeeded"}
    assert_never_ran_twice_at_once(read_record(sandbox.record), {first.proc.pid, *workers})
    recovered = [j for j in store.list_jobs() if any(e["source"] == "recovery" for e in store.get_events(j.id))]
    assert len(recovered) == 3 and all((j.attempts, j.interruptions) == (1, 1) for j in recovered)
    store.close()


def test_sigterm_stops_gracefully_and_running_jobs_return_to_the_queue(sandbox):
    serve = ServeProcess(sandbox, "--workers", "2", "--stop-timeout", "0.5").start()
    enqueued = sandbox.cli("enqueue", "rec.sleep", "--payload", '{"seconds": 60}')
    job_id = int(enqueued.stdout)
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    wait_until(lambda: store.get_job(job_id).state == "running", timeout=20)
    assert serve.stop() == 0
    job = store.get_job(job_id)
    assert job.state == "queued" and job.attempts == 0
    assert "app stopped" in store.get_events(job_id)[-1]["message"]
    store.close()


STUBBORN = textwrap.dedent('''
    """Test plugin: a handler that ignores cancellation entirely."""
    import time
    from acacia_gui.jobs import handler

    @handler("stubborn.sleep", max_attempts=1, isolation="thread", max_interruptions=1)
    def stubborn_sleep(ctx, job):
        while True:
            time.sleep(60)
''')


def test_sigterm_with_a_thread_handler_ignoring_cancel_exits_promptly_and_recovery_settles_the_job(sandbox):
    plugin = sandbox.plugins_dir / "stubborn.py"
    plugin.write_text(STUBBORN)
    os.chmod(plugin, 0o600)
    serve = ServeProcess(sandbox, "--workers", "2", "--stop-timeout", "0.3").start()
    job_id = int(sandbox.cli("enqueue", "stubborn.sleep").stdout)
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    wait_until(lambda: store.get_job(job_id).state == "running", timeout=20)
    serve.proc.send_signal(signal.SIGTERM)
    assert serve.proc.wait(20) == 0, serve.log()
    serve.stop()
    assert store.get_job(job_id).state == "running"  # never given back while its handler might still run it
    assert "did not stop" in serve.log()
    with ServeProcess(sandbox, "--workers", "2"):
        wait_until(lambda: store.get_job(job_id).state == "interrupted", timeout=20)
    job = store.get_job(job_id)
    assert "max_interruptions=1" in job.error
    assert store.get_events(job_id)[-1]["source"] == "recovery"
    store.close()


def test_serve_that_cannot_start_its_worker_exits_1_clearly(sandbox):
    sandbox.data_dir.mkdir(parents=True)
    (sandbox.data_dir / "instances").write_text("not a folder")  # the instance lock cannot be made
    serve = ServeProcess(sandbox)
    with pytest.raises(AssertionError, match="exited with 1"):
        serve.start()
    serve.stop()
    log = serve.log()
    assert "acacia: could not start running jobs" in log and "Traceback" not in log


TORTURE = textwrap.dedent('''
    """Test plugin: short, repeatable jobs (the default on_interrupt="retry"), one attempt each."""
    import time
    from acacia_gui.jobs import handler

    @handler("torture.work")
    def work(ctx, job):
        time.sleep(0.003)
        return job.id
''')


@pytest.mark.timeout(240)
def test_sigkill_at_any_moment_leaves_every_repeatable_one_attempt_job_succeeded(sandbox):
    """The issue's promise: with the default max_attempts=1, SIGKILLs of the app while short
    jobs stream through worker processes (many claimed ahead, some waiting inside a worker)
    leave every job `succeeded` after a restart, none lost, none failed, the file sound."""
    plugin = sandbox.plugins_dir / "torture.py"
    plugin.write_text(TORTURE)
    os.chmod(plugin, 0o600)
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    batch = "\n".join(json.dumps({"type": "torture.work"}) for _ in range(600))
    enqueued = sandbox.cli("enqueue", "--batch", "-", input=batch)
    assert enqueued.returncode == 0, enqueued.stderr
    ids = [int(line) for line in enqueued.stdout.split()]
    killed = []
    for _ in range(4):
        serve = ServeProcess(sandbox, "--workers", "2").start()
        done_before = store.count_jobs(state="succeeded")
        # kill once it made progress beyond the jobs the previous kill sent back (they run first)
        wait_until(lambda b=done_before: store.count_jobs(state="succeeded") >= b + 90, timeout=60)
        workers = descendants(serve.proc.pid)
        serve.proc.send_signal(signal.SIGKILL)
        serve.proc.wait(10)
        serve.stop()
        killed.append(store.count_jobs(state="running"))
        wait_until(lambda w=workers: all_gone(w), timeout=10, message="the worker processes die with the app")
        assert store.integrity_check() == "ok"
    with ServeProcess(sandbox, "--workers", "2"):
        wait_until(lambda: store.count_jobs(state=["queued", "running", "scheduled"]) == 0, timeout=120)
    states = {j.state for j in store.list_jobs(limit=1000)}
    assert states == {"succeeded"}, {s: store.count_jobs(state=s) for s in states}
    assert store.count_jobs() == len(ids)
    assert any(killed), "no kill caught a job mid-run: the test proved nothing"
    assert all(j.attempts == 1 for j in store.list_jobs(limit=1000))
    assert sum(1 for j in store.list_jobs(limit=1000) if j.interruptions) >= 1
    assert store.integrity_check() == "ok"
    store.close()
