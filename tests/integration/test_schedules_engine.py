"""Recurring schedules for real: the ScheduleTicker on a real database, two real processes firing one
schedule, a real `acacia serve` whose handlers (thread and process isolation) see job.scheduled_for,
and wall-clock steps of a real `acacia serve` made with libfaketime (Debian's `faketime` package)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.core.schedules import Schedule
from acacia_gui.engine.schedules import ScheduleTicker
from acacia_gui.store.sqlite import SqliteJobStore
from acacia_gui.store.sqlite_schedules import SLOTS_KEPT
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess

HOUR = 3600.0


@pytest.fixture
def queue(tmp_path):
    store = SqliteJobStore(tmp_path / "jobs.db")
    yield JobQueue(store, Registry())
    store.close()


@pytest.fixture
def ticker(queue):
    tickers = []

    def start(**options) -> ScheduleTicker:
        ticker = ScheduleTicker(queue, **options)
        tickers.append(ticker)
        ticker.start()
        return ticker

    yield start
    for ticker in tickers:
        ticker.stop()


def scheduled_jobs(store) -> list:
    return [job for job in store.list_jobs() if job.scheduled_for is not None]


def test_every_second_fires_each_slot_on_time(queue, ticker):
    """`--every 1s` for 5 s gives 5 ± 1 jobs: here, each of five consecutive slots one job, on time."""
    queue.add_schedule(Schedule("tick", "demo.x", every=1))
    began = time.time()
    ticker()
    jobs = wait_until(lambda: (found := scheduled_jobs(queue.store)) and len(found) >= 5 and found, timeout=15)
    slots = [job.scheduled_for for job in jobs]
    assert slots == sorted(slots) and len(set(slots)) == len(slots)
    assert [b - a for a, b in itertools.pairwise(slots)] == pytest.approx([1.0] * (len(slots) - 1))
    assert 4 <= slots[4] - began <= 6


@pytest.mark.parametrize(("mode", "jobs", "dropped"), [("once", 1, 9), ("all", 10, 0), ("skip", 0, 10)])
def test_the_ticker_started_after_the_app_was_off_applies_catch_up(queue, ticker, mode, jobs, dropped):
    """The app was off for 10.5 h of an hourly schedule: once → 1 job, all → 10, skip → none."""
    created = time.time() - 10.5 * HOUR
    queue.add_schedule(Schedule("hourly", "demo.x", every=HOUR, catch_up=mode, created_at=created, next_at=created + HOUR))
    ticker()
    schedule = wait_until(lambda: (s := queue.get_schedule("hourly")).next_at > time.time() and s)
    assert schedule.next_at == created + 11 * HOUR and schedule.last_dropped == dropped
    found = sorted(job.scheduled_for for job in scheduled_jobs(queue.store))
    assert found == [created + k * HOUR for k in range(11 - jobs, 11)]


def test_a_new_schedule_wakes_the_ticker_at_once(queue, ticker):
    ticker(check_every=30.0)  # it would otherwise look again in 30 s
    created = time.time() - 100
    queue.add_schedule(Schedule("late", "demo.x", every=60, created_at=created, next_at=created + 60))
    wait_until(lambda: scheduled_jobs(queue.store), timeout=5)


def test_a_stepped_wall_clock_is_detected(queue, ticker):
    """An injected wall clock stepped back an hour rebases the delayed job; stepped forward, the
    schedule's missed slots fire at once under its catch_up."""
    offset = [0.0]
    job_id = queue.enqueue(Context.background(), Job("demo.x", delay=HOUR + 5))
    running = ticker(clock=lambda: time.time() + offset[0])
    offset[0] = -HOUR
    wait_until(lambda: running.steps, timeout=5)
    assert running.steps[0] == pytest.approx(-HOUR, abs=1)
    assert queue.store.get_job(job_id).run_at == pytest.approx(time.time() + 5, abs=2)  # an hour earlier
    created = time.time() + offset[0]
    queue.add_schedule(Schedule("ten", "demo.x", every=600, created_at=created, next_at=created + 600))
    offset[0] += 35 * 60
    wait_until(lambda: scheduled_jobs(queue.store), timeout=5)
    assert running.steps[1] == pytest.approx(35 * 60, abs=1)
    (job,) = scheduled_jobs(queue.store)
    assert job.scheduled_for == created + 1800  # catch_up "once": one job, for the latest missed slot
    assert queue.get_schedule("ten").last_dropped == 2


def test_the_slot_table_stays_bounded(queue):
    created = time.time() - 400
    queue.add_schedule(Schedule("fast", "demo.x", every=1, catch_up="all", max_backlog=1000, created_at=created,
                                next_at=created + 1))  # fmt: skip
    (fired,) = queue.fire_due_schedules(time.time())
    assert len(fired.job_ids) >= 399
    kept = queue.store.conn.execute("SELECT count(*) FROM schedule_slots WHERE schedule = 'fast'").fetchone()[0]
    assert kept == SLOTS_KEPT


