"""How the window copes with a big database and a busy worker (figures printed, never asserted).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_bench.py [--jobs 100000] [--rate 1000] [--seconds 10]

1. First rows: a database with 100,000 jobs; time from creating the window to its first
   rows on screen (the window is built, shown and painted).
2. Event-loop lag: while 1,000 no-op jobs a second (each reporting progress) are
   enqueued on the GUI thread (where the socket server runs) and the worker runs them, a 5 ms QTimer measures how late it fires;
   max and p99 lateness are the GUI thread's worst stalls.
3. Memory: RSS when the window first shows, then once a second under load, and at the end.
4. Batch arrival: with the window open, another thread enqueues one batch of 10,000 jobs
   (enqueue_many, into a paused queue so the worker leaves them be); the same 5 ms timer
   measures the GUI thread's longest stall while the 10,000 'enqueued' events arrive and
   the table takes them in (target: at most 100 ms), and how long until the newest job is the top row.

The same load is then run without a window (headless), so the window's share of the
lag can be told apart from the worker's (which also runs on the GUI thread).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from acacia_gui.app import build_services  # noqa: E402
from acacia_gui.config import AppOptions, load_config  # noqa: E402
from acacia_gui.core.context import Context  # noqa: E402
from acacia_gui.core.job import Job  # noqa: E402

NOOP_PLUGIN = '''from acacia_gui.jobs import handler


@handler("bench.noop", title="No-op", description="Reports progress and returns.")
def noop(ctx, job):
    job.report_progress(0.5, "half way")
    job.report_progress(1.0, "done")
    return None
'''
TICK_MS = 5


def rss_mib() -> float:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def fill(services, total: int) -> float:
    """`total` jobs, most of them finished, in batches of 5,000; returns seconds taken."""
    started = time.perf_counter()
    store = services.store
    services.queue.pause("bulk", source="api")
    batch = 5000
    for start in range(0, total, batch):
        jobs = [Job("bench.noop", {"n": n, "note": f"bulk job {n}"}, queue="bulk")
                for n in range(start, min(total, start + batch))]
        for job in jobs:
            services.queue.prepare(job)
        store.insert_jobs(jobs, "api")
    now = time.time()
    with store._write() as conn:  # bench data only: most of a real history is finished jobs
        conn.execute("UPDATE jobs SET state = 'succeeded', attempts = 1, progress = 1.0, started_at = ?, finished_at = ?"
                     " WHERE queue = 'bulk' AND id % 20 != 0", (now - 60, now - 59))  # fmt: skip
    return time.perf_counter() - started


class LagMeter:
    """A QTimer every TICK_MS that records how late it fires (the GUI thread's stalls)."""

    def __init__(self) -> None:
        self.late_ms: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer.start()

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.late_ms.append(max(0.0, (now - self._last) / 1e6 - TICK_MS))
        self._last = now

    def stop(self) -> None:
        self._timer.stop()


class Producer:
    """Enqueues `rate` jobs a second from the GUI thread, as the socket server (also on that thread) would.

    A QTimer every 10 ms enqueues what is due in one transaction (enqueue_many), so the
    cost of accepting the jobs is part of the measured event-loop lag.
    """

    def __init__(self, services, rate: int, seconds: float) -> None:
        self.services = services
        self.rate = rate
        self.seconds = seconds
        self.enqueued = 0
        self._ctx = Context.background()
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._timer.start()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._started
        if elapsed >= self.seconds:
            self._timer.stop()
            return
        due = int(self.rate * elapsed) - self.enqueued
        if due > 0:
            jobs = [Job("bench.noop", {"i": self.enqueued + k}) for k in range(due)]
            self.services.queue.enqueue_many(self._ctx, jobs, source="socket")
            self.enqueued += due


def pump_until(condition, timeout: float) -> None:
    """Run the event loop until `condition()` (checked every 50 ms, so the check costs nothing)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        check_at = time.monotonic() + 0.05
        while time.monotonic() < check_at:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def open_window(services, root: Path, results: dict) -> object:
    """Create, show and paint the window; record the time to its first rows."""
    from acacia_gui.gui.main_window import MainWindow

    clock = time.perf_counter()
    settings = QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services, on_quit=lambda: None, settings=settings)
    window.resize(1280, 800)
    window.show()
    window.grab()  # paint once, as the screen would
    pump_until(lambda: window.model.rowCount() > 0, 10)
    results["first_rows_ms"] = (time.perf_counter() - clock) * 1000
    results["rows_loaded"] = window.model.rowCount()
    return window


def batch_arrival(services, window, size: int, results: dict) -> None:
    """Another thread enqueues `size` jobs at once (as a `submit` of a big batch would); measure the GUI's stalls."""
    services.queue.pause("burst", source="api")
    pump_until(lambda: False, 0.3)
    meter = LagMeter()
    done: dict = {}

    def produce() -> None:
        jobs = [Job("bench.noop", {"i": n}, queue="burst") for n in range(size)]
        done["ids"] = services.queue.enqueue_many(Context.background(), jobs, source="socket")

    meter.start()
    started = time.perf_counter()
    thread = threading.Thread(target=produce, name="bench-batch")
    thread.start()
    pump_until(lambda: "ids" in done, 60)
    thread.join()
    newest = max(done["ids"])
    pump_until(lambda: window is None or window.model.row_of(newest) == 0, 30)
    results["batch_rows_ms"] = (time.perf_counter() - started) * 1000
    pump_until(lambda: False, 0.5)  # whatever the batch left behind (counts, stats) runs while measured
    meter.stop()
    results["batch_size"] = size
    results["batch_lag_max_ms"] = max(meter.late_ms, default=0.0)
    results["batch_lag_p99_ms"] = percentile(meter.late_ms, 0.99)
    results["batch_ticks"] = len(meter.late_ms)
    if window is not None:
        results["batch_top_row_ok"] = window.model.row_of(newest) == 0
        results["batch_rows_held"] = window.model.rowCount()


def load(services, rate: int, seconds: float, results: dict) -> None:
    """Run the producer for `seconds`, then until the queue drains; measure lag, throughput, RSS."""
    services.worker.start(Context.background(), services.registry)
    meter = LagMeter()
    producer = Producer(services, rate, seconds)
    finished_before = services.store.count_jobs(state="succeeded")
    samples = []
    meter.start()
    started = time.monotonic()
    producer.start()
    next_sample = started + 1
    while producer.running or time.monotonic() - started < seconds:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if time.monotonic() >= next_sample:
            samples.append(rss_mib())
            next_sample += 1
    pump_until(lambda: services.store.count_jobs(state=["queued", "running"], queue="default") == 0, 60)
    drained_at = time.monotonic() - started
    meter.stop()
    pump_until(lambda: False, 0.5)
    results["enqueued"] = producer.enqueued
    results["completed"] = services.store.count_jobs(state="succeeded") - finished_before
    results["completed_per_s"] = results["completed"] / drained_at
    results["lag_max_ms"] = max(meter.late_ms, default=0.0)
    results["lag_p99_ms"] = percentile(meter.late_ms, 0.99)
    results["lag_p50_ms"] = statistics.median(meter.late_ms) if meter.late_ms else 0.0
    results["ticks"] = len(meter.late_ms)
    results["rss_samples_mib"] = samples
    results["rss_end_mib"] = rss_mib()


def run(total: int, rate: int, seconds: float, with_window: bool = True, batch: int = 10_000) -> dict:
    """One measurement on a fresh data dir: fill, (open the window), load."""
    app = QApplication.instance() or QApplication([])
    results: dict = {"with_window": with_window}
    with tempfile.TemporaryDirectory(prefix="acacia-gui-bench-") as tmp:
        root = Path(tmp)
        plugins = root / "plugins"
        plugins.mkdir(mode=0o700)
        (plugins / "bench_noop.py").write_text(NOOP_PLUGIN, encoding="utf-8")
        services = build_services(load_config(root / "data", plugins), AppOptions(workers=2))
        results["fill_s"] = fill(services, total)
        window = open_window(services, root, results) if with_window else None
        pump_until(lambda: False, 0.5)
        results["rss_start_mib"] = rss_mib()
        if batch:
            batch_arrival(services, window, batch, results)
        load(services, rate, seconds, results)
        if window is not None:
            results["rows_in_table"] = window.model.rowCount()
            window.dispose()
        services.worker.stop(Context.background().with_timeout(5))
        services.bridge.close()
        services.store.close()
    del app
    return results


def report(r: dict, baseline: dict | None, total: int, rate: int, seconds: float) -> None:
    print(f"GUI bench: {total:,} jobs in the database (filled in {r['fill_s']:.1f} s), then {rate:,} no-op jobs/s "
          f"for {seconds:g} s, 2 workers")  # fmt: skip
    print(f"  first rows on screen      {r['first_rows_ms']:8.0f} ms  ({r['rows_loaded']:.0f} rows loaded, one page)")
    for label, res in (("event-loop lag, window", r), ("event-loop lag, headless", baseline)):
        if res is not None:
            print(f"  {label:<26}max {res['lag_max_ms']:6.1f} ms   p99 {res['lag_p99_ms']:5.1f} ms   "
                  f"p50 {res['lag_p50_ms']:4.1f} ms   ({res['ticks']:.0f} ticks of {TICK_MS} ms; "
                  f"{res['completed']:,.0f} of {res['enqueued']:,.0f} jobs done, {res['completed_per_s']:,.0f}/s)")  # fmt: skip
    for label, res in (("batch arrival, window", r), ("batch arrival, headless", baseline)):
        if res is not None and "batch_lag_max_ms" in res:
            extra = ""
            if "batch_top_row_ok" in res:
                extra = (f"; newest job on top after {res['batch_rows_ms']:.0f} ms: {res['batch_top_row_ok']}, "
                         f"{res['batch_rows_held']:,} rows held")
            print(f"  {label:<26}max {res['batch_lag_max_ms']:6.1f} ms   p99 {res['batch_lag_p99_ms']:5.1f} ms   "
                  f"({res['batch_size']:,} jobs in one enqueue_many from another thread; target max <= 100 ms{extra})")
    samples = ", ".join(f"{v:.0f}" for v in r["rss_samples_mib"])
    print(f"  memory (RSS)              {r['rss_start_mib']:.0f} MiB at start, {r['rss_end_mib']:.0f} MiB at the end "
          f"(each second: {samples})")  # fmt: skip
    print(f"  rows held by the table    {r['rows_in_table']:,.0f} (new jobs insert at the top; rows far below the view"
          " are dropped and re-read on scroll)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs in the database before the window opens")
    parser.add_argument("--rate", type=int, default=1000, help="no-op jobs enqueued per second during the load")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the load lasts")
    parser.add_argument("--batch", type=int, default=10_000, help="jobs in the one-batch arrival (0: skip it)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the same load without a window")
    args = parser.parse_args(argv)
    results = run(args.jobs, args.rate, args.seconds, batch=args.batch)
    baseline = None if args.no_baseline else run(args.jobs, args.rate, args.seconds, with_window=False, batch=args.batch)
    report(results, baseline, args.jobs, args.rate, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
