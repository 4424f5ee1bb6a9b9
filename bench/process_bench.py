"""Handlers in worker processes: what process isolation costs and buys, next to baselines measured in the same run.

    python bench/process_bench.py                  # everything (1-2 min); prints a table, writes bench/results.md's section
    python bench/process_bench.py --case NAME      # one case, one JSON line (what main() runs per case)
    python bench/process_bench.py --profile        # where the time goes on the process path (see bench/README.md)

Measures, each case in its own subprocess with a fresh temp directory, handlers from a real
plugin file (loaded with `load_plugins`, so a worker process can import it again):
- no-op jobs completed per second, 2 workers, synchronous=NORMAL: process isolation, thread
  isolation (`@handler(..., isolation="thread")`) and the raw SQLite loop of baselines.py,
  interleaved, 3 runs each, the median kept. The worker runs a few hundred jobs first (both
  worker processes started, the plugin loaded in each), then the timed jobs are enqueued
  into a paused queue and the clock starts at `resume`;
- hard-cancel latency of a handler that spins and ignores the cancel (cancel_grace=0): from
  `queue.cancel(job_id)` to the job's `cancelled` state event on the bus;
- the cost of a crash (a segfault): from the moment the handler is about to crash (it
  stamps time.monotonic(), one clock for all processes) until the next job of the same slot
  starts (concurrency 1), and until the crashed job's `failed` event;
- the memory of one idle worker process (after it ran jobs and loaded the plugin), and of
  this (headless) app process for reference.
The baselines next to cancel, crash and memory are floors: SIGKILL and reap of a spinning bare
Python process; starting a bare interpreter and one that imports what a worker imports;
the RSS of a bare interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO))

from common import THROUGHPUT_JOBS, machine_info, percentile  # noqa: E402

REPEATS = 3
WARMUP_JOBS = 500  # before the timed throughput part: starts both processes and loads the plugin in each
CANCEL_SAMPLES, CANCEL_WARMUP = 50, 3
CRASH_SAMPLES, CRASH_WARMUP = 30, 2
FLOOR_SAMPLES = 10
CASE_TIMEOUT = 180
TIMES, DASH = "\u00d7", "\u2013"  # multiplication sign and en dash (escaped: ruff flags the characters)
SECTION = "## Worker processes"  # results.md: this heading and everything under it up to the next `## ` is ours

TARGETS = {"process_ratio": 0.4, "thread_ratio": 0.6, "cancel_p99_ms": 500, "crash_p99_ms": 500, "worker_rss_mb": 40}

PLUGIN = """
import ctypes
import os
import time

from acacia_gui.jobs import handler


def _stamp(job):
    with open(job.payload["path"], "w") as out:
        out.write(f"{time.monotonic()!r} {os.getpid()}")


@handler("bench.noop")
def noop(ctx, job):
    return True


@handler("bench.noop_thread", isolation="thread")
def noop_thread(ctx, job):
    return True


@handler("bench.stamp")
def stamp(ctx, job):
    _stamp(job)
    return True


@handler("bench.spin", cancel_grace=0)
def spin(ctx, job):
    _stamp(job)
    while True:  # ignores the cancel
        pass


@handler("bench.crash")
def crash(ctx, job):
    _stamp(job)
    ctypes.string_at(0)  # SIGSEGV
