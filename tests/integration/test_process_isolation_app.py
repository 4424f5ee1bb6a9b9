"""`acacia serve` killed (SIGKILL) or stopped (SIGTERM) while its worker processes run handlers:
nothing of theirs outlives it, a restart works at once, and the app-crash policy settles
the jobs that were running. Each test has an app of its own (each one stops or kills it).
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import signal
from pathlib import Path

import psutil
import pytest

from tests.conftest import wait_until
from tests.integration.isolation_harness import Harness
from tests.integration.serve_process import all_gone, descendants

pytestmark = pytest.mark.timeout(180)

SLACK = 20.0  # a loaded 2-core CI machine: the bound on every wait (never asserted as a duration)


@pytest.fixture
def app(tmp_path):
    harness = Harness(tmp_path, "--workers", "3").start()
    yield harness
    below = descendants(harness.pid) if harness.serve.alive() else set()
    assert harness.serve.stop() == 0, harness.serve.log()
    wait_until(lambda: all_gone(below), timeout=SLACK, message="every worker process to end with the app")
    harness.close()


def kill_app(app: Harness) -> set[int]:
    """SIGKILL `acacia serve`; returns every process that was below it."""
    below = descendants(app.pid)
    app.serve.proc.send_signal(signal.SIGKILL)
    app.serve.proc.wait(SLACK)
    app.serve.stop()
    return below


def hold(app: Harness, job_type: str, **payload) -> tuple[int, str, str]:
    """A job that runs until released: (id, release file, record file); returns once it runs."""
    release, record = app.path("release"), app.path("record")
    job_id = app.enqueue(job_type, {"release": release, "record": record, **payload})
    app.read_record(record)
    return job_id, release, record


def rerun_record(app: Harness, record: str) -> dict:
    """What the handler records when it runs again (the old record is removed first)."""
    return app.read_record(record, timeout=SLACK)


def test_sigkill_of_the_app_kills_its_workers_and_their_children(app):
    good, good_release, _ = hold(app, "iso.good")
    job, release, record = hold(app, "iso.hold", sleep_child=True)
    handler_pid = app.read_record(record)["pid"]
    sleeper = wait_until(lambda: [p.pid for p in psutil.Process(handler_pid).children() if p.name() == "sleep"],
                         timeout=SLACK, message="the handler's `sleep 300`")[0]  # fmt: skip
    below = kill_app(app)
    assert {handler_pid, sleeper} <= below
    wait_until(lambda: all_gone(below), timeout=SLACK,
               message=f"the workers and their children {sorted(below)} to die with the app")  # fmt: skip
    Path(record).unlink()
    app.start()
    rerun_record(app, record)  # requeued by recovery, running again
    Path(good_release).touch()
    Path(release).touch()
    assert app.wait_state(good).state == "succeeded"
    assert app.wait_state(job).state == "succeeded"


def test_an_app_crash_requeues_a_repeatable_job_and_interrupts_the_others(app):
    repeatable, release, record = hold(app, "iso.hold")
    once, _, _ = hold(app, "iso.hold_once")  # max_interruptions=1
    unsafe, _, _ = hold(app, "iso.hold_unsafe")  # on_interrupt="fail"
    kill_app(app)
    Path(record).unlink()
    app.start()
    again = rerun_record(app, record)
    assert (again["attempts"], again["interruptions"]) == (1, 1)
    Path(release).touch()
    job = app.wait_state(repeatable)
    assert (job.state, job.attempts, job.interruptions) == ("succeeded", 1, 1)
    job = app.wait_state(once)
    assert job.state == "interrupted" and "max_interruptions=1" in job.error, job.error
    job = app.wait_state(unsafe)
    assert job.state == "interrupted" and "on_interrupt='fail'" in job.error, job.error
    for job_id in (repeatable, once, unsafe):
        assert any(e["source"] == "recovery" for e in app.store.get_events(job_id))


def open_paths(pid: int) -> set[str]:
    """Where the process's descriptors point (files, sockets as socket:[inode])."""
    fd_dir = f"/proc/{pid}/fd"
    paths = set()
    for fd in os.listdir(fd_dir):
        try:
            paths.add(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            continue
    return paths


def listening_sockets(pid: int) -> set[str]:
    """'socket:[inode]' of the Unix sockets `pid` listens on (the kernel lists the path the
    socket was bound to, which Qt renames afterwards, so they are found by their flags)."""
    listening = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 7 and int(fields[3], 16) & 0x10000:  # __SO_ACCEPTCON
            listening.add(f"socket:[{fields[6]}]")
    return listening & open_paths(pid)


@pytest.mark.parametrize("job_type", ["iso.fork", "iso.fork_in_app"])
def test_a_forked_helper_holds_neither_the_instance_lock_nor_the_socket_and_a_restart_works_at_once(app, job_type):
    """In a worker process the helper is in the process's group, and dies with the app; forked
    from a thread of the app itself it outlives the app, and must not keep its lock or socket."""
    in_app = job_type == "iso.fork_in_app"
    good, good_release, good_record = hold(app, "iso.good")
    forked = app.run(job_type)
    assert forked.state == "succeeded"
    helper = app.result(forked.id)["helper"]
    try:
        assert (app.result(forked.id)["pid"] == app.pid) is in_app
        assert psutil.Process(helper).status() != psutil.STATUS_ZOMBIE  # it outlived its job
        held = open_paths(helper)
        lock = str((app.sandbox.data_dir / "instances").resolve() / "{}.lock")
        lock_held_by = lambda pid: [p for p in open_paths(pid) if fnmatch.fnmatch(p, lock.format("*"))]  # noqa: E731
        assert lock_held_by(app.pid)  # the app holds its instance lock...
        assert not lock_held_by(helper), held  # ...the helper does not
        if not in_app:  # a worker process never had the database open either
            assert not [p for p in held if p.startswith(str(app.sandbox.data_dir.resolve()))], held
        listening = listening_sockets(app.pid)
        assert listening  # the app's listening socket...
        assert not listening & held  # ...is not the helper's: a descriptor inherited through fork would be
        below = kill_app(app)
        if in_app:
            assert not all_gone({helper})  # still there while the app restarts
        Path(good_record).unlink()
        app.start()  # at once: nothing left of the dead app may hold its lock or socket
        rerun_record(app, good_record)  # the dead instance's running job is recovered at once, and runs again
        Path(good_release).touch()
        assert app.wait_state(good).state == "succeeded"
        if not in_app:
            wait_until(lambda: all_gone(below | {helper}), timeout=SLACK, message="the helper to die with the app")
    finally:
        if in_app:  # nothing kills a helper forked from the app's own thread but us
            with contextlib.suppress(ProcessLookupError):
                os.kill(helper, signal.SIGKILL)


@pytest.mark.parametrize("job_type", ["iso.thread_forever", "iso.thread_forever_in_app"])
def test_a_non_daemon_thread_left_by_a_handler_does_not_hold_up_sigterm(app, job_type):
    with app.good_job_beside():
        record = app.path("thread")
        job = app.run(job_type, {"record": record})
        assert job.state == "succeeded"
    ran_in = app.read_record(record)["pid"]
    assert (ran_in == app.pid) is (job_type == "iso.thread_forever_in_app")
    below = descendants(app.pid)
    app.serve.proc.send_signal(signal.SIGTERM)
    assert app.serve.proc.wait(SLACK) == 0, app.serve.log()
    wait_until(lambda: all_gone(below), timeout=SLACK, message="the worker processes to end with the app")


def test_sigterm_while_a_handler_ignores_cancel_kills_it_after_its_grace_and_requeues_the_job(tmp_path):
    app = Harness(tmp_path, "--workers", "2", "--stop-timeout", "0.3").start()
    try:
        record = app.path("spin")
        job_id = app.enqueue("iso.spin", {"record": record})  # cancel_grace=1
        pid = app.read_record(record)["pid"]
        below = descendants(app.pid)
        app.serve.proc.send_signal(signal.SIGTERM)
        assert app.serve.proc.wait(SLACK) == 0, app.serve.log()
        wait_until(lambda: all_gone(below | {pid}), timeout=SLACK, message="the spinning handler's process to be gone")
        job = app.job(job_id)
        assert (job.state, job.attempts) == ("queued", 0)  # the stop is not the job's failure
    finally:
        app.close()
