"""Helpers shared by the engine benchmark's cases: sizes, timing, percentiles, machine info.

Every case is a function `(workdir: Path, sync: str) -> dict` that measures one thing
on one system in a fresh directory and returns JSON-ready figures; `run.py` runs each
case in its own subprocess so no thread, connection or Qt object outlives its case.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

SYNC_PRAGMA = {"normal": "NORMAL", "full": "FULL"}

# Sizes, chosen so the whole engine bench stays near a minute on a 2-core machine.
ENQUEUE_MAX_JOBS = 5_000  # single-commit enqueue: at most this many jobs...
ENQUEUE_MAX_SECONDS = 1.0  # ...or this long, whichever comes first (FULL fsyncs are slow)
BATCH_JOBS = 30_000
BATCH_SIZE = 1_000
THROUGHPUT_JOBS = 20_000  # ours and raw
HUEY_THROUGHPUT_JOBS = 3_000  # SqliteHuey is slower; fewer jobs keep the run short
LATENCY_SAMPLES = 300
HUEY_LATENCY_SAMPLES = 40
LATENCY_WARMUP = 10

Case = Callable[[Path, str], dict[str, Any]]


def timed_loop(step: Callable[[int], object], max_count: int, max_seconds: float) -> dict[str, Any]:
    """Call step(i) until max_count calls or max_seconds; return count, seconds and rate."""
    start = time.perf_counter()
    deadline = start + max_seconds
    count = 0
    while count < max_count:
        step(count)
        count += 1
        if time.perf_counter() >= deadline:
            break
    seconds = time.perf_counter() - start
    return {"count": count, "seconds": seconds, "rate": count / seconds}


def rate(count: int, seconds: float, cpu_seconds: float | None = None) -> dict[str, Any]:
    """Jobs per second; with the process's CPU time (all threads), CPU µs per job too."""
    result = {"count": count, "seconds": seconds, "rate": count / seconds}
    if cpu_seconds is not None:
        result["cpu_us_per_job"] = cpu_seconds / count * 1e6
    return result


def latency_summary(samples_s: list[float]) -> dict[str, Any]:
    """p50/p99/max in milliseconds (the warm-up samples are already dropped)."""
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "count": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": percentile(ms, 99),
        "max_ms": ms[-1],
    }


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.002) -> None:
    """Poll `condition` until true; raise TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _filesystem(path: Path) -> str:
    """The file system type holding `path` (Linux: from /proc/mounts), or '?'."""
    try:
        best, kind = "", "?"
        target = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            _dev, mount, fstype, *_ = line.split()
            if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                best, kind = mount, fstype
        return kind
    except OSError:
        return "?"


def machine_info(tmp_root: Path) -> dict[str, str]:
    return {
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical cores",
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "sqlite": sqlite3.sqlite_version,
        "pyside6": _version("PySide6-Essentials") if _version("PySide6-Essentials") != "not installed" else _version("PySide6"),
        "huey": _version("huey"),
        "temp dir": f"{tmp_root} ({_filesystem(tmp_root)})",
    }