"""


# -- the app side: a store, the plugin, a PoolWorker on a QCoreApplication ------------------
class App:
    def __init__(self, workdir: Path, *, concurrency: int, max_jobs_per_process: int | None = None) -> None:
        from PySide6.QtCore import QCoreApplication

        from acacia_gui.core.context import Context
        from acacia_gui.core.queue import JobQueue
        from acacia_gui.core.registry import Registry
        from acacia_gui.engine.processes.pool import ProcessPool
        from acacia_gui.plugins.loader import load_plugins
        from acacia_gui.qt.worker import PoolWorker
        from acacia_gui.store.sqlite import SqliteJobStore

        self.qt = QCoreApplication.instance() or QCoreApplication([])
        self.workdir = workdir
        plugins = workdir / "plugins"
        plugins.mkdir(mode=0o700)
        os.chmod(plugins, 0o700)
        (plugins / "bench_plugin.py").write_text(PLUGIN)
        os.chmod(plugins / "bench_plugin.py", 0o600)
        report = load_plugins(plugins, entry_points=False)
        if report.problems:
            raise RuntimeError(f"the bench plugin did not load: {report.problems[0].message}")
        self.registry = Registry()
        self.registry.replace_all(report.handlers)
        self.queue = JobQueue(SqliteJobStore(workdir / "acacia.db", synchronous="normal"), self.registry)
        options = {} if max_jobs_per_process is None else {"max_jobs_per_process": max_jobs_per_process}
        self.pool = ProcessPool(**options)
        self.worker = PoolWorker(self.queue, concurrency=concurrency, instances_dir=workdir / "instances",
                                 processes=self.pool)  # fmt: skip
        self.ctx = Context.background()
        self.states: dict[int, dict[str, float]] = {}  # job id → state → time.monotonic() of its event
        self.on_state: Callable[[Any], None] | None = None
        self.queue.bus.subscribe(self._on_event)

    def _on_event(self, event) -> None:
        if event.kind == "state" and event.job_id is not None:
            self.states.setdefault(event.job_id, {})[event.state] = time.monotonic()
            if self.on_state is not None:
                self.on_state(event)

    def start(self) -> None:
        self.worker.start(self.ctx, self.registry)

    def stop(self) -> None:
        from acacia_gui.core.context import Context

        self.worker.stop(Context.background().with_timeout(5))
        self.queue.store.close()

    def enqueue(self, jobs: list[tuple[str, Any]]) -> list[int]:
        from acacia_gui.core.job import Job

        return self.queue.enqueue_many(self.ctx, [Job(job_type, payload) for job_type, payload in jobs])

    def wait(self, condition: Callable[[], bool], timeout: float, what: str, interval_ms: int = 2) -> None:
        """Run the Qt event loop (as an idle app does) until `condition` holds."""
        from PySide6.QtCore import QEventLoop, QTimer

        if condition():
            return
        deadline = time.monotonic() + timeout
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: loop.quit() if condition() or time.monotonic() > deadline else None)
        timer.start(interval_ms)
        loop.exec()
        timer.stop()
        if not condition():
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")

    def settled(self, processes: int) -> bool:
        """`processes` worker processes idle or busy, none starting: no spawn competes for the cores."""
        return len(self.pool.pids) >= processes and getattr(self.pool, "_starting", 0) == 0


# -- CPU time of this process and its worker processes -----------------------------------
def _cpu_of(pid: int) -> float | None:
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


class CpuMeter:
    """This process's CPU time plus its worker processes' (live ones through psutil, reaped
    ones through RUSAGE_CHILDREN). Approximate: a process still starting at the end is missed."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.own = time.process_time()
        self.live = {pid: cpu for pid in pool.pids if (cpu := _cpu_of(pid)) is not None}
        self.children = self._reaped()

    @staticmethod
    def _reaped() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def since(self) -> tuple[float, float]:
        """(this process's CPU seconds, the worker processes') since construction."""
        own = time.process_time() - self.own
        workers = 0.0
        for pid in set(self.pool.pids) | set(self.live):
            now = _cpu_of(pid)
            workers += (now if now is not None else 0.0) - self.live.get(pid, 0.0)
        workers += self._reaped() - self.children
        return own, workers