FIRER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from acacia_gui.core.queue import JobQueue
    from acacia_gui.core.registry import Registry
    from acacia_gui.store.sqlite import SqliteJobStore

    queue = JobQueue(SqliteJobStore(sys.argv[1]), Registry())
    stop = Path(sys.argv[2])
    print("ready", flush=True)
    while not stop.exists():
        queue.fire_due_schedules(time.time())
        time.sleep(0.002)
""")


def test_two_processes_on_one_database_enqueue_each_slot_once(tmp_path):
    """Two real processes fire the same every-1s schedule as fast as they can: no slot twice."""
    path = tmp_path / "shared.db"
    store = SqliteJobStore(path)
    created = time.time() - 20.2
    store.add_schedule(Schedule("tick", "demo.x", every=1, catch_up="all", created_at=created, next_at=created + 1))
    stop = tmp_path / "stop"
    procs = [subprocess.Popen([sys.executable, "-c", FIRER, str(path), str(stop)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        wait_until(lambda: len(scheduled_jobs(store)) >= 24, timeout=30)
    finally:
        stop.touch()
        for proc in procs:
            proc.wait(30)
    slots = [job.scheduled_for for job in scheduled_jobs(store)]
    assert len(slots) == len(set(slots)), "a slot was enqueued twice"
    assert sorted(slots) == [created + k for k in range(1, len(slots) + 1)]  # and none was skipped
    store.close()


# -- a real `acacia serve` -------------------------------------------------------------

PLUGIN = textwrap.dedent("""
    from acacia_gui.jobs import Retry, handler

    @handler("sched.thread", isolation="thread")
    def in_thread(ctx, job):
        return job.scheduled_for

    @handler("sched.process")
    def in_process(ctx, job):
        return job.scheduled_for

    @handler("sched.flaky", isolation="thread", max_attempts=3)
    def flaky(ctx, job):
        if job.attempts < 2:
            raise Retry(5)
        return "ok"

    @handler("sched.quick", isolation="thread")
    def quick(ctx, job):
        return "ok"
