"""Handlers that crash, leak or ignore cancellation, in worker processes of a real `acacia serve`.

Each test runs a good job beside the misbehaving one, in the other slot; it must still end
`succeeded`, in the process it started in, and the app must still answer. One app serves
the whole module: none of these tests stops it.
"""

from __future__ import annotations

import time

import psutil
import pytest

from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until
from tests.integration.isolation_harness import Harness
from tests.integration.serve_process import all_gone, descendants

pytestmark = pytest.mark.timeout(180)

TERM_TO_KILL = 2.0  # worker_process.TERM_TO_KILL: SIGTERM, then SIGKILL this much later
SLACK = 15.0  # a loaded 2-core CI machine: the bound on everything else (never asserted as a duration)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    harness = Harness(tmp_path_factory.mktemp("isolation"), "--workers", "2").start()
    yield harness
    assert harness.serve.stop() == 0, harness.serve.log()
    harness.close()


def job_pids(record: dict) -> set[int]:
    return {record["pid"], *record.get("descendants", ()), *(record[k] for k in ("shell", "escaped") if k in record)}


# -- crashes: the job fails naming the cause; attempts and retries apply ---------------------------


def test_a_segfault_fails_the_job_naming_the_signal_and_is_retried_while_attempts_remain(app):
    with app.good_job_beside():
        record = app.path("segfault")
        job = app.run("iso.segfault", {"record": record}, max_attempts=2)
    assert job.state == "failed"
    assert job.error == "the handler's process died: SIGSEGV (segmentation fault) (after 2 attempts)"
    assert job.attempts == 2
    assert app.read_record(record)["attempts"] == 2
    assert [e["new_state"] for e in app.store.get_events(job.id)].count("scheduled") == 1  # retried once
    logs = " ".join(line["message"] for line in app.store.get_logs(job.id))
    assert "Segmentation fault" in logs  # faulthandler's report, from the process's stderr


def test_os_exit_fails_the_job_with_the_exit_status(app):
    with app.good_job_beside():
        job = app.run("iso.exit3")
    assert (job.state, job.error, job.attempts) == ("failed", "the handler's process exited with status 3", 1)


def test_sys_exit_in_a_handler_fails_the_job_naming_systemexit(app):
    with app.good_job_beside():
        job = app.run("iso.sys_exit")
        after = app.run("iso.pid_process")
    assert (job.state, job.error) == ("failed", "SystemExit")
    assert after.state == "succeeded"  # the slot runs its next job


def test_abort_fails_the_job_naming_sigabrt(app):
    with app.good_job_beside():
        job = app.run("iso.abort")
    assert job.state == "failed"
    assert job.error.startswith("the handler's process died: SIGABRT")


def test_going_over_the_memory_limit_fails_the_job_naming_the_limit(app):
    with app.good_job_beside():
        job = app.run("iso.memory")
        after = app.run("iso.allocate", {"bytes": 100 * 1000 * 1000})  # the slot's next job has no limit
    assert (job.state, job.error) == ("failed", "exceeded its memory limit of 64 MB")
    assert after.state == "succeeded", after.error


def test_exhausting_file_descriptors_harms_neither_the_app_nor_the_other_jobs(app):
    serve = psutil.Process(app.pid)
    with app.good_job_beside():
        failed = app.run("iso.fds")
        leaked = app.run("iso.fds", {"keep": True})  # returns normally, its descriptors still open
        after = app.run("iso.open_file")  # the slot's next job: a process with descriptors to spare
    assert failed.state == "failed" and "Too many open files" in failed.error
    assert leaked.state == "succeeded" and app.result(leaked.id)["errno"] == 24  # EMFILE
    assert after.state == "succeeded", after.error
    assert serve.num_fds() < 200  # the worker's table filled up, never the app's
    with app.sandbox.client() as client:
        assert client.hello()["pid"] == app.pid


# -- where handlers run ---------------------------------------------------------------------------