# -- the cases ------------------------------------------------------------------------
def case_throughput(workdir: Path, isolation: str, jobs: int = THROUGHPUT_JOBS, max_jobs_per_process: int | None = None,
                    profiler=None) -> dict[str, Any]:  # fmt: skip
    """Steady no-op throughput, 2 workers: warm up, fill a paused queue, time from resume to the N-th success."""
    from engine_bench import _run_loop_until
    from PySide6.QtCore import QEventLoop

    job_type = {"process": "bench.noop", "thread": "bench.noop_thread"}[isolation]
    app = App(workdir, concurrency=2, max_jobs_per_process=max_jobs_per_process)
    done = [0, 0]  # succeeded so far, target
    loop = QEventLoop()

    def count(event) -> None:
        if event.state == "succeeded":
            done[0] += 1
            if done[0] == done[1]:
                loop.quit()

    app.on_state = count
    app.start()
    done[1] = WARMUP_JOBS
    app.enqueue([(job_type, i) for i in range(WARMUP_JOBS)])
    _run_loop_until(loop, 60, "the warm-up jobs")
    app.wait(lambda: app.settled(2) and len(app.pool.idle_pids) == len(app.pool.pids), 30, "idle worker processes")
    spawned_before, processes_after_warmup = app.pool.spawned, len(app.pool.pids)
    app.queue.pause("default")
    for first in range(0, jobs, 1000):
        app.enqueue([(job_type, i) for i in range(first, min(jobs, first + 1000))])
    done[0], done[1] = 0, jobs
    meter = CpuMeter(app.pool)
    if profiler is not None:
        profiler.enable()
    start = time.perf_counter()
    app.queue.resume("default")
    _run_loop_until(loop, 150, f"{jobs} no-op jobs")
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
    own, workers = meter.since()
    spawned = app.pool.spawned - spawned_before
    app.stop()
    return {"count": jobs, "seconds": seconds, "rate": jobs / seconds, "cpu_us_per_job": (own + workers) / jobs * 1e6,
            "app_cpu_us_per_job": own / jobs * 1e6, "worker_cpu_us_per_job": workers / jobs * 1e6,
            "processes_spawned": spawned, "processes_after_warmup": processes_after_warmup}  # fmt: skip


def case_raw(workdir: Path) -> dict[str, Any]:
    from baselines import raw_throughput

    return raw_throughput(workdir, "normal")


def case_cancel(workdir: Path) -> dict[str, Any]:
    """A handler that stamps, then spins ignoring the cancel (cancel_grace=0); queue.cancel → `cancelled` event."""
    app = App(workdir, concurrency=1)
    app.start()
    samples, call = [], []
    for i in range(CANCEL_WARMUP + CANCEL_SAMPLES):
        stamp = workdir / f"spin-{i}"
        (job_id,) = app.enqueue([("bench.spin", {"path": str(stamp)})])
        app.wait(stamp.exists, 30, "the spinning handler to start")
        app.wait(lambda: app.settled(1), 30, "the replacement process")  # no spawn competing for the cores
        t0 = time.monotonic()
        app.queue.cancel(job_id)
        returned = time.monotonic()
        app.wait(lambda job_id=job_id: "cancelled" in app.states.get(job_id, {}), 10, "the cancelled event", 1)
        if i >= CANCEL_WARMUP:
            samples.append(app.states[job_id]["cancelled"] - t0)
            call.append(returned - t0)
    app.stop()
    return {**_summary(samples), "cancel_call_p50_ms": statistics.median(call) * 1000}


def _stamped(path: Path) -> tuple[float, int]:
    at, pid = path.read_text().split()
    return float(at), int(pid)


def case_crash(workdir: Path) -> dict[str, Any]:
    """Concurrency 1: a handler that segfaults, then a job that stamps its start (time and pid). Per crash:
    crash → the slot's next job starts (in a new process, or in a spare the pool had started), and crash → `failed`."""
    app = App(workdir, concurrency=1)
    app.start()
    app.enqueue([("bench.stamp", {"path": str(workdir / f"warm-{i}")}) for i in range(20)])
    app.wait(lambda: (workdir / "warm-19").exists() and app.settled(1), 30, "the warm-up jobs")
    to_next, to_next_new, to_failed = [], [], []
    for i in range(CRASH_WARMUP + CRASH_SAMPLES):
        crashed, started = workdir / f"crash-{i}", workdir / f"next-{i}"
        before = set(app.pool.pids)
        crash_id, next_id = app.enqueue([("bench.crash", {"path": str(crashed)}), ("bench.stamp", {"path": str(started)})])
        app.wait(lambda next_id=next_id: "succeeded" in app.states.get(next_id, {}), 30, "the job after a crash")
        app.wait(lambda: app.settled(1), 30, "the worker processes to settle")  # no spawn competes with the next sample
        state = app.states.get(crash_id, {})
        if "failed" not in state:
            raise RuntimeError(f"the crash job ended {sorted(state)}, not failed")
        at, _ = _stamped(crashed)
        next_at, next_pid = _stamped(started)
        if i >= CRASH_WARMUP:
            to_next.append(next_at - at)
            to_failed.append(state["failed"] - at)
            if next_pid not in before:
                to_next_new.append(next_at - at)
    error = app.queue.store.get_job(crash_id).error
    processes = len(app.pool.pids)
    app.stop()
    new, failed = _summary(to_next_new), _summary(to_failed)
    return {**_summary(to_next), "new_process_count": new["count"], "new_process_p50_ms": new["p50_ms"],
            "new_process_p99_ms": new["p99_ms"], "failed_p50_ms": failed["p50_ms"], "failed_p99_ms": failed["p99_ms"],
            "processes_at_end": processes, "crash_error": str(error)[:200]}  # fmt: skip


