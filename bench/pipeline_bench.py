"""Pipelines (jobs that run after others): what waiting jobs, releases and chains cost, next to baselines
measured in the same run.

    python bench/pipeline_bench.py                 # everything (~2 min); prints a table, writes bench/results.md's section
    python bench/pipeline_bench.py --case NAME     # one case, one JSON line (what main() runs per case)
    python bench/pipeline_bench.py --no-write      # leave bench/results.md alone

The real engine, as engine_bench.py drives it: JobQueue.enqueue_many on SqliteJobStore
(synchronous=NORMAL) and PoolWorker (concurrency 2) on a QCoreApplication, no-op handlers
registered as functions, so **thread isolation** (the process bench measures what worker
processes add per job). Each case runs in its own subprocess with a fresh temp directory.

1. Throughput with waiting jobs: a warm-up, then N no-op jobs enqueued into the paused
   `default` queue; the clock runs from `resume` to the N-th `succeeded` event. With
   100,000 waiting jobs in the table (in `default` too, each after one job of a paused queue
   `hold`, so they never run) and with none; interleaved, the median kept. The raw SQLite
   loop of baselines.py runs in the same rounds for reference.
2. Release cost: a parent with 10,000 dependents (one `enqueue_many`). The parent's handler
   waits until the enqueue is over and the loop idles, then stamps time.perf_counter() and
   returns; each child's handler stamps when it starts (one clock: threads of one process).
   Figures: parent returned → first child started (the whole path: hand-over, group
   commit, settle(), claim, commit, start), and the
   commit → first child (the end of the store call that committed the parent's completion,
   timed by wrapping `complete_and_claim`). Baseline: the same with one dependent.
   Then settle() for that fan-out alone, directly against the store, inside a transaction
   that is rolled back (the parent marked succeeded first), next to the floor: one plain
   `UPDATE … WHERE id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?)`.
3. Deep chains: 1,000 jobs each after the previous one, next to 1,000 independent jobs, both
   enqueued into the paused queue and timed from `resume` to the last `succeeded`, rounds
   alternating in one worker, the median kept; then the same (3 rounds) with the 100,000
   waiting jobs of case 1 in the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO))

from common import machine_info  # noqa: E402

THROUGHPUT_JOBS = 20_000
WAITING_JOBS = 100_000
FANOUT = 10_000
RELEASE_SAMPLES = 3
SETTLE_SAMPLES = 5
CHAIN_JOBS = 1_000
CHAIN_ROUNDS = 5
WARMUP_JOBS = 500
REPEATS = 3
CASE_TIMEOUT = 150
TIMES = "\u00d7"  # multiplication sign (escaped: ruff flags the character)
TEMPLATE_ENV = "ACACIA_PIPELINE_BENCH_TEMPLATE"  # the `waiting` runs copy this database instead of filling their own
SECTION = "## Pipelines"  # results.md: this heading and everything under it up to the next `## ` is ours
TARGETS = {"waiting_ratio": 0.9, "release_ms": 50.0, "chain_ratio": 0.5}


# -- the app side -------------------------------------------------------------------------
class App:
    """A store, a registry with function handlers (thread isolation) and a PoolWorker, as engine_bench builds them."""

    def __init__(self, workdir: Path) -> None:
        from engine_bench import _app, _queue, _worker

        from acacia_gui.core.context import Context

        self.qt = _app()
        self.queue, self.registry = _queue(workdir, "normal")
        self.stamps: dict[Any, float] = {}
        self.registry.register_handler("stamp", lambda ctx, job: self.stamps.setdefault(job.id, time.perf_counter()))
        self.registry.register_handler("parent", self._parent)
        self.worker = _worker(self.queue, workdir)
        self.ctx = Context.background()
        self.succeeded = 0
        self.go = threading.Event()
        self.queue.bus.subscribe(self._on_event)

    def _parent(self, ctx, job) -> bool:
        self.go.wait(30)  # set once the enqueue is over and the loop idles: the release is all that is measured
        self.stamps[job.id] = time.perf_counter()
        return True

    def idle(self, seconds: float) -> None:
        """Run the Qt event loop for `seconds` (as an idle app does)."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def _on_event(self, event) -> None:
        if event.kind == "state" and event.state == "succeeded":
            self.succeeded += 1

    def start(self) -> None:
        self.worker.start(self.ctx, self.registry)

    def stop(self) -> None:
        from acacia_gui.core.context import Context

        self.worker.stop(Context.background().with_timeout(5))
        self.queue.store.close()

    def enqueue(self, jobs) -> list[int]:
        ids = []
        for first in range(0, len(jobs), 1000):
            ids += self.queue.enqueue_many(self.ctx, jobs[first : first + 1000])
        return ids

    def run_until(self, count: int, timeout: float, what: str) -> None:
        """Run the Qt event loop (as an idle app does) until `count` jobs succeeded in all."""
        from PySide6.QtCore import QEventLoop, QTimer

        deadline = time.monotonic() + timeout
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: loop.quit() if self.succeeded >= count or time.monotonic() > deadline else None)
        timer.start(1)
        if self.succeeded < count:
            loop.exec()
        timer.stop()
        if self.succeeded < count:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")

    def warm_up(self) -> None:
        from acacia_gui.core.job import Job

        self.start()
        target = self.succeeded + WARMUP_JOBS
        self.enqueue([Job("noop", i) for i in range(WARMUP_JOBS)])
        self.run_until(target, 60, "the warm-up jobs")

    def timed(self, jobs, what: str) -> float:
        """Enqueue `jobs` into the paused default queue, resume it, return the seconds until all succeeded."""
        self.queue.pause("default")
        self.enqueue(jobs)
        target = self.succeeded + len(jobs)
        start = time.perf_counter()
        self.queue.resume("default")
        self.run_until(target, 120, what)
        return time.perf_counter() - start