def test_a_thread_isolated_handler_runs_in_the_app_and_a_process_one_does_not(app):
    with app.good_job_beside():
        in_thread = app.run("iso.pid_thread")
        in_process = app.run("iso.pid_process")
    assert in_thread.state == in_process.state == "succeeded"
    assert app.result(in_thread.id)["pid"] == app.pid
    assert app.result(in_process.id)["pid"] != app.pid
    assert app.result(in_process.id)["pid"] in descendants(app.pid)


# -- hard cancel, timeouts and CPU limits: no process of the job is left --------------------------


def cancel_and_wait(app: Harness, job_id: int, grace: float):
    started = time.monotonic()
    with app.sandbox.client() as client:
        client.cancel(job_id)
    job = app.wait_state(job_id, timeout=grace + TERM_TO_KILL + SLACK)
    return job, time.monotonic() - started


def test_a_spinning_handler_that_ignores_cancel_is_killed_after_its_grace(app):
    with app.good_job_beside():
        record = app.path("spin")
        job_id = app.enqueue("iso.spin", {"record": record})
        pid = app.read_record(record)["pid"]
        job, took = cancel_and_wait(app, job_id, grace=1)
        assert job.state == "cancelled"
        assert job.error == ("cancelled while running; the handler did not stop within its 1 s grace period, "
                             "so its process was killed")  # fmt: skip
        assert took >= 1  # it had its grace period
        wait_until(lambda: all_gone({pid}), timeout=SLACK, message="the handler's process to be gone")


def test_a_handler_with_a_subprocess_tree_that_ignores_cancel_leaves_no_process(app):
    with app.good_job_beside():
        record = app.path("tree")
        job_id = app.enqueue("iso.tree", {"record": record})
        pids = job_pids(app.read_record(record))
        assert len(pids) >= 5  # the handler, sh, its two sleeps, the sleep in a session of its own
        job, _ = cancel_and_wait(app, job_id, grace=1)
        assert job.state == "cancelled" and "process was killed" in job.error
        wait_until(lambda: all_gone(pids), timeout=SLACK, message=f"the job's processes {pids} to be gone")


def test_a_timeout_on_a_spinning_handler_fails_the_job_and_leaves_no_process(app):
    with app.good_job_beside():
        record = app.path("timeout")
        job = app.run("iso.spin_timeout", {"record": record}, wait=1 + 1 + TERM_TO_KILL + SLACK)
        pid = app.read_record(record)["pid"]
    assert job.state == "failed"
    assert job.error.startswith("timed out after 1 s")
    wait_until(lambda: all_gone({pid}), timeout=SLACK, message="the handler's process to be gone")


def test_a_cpu_time_limit_fails_a_spinning_handler_naming_the_limit(app):
    with app.good_job_beside():
        record = app.path("cpu")
        job = app.run("iso.spin_cpu", {"record": record}, wait=60)
        pid = app.read_record(record)["pid"]
    assert (job.state, job.error) == ("failed", "exceeded its CPU time limit of 1 s")
    wait_until(lambda: all_gone({pid}), timeout=SLACK, message="the handler's process to be gone")


# -- nice: the job's thread only -------------------------------------------------------------------


def test_nice_applies_to_the_job_and_not_to_the_next_job_of_its_slot(app):
    """The good job holds one slot, so both jobs run in the other one; the pool reuses the
    process that ran last, so normally the very same process (tried up to 3 times in case
    a replacement process joined the pool in between)."""
    same_process = False
    with app.good_job_beside():
        for _ in range(3):
            niced = app.run("iso.nice")
            following = app.run("iso.priority")
            assert niced.state == following.state == "succeeded"
            assert app.result(niced.id)["nice"] == 10
            assert app.result(following.id)["nice"] == 0
            if app.result(niced.id)["pid"] == app.result(following.id)["pid"]:
                same_process = True
                break
    assert same_process, "the following job never ran in the niced job's process"


# -- a helper forked by a handler holds the process's pipes ---------------------------------------