def case_memory(workdir: Path) -> dict[str, Any]:
    """RSS (and USS) of the one worker process: started, then idle after 200 jobs (plugin loaded); its
    sentinel `sh`; and this process."""
    import psutil

    app = App(workdir, concurrency=1)
    app.start()
    app.wait(lambda: len(app.pool.idle_pids) == 1 and app.settled(1), 30, "the prewarmed worker process")
    pid = app.pool.idle_pids[0]
    fresh = _steady_memory(pid)
    app.enqueue([("bench.noop", i) for i in range(199)] + [("bench.stamp", {"path": str(workdir / "last")})])
    app.wait(lambda: (workdir / "last").exists() and app.pool.idle_pids == [pid], 30, "200 jobs in the same process")
    after = _steady_memory(pid)
    sentinel = sum(child.memory_info().rss for child in psutil.Process(pid).children(recursive=True))
    me = psutil.Process().memory_info().rss
    app.stop()
    return {"fresh_rss_mb": fresh[0], "fresh_uss_mb": fresh[1], "rss_mb": after[0], "uss_mb": after[1],
            "sentinel_rss_mb": sentinel / 2**20, "app_rss_mb": me / 2**20}  # fmt: skip


def _steady_memory(pid: int, timeout: float = 5.0) -> tuple[float, float]:
    """(RSS, USS) in MiB once two readings 0.1 s apart agree (a process still importing grows)."""
    import psutil

    process = psutil.Process(pid)
    deadline = time.monotonic() + timeout
    last = None
    while True:
        info = process.memory_full_info()
        now = (info.rss / 2**20, info.uss / 2**20)
        if now == last or time.monotonic() > deadline:
            return now
        last = now
        time.sleep(0.1)


# -- the floors (baselines for cancel, crash and memory) ---------------------------------
def case_floors(workdir: Path) -> dict[str, Any]:
    """SIGKILL+reap of a spinning bare interpreter; start of a bare interpreter and of one importing
    what a worker process imports; the RSS of a bare interpreter."""
    import psutil

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kill, bare, worker_imports = [], [], []
    for _ in range(FLOOR_SAMPLES):
        spin = "import sys; sys.stdout.write('x'); sys.stdout.flush()\nwhile True: pass"
        spinner = subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE)
        spinner.stdout.read(1)
        t0 = time.monotonic()
        spinner.kill()
        spinner.wait()
        kill.append(time.monotonic() - t0)
        spinner.stdout.close()
        for argv, into in ((["-c", "pass"], bare),
                           (["-c", "import acacia_gui.engine.processes.child, acacia_gui.engine.processes.handlers"],
                            worker_imports)):  # fmt: skip
            t0 = time.monotonic()
            subprocess.run([sys.executable, *argv], check=True, env=env)
            into.append(time.monotonic() - t0)
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    time.sleep(0.3)
    bare_rss = psutil.Process(sleeper.pid).memory_info().rss / 2**20
    sleeper.stdin.close()
    sleeper.wait()
    return {"kill_p50_ms": _ms(statistics.median(kill)), "kill_p99_ms": _ms(max(kill)),
            "bare_start_p50_ms": _ms(statistics.median(bare)),
            "worker_imports_start_p50_ms": _ms(statistics.median(worker_imports)), "bare_rss_mb": bare_rss}  # fmt: skip