""")


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(tmp_path, plugins=False)
    box.plugins_dir.mkdir(mode=0o700)
    plugin = box.plugins_dir / "scheduled.py"
    plugin.write_text(PLUGIN)
    os.chmod(plugin, 0o600)
    yield box
    box.cleanup()


def test_handlers_see_scheduled_for_in_both_isolation_modes(sandbox):
    sandbox.data_dir.mkdir(parents=True)
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    created = time.time() - 150
    for name, job_type in (("in-thread", "sched.thread"), ("in-process", "sched.process")):
        store.add_schedule(Schedule(name, job_type, every=60, created_at=created, next_at=created + 60))
    with ServeProcess(sandbox, "--workers", "2") as serve:

        def both_done() -> list | None:
            done = [j for j in scheduled_jobs(store) if j.state == "succeeded"]
            return done if len(done) == 2 else None

        jobs = wait_until(both_done, timeout=30, message=serve.log())
        for job in jobs:
            assert job.result == job.scheduled_for == created + 120  # once: the latest missed slot
            assert sandbox.client().get(job.id)["scheduled_for"] == job.scheduled_for
    store.close()


def first_message(store, job_id: int) -> str:
    return store.get_events(job_id)[0]["message"]


@pytest.mark.parametrize("mode", ["once", "all", "skip"])
def test_a_six_second_stop_of_the_app_then_a_restart_catches_up_by_the_mode(sandbox, mode):
    """`--every 1s`; the app stops for 6 s and starts again. once: exactly one catch-up job for the
    missed slots; all: one job per missed slot, none lost; skip: none. Each enqueue event says
    which jobs are catch-ups, and on-time firing resumes after the restart."""
    sandbox.data_dir.mkdir(parents=True)
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    store.add_schedule(Schedule("tick", "sched.quick", every=1, catch_up=mode))
    with ServeProcess(sandbox, "--workers", "2") as serve:
        wait_until(lambda: len(scheduled_jobs(store)) >= 2, timeout=20, message=serve.log())
    before = {job.id for job in scheduled_jobs(store)}
    last_before = max(job.scheduled_for for job in scheduled_jobs(store))
    time.sleep(6)  # the outage this test is about: the app is off for 6 s
    restarted = time.time()
    with ServeProcess(sandbox, "--workers", "2") as serve:
        wait_until(lambda: store.get_schedule("tick").last_slot > restarted + 2, timeout=20, message=serve.log())
    after = sorted((job for job in scheduled_jobs(store) if job.id not in before), key=lambda job: job.scheduled_for)
    missed = [last_before + k for k in range(1, int(restarted - last_before))]  # all due while nothing ran
    catch_ups = [job for job in after if "catch-up" in first_message(store, job.id)]
    slots = [job.scheduled_for for job in after]
    assert len(slots) == len(set(slots))
    if mode == "once":
        (job,) = catch_ups
        assert job.scheduled_for >= missed[-1]
        count = int(first_message(store, job.id).split("one job for ")[1].split(" ")[0])
        assert count >= len(missed) >= 5
        assert not set(missed) & set(slots)  # folded into that one job
    elif mode == "all":
        assert set(missed) <= set(slots) and len(missed) >= 5  # every missed slot has its job
        assert {job.scheduled_for for job in catch_ups} >= set(missed)
    else:
        assert catch_ups == [] and not set(missed) & set(slots)
        assert store.get_schedule("tick").last_dropped == 0  # later firings were on time again
    assert slots[-1] > restarted + 2  # and it kept firing on time
    store.close()


FAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))), Path("/nonexistent"))
# libfaketime 0.9.10 breaks time.sleep() (clock_nanosleep with an absolute monotonic deadline gets
# EINVAL) once an offset is set with FAKETIME_DONT_FAKE_MONOTONIC: only the app's own process is
# faked, and it takes LD_PRELOAD out of its environment so its worker processes run on the real clock.
LAUNCHER = (
    "import os, runpy, sys; os.environ.pop('LD_PRELOAD'); sys.argv[0] = 'acacia';"
    " runpy.run_module('acacia_gui', run_name='__main__')"
)


class FakedServe(ServeProcess):
    """`acacia serve` whose wall clock reads the offset written in `clock_file` (monotonic: real)."""

    def __init__(self, sandbox: Sandbox, clock_file: Path) -> None:
        env = {"LD_PRELOAD": str(FAKETIME), "FAKETIME_TIMESTAMP_FILE": str(clock_file), "FAKETIME_NO_CACHE": "1",
               "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # fmt: skip
        super().__init__(sandbox, "--workers", "2", env=env)

    def start(self, timeout: float = 30.0) -> ServeProcess:
        self.sandbox.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, "serve", *self.sandbox.where, *self.extra],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=self.env)  # fmt: skip
        wait_until(lambda: self.proc.poll() is not None or self._answers(), timeout=timeout, message=self.log())
        assert self.proc.poll() is None, self.log()
        return self

    def _answers(self) -> bool:
        from acacia_gui.ipc.client import probe

        hello = probe(self.sandbox.address, timeout=1.0)
        return hello is not None and "error" not in hello


def set_clock(clock_file: Path, offset: str) -> None:
    tmp = clock_file.with_suffix(".tmp")
    tmp.write_text(offset + "\n")
    tmp.replace(clock_file)  # whole: the app never reads a half-written offset


@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime is not installed (apt-get install faketime)")
def test_clock_steps_of_a_real_serve(sandbox, tmp_path):
    """The app's clock is 1 h ahead, then stepped back: a 5 s delay and a 5 s retry backoff set before
    the step still run within seconds, not an hour. Then stepped 35 min forward: an every-10m
    schedule fires its catch-up at once."""
    clock = tmp_path / "clock.rc"
    set_clock(clock, "+3600")
    with FakedServe(sandbox, clock) as serve:
        client = sandbox.client()
        delayed = client.enqueue("sched.quick", delay=5)
        flaky = client.enqueue("sched.flaky")
        wait_until(lambda: client.get(flaky)["state"] == "scheduled", timeout=15, message=serve.log())
        assert client.get(delayed)["run_at"] - time.time() == pytest.approx(HOUR + 5, abs=3)  # the app's clock
        set_clock(clock, "+0")
        stepped = time.monotonic()
        wait_until(lambda: client.get(delayed)["state"] == "succeeded", timeout=15, message=serve.log())
        wait_until(lambda: client.get(flaky)["state"] == "succeeded", timeout=15, message=serve.log())
        assert time.monotonic() - stepped < 12
        assert "went back 3600 s" in serve.log()

        store = SqliteJobStore(sandbox.data_dir / "acacia.db")
        created = time.time()
        store.add_schedule(Schedule("ten", "sched.quick", every=600, created_at=created))
        set_clock(clock, "+2100")
        (job,) = wait_until(lambda: scheduled_jobs(store), timeout=10, message=serve.log())
        assert job.scheduled_for == created + 1800  # catch_up "once": one job, for the latest missed slot
        schedule = store.get_schedule("ten")
        assert schedule.last_dropped == 2 and schedule.next_at == created + 2400
        assert "jumped 2100 s forward" in serve.log()
        store.close()


def test_a_schedule_that_cannot_be_planned_does_not_stop_the_others(queue):
    """A stored zone the system no longer knows (tzdata changed): that schedule says why, the others fire."""
    created = time.time() - 100
    for name in ("broken", "fine"):
        queue.add_schedule(Schedule(name, "demo.x", cron="* * * * *", timezone="UTC", next_at=created))
    with queue.store._write() as conn:
        conn.execute("UPDATE schedules SET timezone = 'Mars/Olympus' WHERE name = 'broken'")
    fired = {item.name: item for item in queue.fire_due_schedules(time.time())}
    assert fired["broken"].job_ids == [] and "unknown time zone 'Mars/Olympus'" in fired["broken"].error
    assert len(fired["fine"].job_ids) == 1 and fired["fine"].error is None
    assert queue.get_schedule("broken").next_at > time.time() + 3000  # tried again in an hour, not every second