def test_a_process_that_dies_while_a_forked_helper_holds_its_pipes_still_fails_its_job(app):
    """The helper inherits the pipe to the app, so no EOF tells the app that the process
    died: the supervisor must notice the death itself (it used to wait forever)."""
    with app.good_job_beside():
        forked = app.run("iso.fork")
        helper = app.result(forked.id)["helper"]
        exited = app.run("iso.exit3", wait=SLACK)
        wait_until(lambda: all_gone({helper}), timeout=SLACK, message="the helper to be killed with its process")
    assert forked.state == "succeeded"
    assert (exited.state, exited.error) == ("failed", "the handler's process exited with status 3")


# -- limits given per job, at enqueue ---------------------------------------------------------------


def test_limits_given_per_job_at_enqueue_override_the_handlers(app):
    """The socket and the CLI do not take per-job limits yet: enqueued with the Python API,
    straight into the database, as a script would; the app picks them up."""
    from acacia_gui.core.context import Context
    from acacia_gui.core.job import Job
    from acacia_gui.core.queue import JobQueue
    from acacia_gui.core.registry import Registry

    store = SqliteJobStore(app.sandbox.data_dir / "acacia.db")
    queue = JobQueue(store, Registry())
    enqueue = lambda *args, **kw: queue.enqueue(Context.background(), Job(*args, **kw))  # noqa: E731
    try:
        with app.good_job_beside():
            record = app.path("patient")
            patient = enqueue("iso.spin_patient", {"record": record}, cancel_grace=0)  # its handler's grace: 60 s
            app.read_record(record)
            cancelled, _ = cancel_and_wait(app, patient, grace=0)
            allocate = app.wait_state(enqueue("iso.allocate", {"bytes": 500 * 1000 * 1000}, memory_limit="64MB"))
            niced = app.wait_state(enqueue("iso.priority", nice=5))
            spin = app.wait_state(enqueue("iso.spin_patient", {}, cpu_time_limit=1), timeout=60)
    finally:
        store.close()
    assert cancelled.state == "cancelled" and "within its 0 s grace period" in cancelled.error
    assert (allocate.state, allocate.error) == ("failed", "exceeded its memory limit of 64 MB")
    assert niced.state == "succeeded" and app.result(niced.id)["nice"] == 5
    assert (spin.state, spin.error) == ("failed", "exceeded its CPU time limit of 1 s")


def test_limits_given_per_job_on_the_command_line(app):
    help_text = app.sandbox.cli("enqueue", "--help").stdout
    flags = ("--cancel-grace", "--memory-limit", "--cpu-time-limit", "--nice")
    missing = [flag for flag in flags if flag not in help_text]
    if missing:
        pytest.skip(f"`acacia enqueue` has no {', '.join(missing)} yet")
    with app.good_job_beside():
        record = app.path("patient")
        enqueued = app.sandbox.cli("enqueue", "iso.spin_patient", "--payload", f'{{"record": "{record}"}}',
                                   "--cancel-grace", "0")  # fmt: skip
        assert enqueued.returncode == 0, enqueued.stderr
        app.read_record(record)
        cancelled, _ = cancel_and_wait(app, int(enqueued.stdout), grace=0)
        ids = {}
        for name, args in {"memory": ("iso.allocate", "--payload", '{"bytes": 500000000}', "--memory-limit", "64MB"),
                           "nice": ("iso.priority", "--nice", "5"),
                           "cpu": ("iso.spin_patient", "--cpu-time-limit", "1")}.items():  # fmt: skip
            enqueued = app.sandbox.cli("enqueue", *args)
            assert enqueued.returncode == 0, enqueued.stderr
            ids[name] = int(enqueued.stdout)
        memory, niced, cpu = (app.wait_state(ids[name], timeout=60) for name in ("memory", "nice", "cpu"))
    assert cancelled.state == "cancelled" and "within its 0 s grace period" in cancelled.error
    assert (memory.state, memory.error) == ("failed", "exceeded its memory limit of 64 MB")
    assert niced.state == "succeeded" and app.result(niced.id)["nice"] == 5
    assert (cpu.state, cpu.error) == ("failed", "exceeded its CPU time limit of 1 s")