def _blocked_jobs(app: App, count: int) -> None:
    """`count` waiting jobs in the default queue, each after one job of the paused queue `hold`."""
    from acacia_gui.core.job import Job

    (blocker,) = app.queue.enqueue_many(app.ctx, [Job("noop", "blocker", queue="hold")])
    app.queue.pause("hold")
    app.enqueue([Job("noop", i, after=[blocker]) for i in range(count)])


# -- the cases ------------------------------------------------------------------------------
def _copy_database(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def case_template(workdir: Path) -> dict[str, Any]:
    """The database the `waiting` runs start from (copied, so the 100,000 rows are written once per bench run)."""
    app = App(workdir)
    start = time.perf_counter()
    _blocked_jobs(app, WAITING_JOBS)
    seconds = time.perf_counter() - start
    app.queue.store.close()
    _copy_database(workdir / "acacia.db", Path(os.environ[TEMPLATE_ENV]))
    return {"waiting": WAITING_JOBS, "fill_seconds": seconds}


def case_throughput(workdir: Path, waiting: int) -> dict[str, Any]:
    from acacia_gui.core.job import Job

    template = os.environ.get(TEMPLATE_ENV)
    fill = time.perf_counter()
    if waiting and template:
        _copy_database(Path(template), workdir / "acacia.db")
    app = App(workdir)
    if waiting and not template:
        _blocked_jobs(app, waiting)
    fill = time.perf_counter() - fill
    app.warm_up()
    cpu = time.process_time()
    seconds = app.timed([Job("noop", i) for i in range(THROUGHPUT_JOBS)], f"{THROUGHPUT_JOBS} no-op jobs")
    cpu = time.process_time() - cpu
    still_waiting = app.queue.store.count_jobs(state="waiting")
    app.stop()
    if still_waiting != waiting:
        raise RuntimeError(f"{still_waiting} jobs waiting at the end, not {waiting}")
    return {"count": THROUGHPUT_JOBS, "seconds": seconds, "rate": THROUGHPUT_JOBS / seconds,
            "cpu_us_per_job": cpu / THROUGHPUT_JOBS * 1e6, "waiting": waiting, "fill_seconds": fill}  # fmt: skip


def case_raw(workdir: Path) -> dict[str, Any]:
    from baselines import raw_throughput

    return raw_throughput(workdir, "normal")


def case_raw_serial(workdir: Path) -> dict[str, Any]:
    """The raw SQLite loop with one thread: one job at a time, each claimed and completed in its own
    commits — the floor a chain runs against (a step may start only once the one before is committed)."""
    from baselines import raw_throughput

    return raw_throughput(workdir, "normal", threads=1)


def case_release(workdir: Path, fanout: int) -> dict[str, Any]:
    """RELEASE_SAMPLES parents, each with `fanout` dependents, one at a time into a running worker."""
    from acacia_gui.core.job import Job

    app = App(workdir)
    store = app.queue.store
    commits: list[tuple[set[int], float, float]] = []  # (completed job ids, call entered, call returned)
    original = store.complete_and_claim

    def complete_and_claim(completions, *args, **kwargs):
        entered = time.perf_counter()
        result = original(completions, *args, **kwargs)
        commits.append(({c.job_id for c in result[0]}, entered, time.perf_counter()))
        return result

    store.complete_and_claim = complete_and_claim  # the scheduler calls it through the store instance
    app.warm_up()
    to_child, commit_to_child, transaction, run_all = [], [], [], []
    for sample in range(RELEASE_SAMPLES + 1):  # the first one is a warm-up
        parent = Job("parent", sample)
        children = [Job("stamp", i, after=[parent]) for i in range(fanout)]
        target = app.succeeded + 1 + fanout
        app.go.clear()
        parent_id, *child_ids = app.queue.enqueue_many(app.ctx, [parent, *children])
        app.idle(0.2)
        app.go.set()
        app.run_until(target, 60, f"a parent and its {fanout} dependents")
        ended = app.stamps[parent_id]
        first = min(app.stamps[i] for i in child_ids)
        last = max(app.stamps[i] for i in child_ids)
        _, entered, returned = next(c for c in commits if parent_id in c[0])
        if sample:
            to_child.append(first - ended)
            commit_to_child.append(first - returned)
            transaction.append(returned - entered)
            run_all.append(last - ended)
    app.stop()
    ms = [round(s * 1000, 2) for s in to_child]
    return {"fanout": fanout, "samples_ms": ms, "p50_ms": statistics.median(to_child) * 1000,
            "max_ms": max(to_child) * 1000, "commit_to_child_p50_ms": statistics.median(commit_to_child) * 1000,
            "transaction_p50_ms": statistics.median(transaction) * 1000,
            "all_children_p50_s": statistics.median(run_all)}  # fmt: skip


class _Rollback(Exception):
    pass


def case_settle(workdir: Path) -> dict[str, Any]:
    """settle() of a parent with FANOUT waiting dependents, directly on the store, rolled back each time."""
    from acacia_gui.core.job import Job
    from acacia_gui.store.sqlite_dependencies import settle

    app = App(workdir)  # no worker started: nothing runs
    store = app.queue.store
    parent = Job("noop", 0)
    (parent_id, *_) = app.queue.enqueue_many(app.ctx, [parent, *(Job("noop", i, after=[parent]) for i in range(FANOUT))])
    floor_sql = (
        "UPDATE jobs SET state = 'queued' WHERE state = 'waiting'"
        " AND id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?)"
    )
    timings: dict[str, list[float]] = {"settle": [], "floor": []}
    released = []
    for _ in range(SETTLE_SAMPLES + 1):
        for name in ("settle", "floor"):
            try:
                with store.db.write() as conn:
                    conn.execute("UPDATE jobs SET state = 'succeeded', finished_at = ? WHERE id = ?", (time.time(), parent_id))
                    start = time.perf_counter()
                    if name == "settle":
                        released.append(len(settle(store.db, conn, [parent_id], "worker", time.time())))
                    else:
                        conn.execute(floor_sql, (parent_id,))
                    timings[name].append(time.perf_counter() - start)
                    raise _Rollback
            except _Rollback:
                pass
    store.close()
    if set(released) != {FANOUT}:
        raise RuntimeError(f"settle released {released}, not {FANOUT} each time")
    return {"fanout": FANOUT, "settle_ms": statistics.median(timings["settle"][1:]) * 1000,
            "floor_ms": statistics.median(timings["floor"][1:]) * 1000}  # fmt: skip


def case_chain(workdir: Path, waiting: bool = False, rounds: int = CHAIN_ROUNDS) -> dict[str, Any]:
    """`rounds` rounds in one worker: CHAIN_JOBS independent jobs, then a chain of CHAIN_JOBS; `waiting`:
    with the WAITING_JOBS waiting jobs of the template database in the table."""
    from acacia_gui.core.job import Job

    if waiting:
        _copy_database(Path(os.environ[TEMPLATE_ENV]), workdir / "acacia.db")
    app = App(workdir)
    app.warm_up()
    independent, chain = [], []
    for _ in range(rounds):
        independent.append(app.timed([Job("noop", i) for i in range(CHAIN_JOBS)], "independent jobs"))
        jobs: list[Job] = []
        for i in range(CHAIN_JOBS):
            jobs.append(Job("noop", i, after=jobs[-1:]))
        chain.append(app.timed(jobs, "a chain"))
    app.stop()
    return {"jobs": CHAIN_JOBS, "independent_rate": CHAIN_JOBS / statistics.median(independent),
            "chain_rate": CHAIN_JOBS / statistics.median(chain),
            "independent_runs": [round(CHAIN_JOBS / s) for s in independent],
            "chain_runs": [round(CHAIN_JOBS / s) for s in chain]}  # fmt: skip


CASES = {
    "plain": lambda workdir: case_throughput(workdir, 0),
    "waiting": lambda workdir: case_throughput(workdir, WAITING_JOBS),
    "raw": case_raw,
    "raw_serial": case_raw_serial,
    "template": case_template,
    "release": lambda workdir: case_release(workdir, FANOUT),
    "release_one": lambda workdir: case_release(workdir, 1),
    "settle": case_settle,
    "chain": case_chain,
    "chain_waiting": lambda workdir: case_chain(workdir, waiting=True, rounds=3),
}


# -- the parent ----------------------------------------------------------------------------
def measure(case: str, template: Path | None = None) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    if template is not None:
        env[TEMPLATE_ENV] = str(template)
    command = [sys.executable, str(Path(__file__).resolve()), "--case", case]
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
    print(f"  {case:<12} {summary}  ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    return result


def run_all(repeats: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "waiting": [], "raw": []}
    with tempfile.TemporaryDirectory(prefix="acacia-pipeline-bench-template-") as tmp:
        template = Path(tmp) / "waiting.db"
        made = measure("template", template)
        for _ in range(repeats):
            for case in runs:
                runs[case].append(measure(case, template if "error" not in made else None))
        results: dict[str, Any] = {case: _median_run(case_runs) for case, case_runs in runs.items()}
        results["chain_waiting"] = measure("chain_waiting", template) if "error" not in made else made
    for case in ("release", "release_one", "settle", "chain", "raw_serial"):
        results[case] = measure(case)
    results["load"] = f"{load:.1f} and {os.getloadavg()[0]:.1f}"
    return results


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = sorted((r for r in runs if "error" not in r), key=lambda r: r["rate"])
    if not good:
        return runs[-1]
    chosen = dict(good[(len(good) - 1) // 2])
    chosen["runs"] = [r["rate"] for r in good]
    return chosen


# -- the table -------------------------------------------------------------------------------
def _get(results: dict[str, Any], case: str, key: str) -> Any:
    result = results.get(case) or {}
    return None if "error" in result else result.get(key)


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (" \u2713" if ok else " \u2717 missed")


def table(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    plain, waiting, raw = (_get(results, c, "rate") for c in ("plain", "waiting", "raw"))
    ratio = waiting / plain if waiting and plain else None
    rows.append((
        f"No-op jobs completed with {WAITING_JOBS:,} waiting jobs in the table (jobs/s)",
        f"{waiting:,.0f} = {ratio:.2f}{TIMES} of none" if ratio else "error",
        f"\u2265 0.90{TIMES} (within 10 %)" + _verdict(None if ratio is None else ratio >= TARGETS["waiting_ratio"]),
        f"no waiting jobs {plain:,.0f}" + (f"; raw SQLite loop {raw:,.0f}" if raw else "") if plain else "error",
    ))  # fmt: skip
    cpu_w, cpu_p = _get(results, "waiting", "cpu_us_per_job"), _get(results, "plain", "cpu_us_per_job")
    if cpu_w and cpu_p:
        rows.append(("  CPU time per job, all threads (\u00b5s)", f"{cpu_w:.0f}", "\u2014", f"no waiting jobs {cpu_p:.0f}"))
    release, one = results.get("release") or {}, results.get("release_one") or {}
    if "error" in release or "error" in one:
        rows.append((f"Fan-out of {FANOUT:,}: parent returned \u2192 first child started", "error", "", ""))
    else:
        p50 = release["p50_ms"]
        rows.append((
            f"Fan-out of {FANOUT:,}: parent returned \u2192 first child started, p50 / max of {RELEASE_SAMPLES} (ms)",
            f"{p50:.1f} / {release['max_ms']:.1f}",
            "\u2264 50 ms" + _verdict(release["max_ms"] <= TARGETS["release_ms"]),
            f"one dependent: {one['p50_ms']:.1f} / {one['max_ms']:.1f}",
        ))  # fmt: skip
        rows.append(
            (
                "  of which: the transaction that commits the parent and releases (ms)",
                f"{release['transaction_p50_ms']:.1f}",
                "\u2014",
                f"one dependent: {one['transaction_p50_ms']:.2f}",
            )
        )
        rows.append(
            (
                "  commit \u2192 first child started (ms)",
                f"{release['commit_to_child_p50_ms']:.1f}",
                "\u2014",
                f"one dependent: {one['commit_to_child_p50_ms']:.2f}",
            )
        )
        rows.append(
            (f"  all {FANOUT:,} children run, from the parent's return (s)", f"{release['all_children_p50_s']:.2f}", "\u2014", "")
        )
    settle = results.get("settle") or {}
    if "error" in settle:
        rows.append((f"settle() of a fan-out of {FANOUT:,}, directly on the store", "error", "", ""))
    else:
        rows.append((f"settle() of a fan-out of {FANOUT:,}, directly on the store (ms)", f"{settle['settle_ms']:.1f}", "\u2014",
                     f"one plain indexed UPDATE of the same rows: {settle['floor_ms']:.1f}"))  # fmt: skip
    chain = results.get("chain") or {}
    if "error" in chain:
        rows.append((f"Chain of {CHAIN_JOBS:,} jobs", "error", "", ""))
    else:
        chain_ratio = chain["chain_rate"] / chain["independent_rate"]
        rows.append((
            f"Chain of {CHAIN_JOBS:,} jobs, each after the previous (jobs/s)",
            f"{chain['chain_rate']:,.0f} = {chain_ratio:.2f}{TIMES}",
            f"\u2265 0.5{TIMES}" + _verdict(chain_ratio >= TARGETS["chain_ratio"]),
            f"{CHAIN_JOBS:,} independent jobs {chain['independent_rate']:,.0f}",
        ))  # fmt: skip
        serial = _get(results, "raw_serial", "rate")
        if serial:
            rows.append((
                "  against the raw SQLite floor of a chain: one job at a time, claimed and completed in its own commits",
                f"{chain['chain_rate'] / serial:.2f}{TIMES}", "—", f"raw serial loop {serial:,.0f}",
            ))  # fmt: skip
    chain = results.get("chain_waiting") or {}
    if "error" in chain:
        rows.append((f"  the same with {WAITING_JOBS:,} other waiting jobs in the table", "error", "", ""))
    elif chain:
        chain_ratio = chain["chain_rate"] / chain["independent_rate"]
        rows.append((
            f"  the same with {WAITING_JOBS:,} other waiting jobs in the table (jobs/s)",
            f"{chain['chain_rate']:,.0f} = {chain_ratio:.2f}{TIMES}",
            f"\u2265 0.5{TIMES}" + _verdict(chain_ratio >= TARGETS["chain_ratio"]),
            f"{CHAIN_JOBS:,} independent jobs {chain['independent_rate']:,.0f}",
        ))  # fmt: skip
    return rows


def markdown(results: dict[str, Any], info: dict[str, str], repeats: int) -> str:
    lines = [SECTION, "", "`bench/pipeline_bench.py`: jobs that run after others, thread isolation, 2 workers, "
             "synchronous=NORMAL, each figure next to its target and a baseline measured in the same run.", "",
             "| Measure | Figure | Target | Baseline (same run) |", "|---|---:|---|---|"]  # fmt: skip
    lines += [f"| {_md_indent(m)} | {f} | {t} | {b} |" for m, f, t, b in table(results)]
    errors = [f"- {case}: {r['error']}" for case, r in results.items() if isinstance(r, dict) and "error" in r]
    lines += ["",
              f"Throughput: median of {repeats} interleaved runs of {THROUGHPUT_JOBS:,} jobs; release: {RELEASE_SAMPLES} "
              f"parents after a warm-up one; chains: median of {CHAIN_ROUNDS} alternating rounds. How each row is "
              "measured: the docstring of bench/pipeline_bench.py.",
              f"Load average (1 min) at the start and end of this run: {results.get('load', '?')}.",
              "", "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + "."]  # fmt: skip
    if errors:
        lines += ["", "Failed cases:", *errors]
    return "\n".join(lines) + "\n"


def _md_indent(label: str) -> str:
    return "\u21b3 " + label.lstrip() if label.startswith(" ") else label


def plain_table(results: dict[str, Any]) -> str:
    rows = [("Measure", "Figure", "Target", "Baseline (same run)"), *table(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=REPEATS, help="throughput runs per system (median kept)")
    parser.add_argument("--no-write", action="store_true", help="leave bench/results.md alone")
    args = parser.parse_args(argv)
    if args.case:
        with tempfile.TemporaryDirectory(prefix=f"acacia-pipeline-bench-{args.case}-") as tmp:
            print(json.dumps(CASES[args.case](Path(tmp))))
        return 0
    info = machine_info(Path(tempfile.gettempdir()))
    print(f"pipeline bench on {info['cpu']}, {info['os']}, Python {info['python']}, SQLite {info['sqlite']}", flush=True)
    started = time.perf_counter()
    repeats = max(1, args.repeats)
    results = run_all(repeats)
    print(f"\nPipelines ({time.perf_counter() - started:.0f} s)\n")
    print(plain_table(results))
    if not args.no_write:
        write_section(markdown(results, info, repeats))
        print(f"\nSection {SECTION!r} written to {BENCH_DIR / 'results.md'}")
    print(f"Load average (1 min) at the start and end: {results['load']}")
    return 1 if any(isinstance(r, dict) and "error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