def _ms(seconds: float) -> float:
    return seconds * 1000


def _summary(samples_s: list[float]) -> dict[str, Any]:
    ms = sorted(s * 1000 for s in samples_s)
    return {"count": len(ms), "p50_ms": statistics.median(ms), "p99_ms": percentile(ms, 99), "max_ms": ms[-1]}


NEVER = 10**9
THROUGHPUT_CASES = {"process": ("process", None), "process_no_recycle": ("process", NEVER), "thread": ("thread", None)}
OTHER_CASES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "raw": case_raw,
    "cancel": case_cancel,
    "crash": case_crash,
    "memory": case_memory,
    "floors": case_floors,
}


def run_case(case: str, workdir: Path, jobs: int = THROUGHPUT_JOBS) -> dict[str, Any]:
    if case in THROUGHPUT_CASES:
        isolation, recycle = THROUGHPUT_CASES[case]
        return case_throughput(workdir, isolation, jobs=jobs, max_jobs_per_process=recycle)
    return OTHER_CASES[case](workdir)


# -- the parent ------------------------------------------------------------------------
def measure(case: str, jobs: int = THROUGHPUT_JOBS) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    command = [sys.executable, str(Path(__file__).resolve()), "--case", case, "--jobs", str(jobs)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=CASE_TIMEOUT, cwd=REPO, env=env)
    except subprocess.TimeoutExpired:
        result = {"error": f"timed out after {CASE_TIMEOUT} s"}
    else:
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            result = {"error": f"exit {proc.returncode}: {tail}"}
        else:
            result = json.loads(lines[-1])
    summary = result.get("error") or ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items())
    print(f"  {case:<18} {summary}  ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    return result


def run_all(repeats: int = REPEATS, jobs: int = THROUGHPUT_JOBS) -> dict[str, Any]:
    """Throughput interleaved (process, process without recycling, thread, raw) `repeats` times; then cancel,
    crash, memory and the floors once."""
    load = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {"process": [], "process_no_recycle": [], "thread": [], "raw": []}
    for _ in range(repeats):
        for case in runs:
            runs[case].append(measure(case, jobs))
    results: dict[str, Any] = {case: _median_run(case_runs) for case, case_runs in runs.items()}
    for case in ("cancel", "crash", "memory", "floors"):
        results[case] = measure(case)
    results["load"] = f"{load:.1f} and {os.getloadavg()[0]:.1f}"
    return results


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = sorted((r for r in runs if "error" not in r), key=lambda r: r["rate"])
    if not good:
        return runs[-1]
    chosen = dict(good[(len(good) - 1) // 2])
    chosen["runs"] = [r["rate"] for r in good]
    chosen["cpu_runs"] = [r["cpu_us_per_job"] for r in good]
    return chosen


# -- the table -----------------------------------------------------------------------
def _get(results: dict[str, Any], case: str, key: str) -> float | None:
    result = results.get(case) or {}
    return None if "error" in result else result.get(key)


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "error" if value is None else format(value, fmt)


def _spread(results: dict[str, Any], case: str, key: str = "runs") -> str:
    values = (results.get(case) or {}).get(key)
    if not values or len(values) < 2:
        return ""
    return f" ({min(values):,.0f}{DASH}{max(values):,.0f})"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (" ✓" if ok else " ✗ missed")


def table(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, figure, target, baseline) rows."""
    get = lambda case, key: _get(results, case, key)  # noqa: E731
    raw = get("raw", "rate")
    raw_cell = f"raw SQLite loop {_num(raw)}{_spread(results, 'raw')}"
    rows = []
    for case, label, target_key in (("process", "process isolation", "process_ratio"),
                                    ("process_no_recycle", "process isolation, never recycled", "process_ratio"),
                                    ("thread", "thread isolation", "thread_ratio")):  # fmt: skip
        rate = get(case, "rate")
        ratio = rate / raw if rate and raw else None
        target = TARGETS[target_key]
        rows.append((f"No-op jobs completed, 2 workers, {label} (jobs/s)",
                     f"{_num(rate)}{_spread(results, case)} = {_num(ratio, '.2f')}{TIMES} raw",
                     f"≥ {target:g}{TIMES} raw{_verdict(None if ratio is None else ratio >= target)}", raw_cell))  # fmt: skip
    raw_cpu = f"raw SQLite loop {_num(get('raw', 'cpu_us_per_job'))}"
    for case, label in (("process", "process isolation"), ("process_no_recycle", "process isolation, never recycled"),
                        ("thread", "thread isolation")):  # fmt: skip
        split = ""
        if get(case, "worker_cpu_us_per_job"):
            split = (
                f" (app {_num(get(case, 'app_cpu_us_per_job'))} + worker processes {_num(get(case, 'worker_cpu_us_per_job'))})"
            )
        rows.append((f"CPU time per no-op job, {label} (µs)", f"{_num(get(case, 'cpu_us_per_job'))}{split}", "—", raw_cpu))
    p99 = get("cancel", "p99_ms")
    rows.append(
        (
            "Hard cancel of a spinning handler (cancel_grace=0): `queue.cancel` → `cancelled` event, p50 / p99 (ms)",
            f"{_num(get('cancel', 'p50_ms'), '.1f')} / {_num(p99, '.1f')}",
            f"p99 ≤ {TARGETS['cancel_p99_ms']} ms{_verdict(None if p99 is None else p99 <= TARGETS['cancel_p99_ms'])}",
            f"SIGKILL + reap of a spinning bare interpreter: {_num(get('floors', 'kill_p50_ms'), '.1f')} ms",
        )
    )
    p99 = get("crash", "p99_ms")
    rows.append(
        (
            "Crash (segfault) → the slot's next job starts, p50 / p99 (ms)",
            f"{_num(get('crash', 'p50_ms'), '.0f')} / {_num(p99, '.0f')}",
            f"≤ {TARGETS['crash_p99_ms']} ms{_verdict(None if p99 is None else p99 <= TARGETS['crash_p99_ms'])}",
            f"start and exit of a bare interpreter {_num(get('floors', 'bare_start_p50_ms'), '.0f')} ms; of one "
            f"importing what a worker imports {_num(get('floors', 'worker_imports_start_p50_ms'), '.0f')} ms",
        )
    )
    new = get("crash", "new_process_count")
    rows.append((f"  the same, only crashes whose next job ran in a newly started process ({_num(new, '.0f')} of "
                 f"{CRASH_SAMPLES}; the others found a spare process) (ms)",
                 f"{_num(get('crash', 'new_process_p50_ms'), '.0f')} / {_num(get('crash', 'new_process_p99_ms'), '.0f')}",
                 "—", "—"))  # fmt: skip
    rows.append(("  crash → the crashed job's `failed` event, p50 / p99 (ms)",
                 f"{_num(get('crash', 'failed_p50_ms'), '.0f')} / {_num(get('crash', 'failed_p99_ms'), '.0f')}",
                 "—", "—"))  # fmt: skip
    rss = get("memory", "rss_mb")
    limit = TARGETS["worker_rss_mb"] * 1e6 / 2**20
    rows.append(
        (
            "RSS of an idle worker process after 200 jobs, plugin loaded (MiB)",
            f"{_num(rss, '.1f')} (USS {_num(get('memory', 'uss_mb'), '.1f')}; "
            f"{_num(get('memory', 'fresh_rss_mb'), '.1f')} before its first job)",
            f"≤ {TARGETS['worker_rss_mb']} MB = {limit:.1f} MiB{_verdict(None if rss is None else rss <= limit)}",
            f"bare interpreter {_num(get('floors', 'bare_rss_mb'), '.1f')}",
        )
    )
    rows.append(("  its sentinel `sh` (one per worker process) (MiB)", _num(get("memory", "sentinel_rss_mb"), ".1f"),
                 "—", "—"))  # fmt: skip
    rows.append(
        (
            "RSS of the app process, for reference (headless: QCoreApplication, store, PoolWorker) (MiB)",
            _num(get("memory", "app_rss_mb"), ".1f"),
            "—",
            "the window (gui_bench): ~105 MiB",
        )
    )
    return rows


def markdown(results: dict[str, Any], info: dict[str, str], repeats: int, jobs: int) -> str:
    lines = [SECTION, "", "`bench/process_bench.py`: handlers in supervised worker processes, synchronous=NORMAL, "
             "each figure next to its target and a baseline measured in the same run.", "",
             "| Measure | Figure | Target | Baseline (same run) |", "|---|---:|---|---|"]  # fmt: skip
    lines += [f"| {_md_indent(m)} | {f} | {t} | {b} |" for m, f, t, b in table(results)]
    errors = [f"- {case}: {r['error']}" for case, r in results.items() if isinstance(r, dict) and "error" in r]
    lines += ["",
              f"Throughput: median of {repeats} interleaved runs (all runs in parentheses) of {jobs:,} jobs, "
              f"after {WARMUP_JOBS} warm-up jobs; cancel: {CANCEL_SAMPLES} samples; crash: {CRASH_SAMPLES} samples; "
              "p99 is the nearest rank (with these counts, about the largest sample). How each row is measured: "
              "bench/README.md.",
              "Single runs vary on a shared 2-core machine; the CPU-time rows are steadier than the rates. "
              f"Load average (1 min) at the start and end of this run: {results.get('load', '?')}.",
              "", "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + "."]  # fmt: skip
    if errors:
        lines += ["", "Failed cases:", *errors]
    return "\n".join(lines) + "\n"


def _md_indent(label: str) -> str:
    """A sub-row's leading spaces (lost in a Markdown cell) as an arrow."""
    return "\u21b3 " + label.lstrip() if label.startswith(" ") else label


def write_section(text: str, path: Path = BENCH_DIR / "results.md") -> None:
    """Replace (or append) our section of results.md; every other line stays as it was."""
    old = path.read_text().splitlines(keepends=True) if path.exists() else []
    start = next((i for i, line in enumerate(old) if line.rstrip() == SECTION), None)
    if start is None:
        before, after = old, []
        if before and before[-1].strip():
            before = [*before, "\n"]
    else:
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")), len(old))
        before, after = old[:start], old[end:]
    path.write_text("".join(before) + text + ("\n" if after else "") + "".join(after))


def plain(results: dict[str, Any]) -> str:
    rows = [("Measure", "Figure", "Target", "Baseline (same run)"), *table(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# -- profiling --------------------------------------------------------------------------
PROFILE_GROUPS = (  # (label, a frame or process-line fragment that puts a sample in the group), first match wins
    ("worker processes", "acacia_gui.engine.processes.child"),
    ("app: pool threads (supervise a job in its process)", "RunQueue._serve"),
    ("app: main thread (scheduler: pump, claims, writes, events)", "_run_loop_until"),
    ("app: the rest (start-up and set-up, WAL checkpoints, process starts)", ""),
)


def profile(jobs: int, py_spy: str | None, gil: bool) -> int:
    """py-spy on the process throughput case without recycling (so process starts do not blur the per-job
    cost), then each group of threads' functions by own samples. `gil`: only samples of the app's thread
    holding the GIL (where the app's Python time goes); else every thread of the app and of its worker
    processes, where py-spy counts a thread waiting for the GIL, a pipe or a lock as busy too.
    Without py-spy: cProfile of the app's main thread only."""
    spy = py_spy or shutil.which("py-spy")
    if spy is None:
        print("py-spy not found (pip install py-spy, or --py-spy PATH): falling back to cProfile of the main thread,\n"
              "which does not see the pool threads or the worker processes.\n")  # fmt: skip
        return _cprofile(jobs)
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    with tempfile.TemporaryDirectory(prefix="acacia-process-bench-spy-") as tmp:
        out = Path(tmp) / "samples.txt"
        mode = ["--gil"] if gil else ["--subprocesses"]
        case = [sys.executable, str(Path(__file__).resolve()), "--case", "process_no_recycle", "--jobs", str(jobs)]
        command = [spy, "record", "-r", "500", "-f", "raw", "--threads", *mode, "-o", str(out), "--", *case]
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            print(proc.stderr.strip() or f"py-spy exited with {proc.returncode}")
            return 1
        result = json.loads(next(line for line in reversed(proc.stdout.splitlines()) if line.startswith("{")))
        print(
            f"{jobs:,} no-op jobs at {result['rate']:,.0f} jobs/s under py-spy; CPU per job: app "
            f"{result['app_cpu_us_per_job']:.0f} µs, worker processes {result['worker_cpu_us_per_job']:.0f} µs"
        )
        what = "the app's thread holding the GIL" if gil else "every thread py-spy saw busy (waits included)"
        print(f"Samples: {what}\n")
        _summarize_samples(out.read_text().splitlines())
    return 0


def _summarize_samples(lines: list[str], top: int = 12) -> None:
    import collections
    import re

    groups: dict[str, collections.Counter] = {label: collections.Counter() for label, _ in PROFILE_GROUPS}
    totals: collections.Counter = collections.Counter()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        if "App.__init__" in stack or "App.enqueue" in stack:
            continue  # the set-up, not the timed part
        label = next(label for label, mark in PROFILE_GROUPS if mark in stack)
        leaf = re.sub(r":\d+\)$", ")", stack.rsplit(";", 1)[-1])
        groups[label][leaf] += int(count)
        totals[label] += int(count)
    everything = sum(totals.values()) or 1
    for label, _ in PROFILE_GROUPS:
        if not totals[label]:
            continue
        print(f"{label}: {totals[label] / everything:.0%} of the samples")
        for leaf, count in groups[label].most_common(top):
            print(f"  {count / totals[label]:6.1%}  {leaf}")
        print()


def _cprofile(jobs: int) -> int:
    import cProfile
    import pstats

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="acacia-process-bench-profile-") as tmp:
        result = case_throughput(Path(tmp), "process", jobs=jobs, max_jobs_per_process=NEVER, profiler=profiler)
    print(
        f"{jobs:,} jobs at {result['rate']:,.0f} jobs/s under cProfile; CPU per job: app "
        f"{result['app_cpu_us_per_job']:.0f} µs, worker processes {result['worker_cpu_us_per_job']:.0f} µs\n"
    )
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted({*THROUGHPUT_CASES, *OTHER_CASES}), help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=REPEATS, help="throughput runs per system (median kept)")
    parser.add_argument("--jobs", type=int, default=THROUGHPUT_JOBS, help="jobs per throughput run")
    parser.add_argument("--profile", action="store_true", help="py-spy of the app's GIL on the process throughput case")
    parser.add_argument("--profile-all", action="store_true", help="py-spy of every thread, worker processes too")
    parser.add_argument("--py-spy", help="with --profile: the py-spy executable (default: from PATH)")
    parser.add_argument("--no-write", action="store_true", help="leave bench/results.md alone")
    args = parser.parse_args(argv)
    if args.case:
        with tempfile.TemporaryDirectory(prefix=f"acacia-process-bench-{args.case}-") as tmp:
            print(json.dumps(run_case(args.case, Path(tmp), args.jobs)))
        return 0
    if args.profile or args.profile_all:
        return profile(args.jobs, args.py_spy, gil=not args.profile_all)
    info = machine_info(Path(tempfile.gettempdir()))
    print(f"process bench on {info['cpu']}, {info['os']}, Python {info['python']}, SQLite {info['sqlite']}", flush=True)
    started = time.perf_counter()
    repeats = max(1, args.repeats)
    results = run_all(repeats, args.jobs)
    print(f"\nWorker processes ({time.perf_counter() - started:.0f} s)\n")
    print(plain(results))
    if not args.no_write:
        write_section(markdown(results, info, repeats, args.jobs))
        print(f"\nSection {SECTION!r} written to {BENCH_DIR / 'results.md'}")
    print(f"Load average (1 min) at the start and end: {results['load']}")
    return 1 if any(isinstance(r, dict) and "error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
