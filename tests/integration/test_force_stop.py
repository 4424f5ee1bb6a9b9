"""A second Ctrl-C (or SIGTERM) while `acacia serve` waits for running jobs stops it at once;
the jobs go back to the queue at the next start, as after a crash."""

from __future__ import annotations

import os
import signal
import textwrap
import time

import pytest

from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess, all_gone, descendants

STUBBORN = textwrap.dedent('''
    """Test plugin: spins, ignoring cancellation, until a release file exists."""
    import os, time
    from acacia_gui.jobs import handler

    RELEASE = {release!r}

    @handler("stubborn.spin", cancel_grace=60)
    def spin(ctx, job):
        while not os.path.exists(RELEASE):
            time.sleep(0.01)
        return "released"
''')


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(tmp_path)
    box.release = tmp_path / "release"
    plugin = box.plugins_dir / "stubborn.py"
    plugin.write_text(STUBBORN.format(release=str(box.release)))
    os.chmod(plugin, 0o600)
    yield box
    box.cleanup()


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_second_signal_stops_at_once_and_the_job_is_recovered(sandbox, second):
    serve = ServeProcess(sandbox, "--workers", "1", "--stop-timeout", "1").start()
    try:
        enqueued = sandbox.cli("enqueue", "stubborn.spin")
        assert enqueued.returncode == 0, enqueued.stderr
        job_id = int(enqueued.stdout)
        store = SqliteJobStore(sandbox.data_dir / "acacia.db")
        wait_until(lambda: store.require_job(job_id).state == "running", timeout=20, message="the job runs")
        workers = descendants(serve.proc.pid)
        serve.proc.send_signal(signal.SIGINT)
        wait_until(lambda: "press Ctrl-C again to stop now" in serve.log(), timeout=10,
                   message="the first message says how to stop at once")  # fmt: skip
        assert "waiting up to 1 s for 1 running job(s)" in serve.log()
        # past --stop-timeout the job is cancelled; the handler ignores it and its 60 s grace runs
        wait_until(lambda: "stopping: cancelling" in serve.log(), timeout=20, message="the stop cancels the job")
        assert serve.alive(), serve.log()
        sent = time.monotonic()
        serve.proc.send_signal(second)
        serve.proc.wait(15)
        assert time.monotonic() - sent < 10, "the second signal stops it promptly"
        assert serve.proc.returncode == 128 + second, serve.log()
        assert "stopping now" in serve.log()
        wait_until(lambda: all_gone(workers), timeout=10, message="the worker processes die with the app")
    finally:
        serve.stop()
    assert store.require_job(job_id).state == "running"  # left as a crash leaves it
    sandbox.release.write_text("go")
    with ServeProcess(sandbox, "--workers", "1"):
        wait_until(lambda: store.require_job(job_id).state == "succeeded", timeout=30, message="recovered and run")
    job = store.require_job(job_id)
    assert job.interruptions == 1 and job.attempts == 1, (job.attempts, job.interruptions)
    assert any(e["source"] == "recovery" for e in store.get_events(job_id))
    store.close()
