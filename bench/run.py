"""`make bench`: Acacia's engine next to raw SQLite and SqliteHuey, then the other benches.

    python bench/run.py                      # everything; writes bench/results.md
    python bench/run.py --only ours,raw      # some systems (ours, raw, huey)
    python bench/run.py --cases throughput   # some cases (enqueue_single, enqueue_batch, throughput, latency)
    python bench/run.py --no-others          # skip the other benches (socket, gui, process, pipeline, retention, screenshots)
    python bench/run.py --profile            # cProfile of ours on the no-op throughput case

Each case runs in its own subprocess (`--case SYSTEM CASE SYNC`, which prints one JSON
line) with a fresh temp directory, so threads, connections and Qt objects never leak
from one measurement into the next, and one crash does not stop the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from common import (  # noqa: E402 - needs the bench folder on sys.path first
    BATCH_JOBS,
    BATCH_SIZE,
    ENQUEUE_MAX_JOBS,
    ENQUEUE_MAX_SECONDS,
    HUEY_LATENCY_SAMPLES,
    HUEY_THROUGHPUT_JOBS,
    LATENCY_SAMPLES,
    THROUGHPUT_JOBS,
    machine_info,
)

SYSTEMS = ("ours", "raw", "huey")
# (case, synchronous level, row label, unit, which figure of the case's result)
ROWS = (
    ("enqueue_single", "normal", "Durable enqueue, one commit per job", "jobs/s", "rate"),
    ("enqueue_single", "full", "Durable enqueue, one commit per job", "jobs/s", "rate"),
    ("enqueue_batch", "normal", f"Batch enqueue, {BATCH_SIZE:,} jobs per transaction", "jobs/s", "rate"),
    ("throughput", "normal", "No-op jobs completed, 2 workers", "jobs/s", "rate"),
    ("throughput", "normal", "CPU time per no-op job, all threads", "µs", "cpu_us_per_job"),
    ("latency", "normal", "Enqueue → start latency, p50", "ms", "p50_ms"),
    ("latency", "normal", "Enqueue → start latency, p99", "ms", "p99_ms"),
)
OTHER_BENCHES = ("socket_bench", "gui_bench", "process_bench", "pipeline_bench", "retention_bench", "screenshots")
CASE_TIMEOUT = 150
OTHER_TIMEOUT = 600


# -- one case, in this (child) process ------------------------------------------------
def run_case(system: str, case: str, sync: str) -> dict[str, Any]:
    if system == "ours":
        from engine_bench import CASES
    else:
        from baselines import CASES
    func = CASES[case][system]
    with tempfile.TemporaryDirectory(prefix=f"acacia-bench-{system}-{case}-") as tmp:
        return func(Path(tmp), sync)


# (system, case) pairs that exist; Huey has no batch enqueue. Kept here so the parent imports neither Qt nor Huey.
AVAILABLE = {(s, c) for s in SYSTEMS for c in ("enqueue_single", "enqueue_batch", "throughput", "latency")} - {
    ("huey", "enqueue_batch")
}


# -- the parent: every case in a subprocess -------------------------------------------
def measure(system: str, case: str, sync: str) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    command = [sys.executable, str(Path(__file__).resolve()), "--case", system, case, sync]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=CASE_TIMEOUT, cwd=REPO, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CASE_TIMEOUT} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def run_engine_bench(systems: set[str], cases: set[str], repeats: int) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Each case `repeats` times, the systems interleaved so a busy moment hits all of them;
    the figures kept are each system's median run (by the row's figure)."""
    results: dict[tuple[str, str, str], dict[str, Any]] = {}
    seen = set()
    for case, sync, _label, _unit, key in ROWS:
        if (case, sync) in seen or case not in cases:
            continue
        seen.add((case, sync))
        wanted = [s for s in SYSTEMS if s in systems and (s, case) in AVAILABLE]
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in wanted}
        for _ in range(1 if case == "latency" else repeats):
            for system in wanted:
                started = time.perf_counter()
                result = measure(system, case, sync)
                took = time.perf_counter() - started
                summary = result.get("error") or ", ".join(f"{k}={_short(v)}" for k, v in result.items())
                print(f"  {system:<5} {case:<15} {sync:<6} {summary}  ({took:.1f} s)", file=sys.stderr, flush=True)
                runs[system].append(result)
        for system, system_runs in runs.items():
            results[(system, case, sync)] = _median_run(system_runs, key)
    return results


def _median_run(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    good = sorted((r for r in runs if "error" not in r), key=lambda r: r[key])
    if not good:
        return runs[-1]
    chosen = dict(good[(len(good) - 1) // 2])
    chosen["runs"] = [r[key] for r in good]
    return chosen


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# -- the table ------------------------------------------------------------------------
def _figure(results, system: str, case: str, sync: str, key: str) -> float | None:
    result = results.get((system, case, sync))
    if not result or "error" in result:
        return None
    return result.get(key)


def _cell(value: float | None, unit: str, result: dict[str, Any] | None) -> str:
    if result and "error" in result:
        return "error"
    if value is None:
        return "—"
    return f"{value:.2f}" if unit == "ms" else f"{value:,.0f}"


def _ratio(ours: float | None, other: float | None) -> str:
    if ours is None or not other:
        return "—"
    return f"{ours / other:.2f}\u00d7"  # multiplication sign


def table_rows(results) -> list[list[str]]:
    rows = []
    for case, sync, label, unit, key in ROWS:
        figures = {s: _figure(results, s, case, sync, key) for s in SYSTEMS}
        cells = [_cell(figures[s], unit, results.get((s, case, sync))) for s in SYSTEMS]
        rows.append([f"{label} ({unit})", sync.upper(), *cells,
                     _ratio(figures["ours"], figures["raw"]), _ratio(figures["ours"], figures["huey"])])  # fmt: skip
    return rows


HEADER = ["Measure", "synchronous", "Acacia", "raw SQLite", "SqliteHuey", "Acacia / raw", "Acacia / Huey"]


def markdown(results, info: dict[str, str]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---", "---"] + ["---:"] * 5) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    errors = [f"- {s} {c} {y}: {r['error']}" for (s, c, y), r in results.items() if "error" in r]
    notes = [
        "",
        "Rates: higher is better; CPU time and latency: lower is better (a ratio below 1 is better there).",
        "What each row measures, and how: bench/README.md.",
        "Each figure is the median of the runs (latency: one run of many samples); every run is in bench/results.json.",
        f"Sizes: single enqueue up to {ENQUEUE_MAX_JOBS:,} jobs or {ENQUEUE_MAX_SECONDS:g} s; batch {BATCH_JOBS:,} jobs; "
        f"throughput {THROUGHPUT_JOBS:,} jobs (SqliteHuey {HUEY_THROUGHPUT_JOBS:,}); latency {LATENCY_SAMPLES} samples "
        f"(SqliteHuey {HUEY_LATENCY_SAMPLES}, which polls every 0.1 s by default).",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + ".",
    ]
    if errors:
        notes += ["", "Failed cases:", *errors]
    return "\n".join(lines + notes) + "\n"


def plain_table(results) -> str:
    rows = [HEADER, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    out = []
    for n, row in enumerate(rows):
        cells = zip(row, widths, strict=True)
        out.append("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(cells)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _other_sections(path: Path) -> str:
    """What other benches wrote below the engine table (from the first `## ` heading on), kept as it was."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    start = next((i for i, line in enumerate(lines) if line.startswith("## ")), None)
    return "" if start is None else "\n" + "".join(lines[start:])


# -- the other helpers' benches --------------------------------------------------------
def run_others() -> dict[str, int | str]:
    """Call each other bench's main() in its own subprocess; one failing stops nothing."""
    outcomes: dict[str, int | str] = {}
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    for name in OTHER_BENCHES:
        if not (BENCH_DIR / f"{name}.py").exists():
            continue
        print(f"\n== {name} ==", flush=True)
        code = f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); import {name}; sys.exit({name}.main())"
        try:
            outcomes[name] = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, timeout=OTHER_TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            outcomes[name] = f"timed out after {OTHER_TIMEOUT} s"
    return outcomes


def profile_throughput(jobs: int) -> None:
    """cProfile of ours on the no-op throughput case (the worker part only, and only the main
    thread: cProfile does not see pool threads); prints the top functions, then ours by cumulative time."""
    import cProfile
    import pstats

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from engine_bench import ours_throughput

    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="acacia-bench-profile-") as tmp:
        result = ours_throughput(Path(tmp), "normal", jobs=jobs, profiler=profiler)
    print(f"{jobs} jobs at {result['rate']:,.0f} jobs/s under cProfile (slower than unprofiled)\n")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(r"worker\.py|sqlite\.py|runner\.py|events\.py|context\.py", 40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", nargs=3, metavar=("SYSTEM", "CASE", "SYNC"), help=argparse.SUPPRESS)
    parser.add_argument("--only", default=",".join(SYSTEMS), help="systems to measure (default: all)")
    parser.add_argument("--cases", default="enqueue_single,enqueue_batch,throughput,latency", help="cases to run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (median kept; latency runs once)")
    parser.add_argument("--no-others", action="store_true", help="skip the socket/GUI/process/pipeline benches, screenshots")
    parser.add_argument("--profile", action="store_true", help="profile ours on the throughput case and exit")
    parser.add_argument("--profile-jobs", type=int, default=THROUGHPUT_JOBS)
    args = parser.parse_args(argv)
    systems, cases = set(args.only.split(",")), set(args.cases.split(","))
    unknown = (systems - set(SYSTEMS)) | (cases - {c for _, c in AVAILABLE})
    if unknown:
        parser.error(f"unknown system or case: {', '.join(sorted(unknown))}")
    if args.case:
        print(json.dumps(run_case(*args.case)))
        return 0
    if args.profile:
        profile_throughput(args.profile_jobs)
        return 0
    info = machine_info(Path(tempfile.gettempdir()))
    print("Engine benchmark: " + "; ".join(f"{k} {v}" for k, v in info.items()), file=sys.stderr, flush=True)
    started = time.perf_counter()
    results = run_engine_bench(systems, cases, max(1, args.repeats))
    print(f"\nEngine benchmark ({time.perf_counter() - started:.0f} s)\n")
    print(plain_table(results))
    for key, value in info.items():
        print(f"  {key}: {value}")
    if systems == set(SYSTEMS) and cases == {c for _, c in AVAILABLE}:
        (BENCH_DIR / "results.md").write_text(markdown(results, info) + _other_sections(BENCH_DIR / "results.md"))
        runs = [{"system": s, "case": c, "sync": y, **r} for (s, c, y), r in results.items()]
        (BENCH_DIR / "results.json").write_text(json.dumps({"machine": info, "results": runs}, indent=1) + "\n")
        print(f"\nMarkdown table written to {BENCH_DIR / 'results.md'}", flush=True)
    else:
        print("\nA partial run: bench/results.md left as it was.", flush=True)
    failed = any("error" in r for r in results.values())
    others = {} if args.no_others else run_others()
    for name, outcome in others.items():
        print(f"{name}: {'ok' if outcome == 0 else f'failed ({outcome})'}")
        failed = failed or outcome != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
