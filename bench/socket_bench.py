"""Enqueue through the local socket, next to the in-process JobQueue, in the same run.

    python bench/socket_bench.py            # prints a table (also run by `make bench`)

Measures, against a real `acacia serve` subprocess on a fresh data dir:
- enqueue round trips per second, one job per request (each one durable: one commit),
- batched enqueue (1,000 jobs per request, one transaction each),
- enqueue → start latency: from just before the request is sent to the moment the
  handler starts (the handler stamps time.monotonic(), one clock for all processes),
- a bare `hello` round trip, to show the socket's own share.
The in-process figures (JobQueue.enqueue, enqueue_many, enqueue → start on a PoolWorker)
come from the engine bench's cases, each run in its own subprocess like run.py does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO))

from common import latency_summary, machine_info, timed_loop  # noqa: E402

SINGLE_MAX_JOBS = 3_000
SINGLE_MAX_SECONDS = 3.0
BATCHES = 30
BATCH_SIZE = 1_000
LATENCY_SAMPLES = 200
LATENCY_WARMUP = 10
HELLO_MAX = 5_000

PLUGIN = '''
import time
from acacia_gui.jobs import handler

@handler("bench.noop", queue="bench")
def noop(ctx, job):
    return None

@handler("bench.stamp", queue="stamp")
def stamp(ctx, job):
    return {"started": time.monotonic()}
'''


class Serve:
    """`acacia serve` on a fresh data dir with the bench plugin; stopped with SIGTERM."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        plugins = root / "plugins"
        plugins.mkdir(mode=0o700)
        (plugins / "bench_plugin.py").write_text(PLUGIN)
        os.chmod(plugins / "bench_plugin.py", 0o600)
        self.runtime = Path(tempfile.mkdtemp(prefix="acb-", dir="/tmp"))
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.runtime), "QT_QPA_PLATFORM": "offscreen"}
        self.args = ["--data-dir", str(self.data), "--plugins-dir", str(plugins)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        os.environ["XDG_RUNTIME_DIR"] = str(self.runtime)  # so this process computes the same address
        from acacia_gui.config import load_config
        from acacia_gui.ipc.client import probe

        address = load_config(self.data).socket_address
        self.proc = subprocess.Popen([sys.executable, "-m", "acacia_gui", "serve", "--workers", "2", *self.args],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 30
        while probe(address) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("acacia serve did not start")
            time.sleep(0.02)
        return address

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.runtime, ignore_errors=True)


def socket_single(client: Any) -> dict[str, Any]:
    client.pause("bench")  # measure the enqueue, not the worker competing for the two cores
    samples: list[float] = []

    def step(i: int) -> None:
        t0 = time.perf_counter()
        client.enqueue("bench.noop", i)
        samples.append(time.perf_counter() - t0)

    result = timed_loop(step, SINGLE_MAX_JOBS, SINGLE_MAX_SECONDS)
    result.update(latency_summary(samples[LATENCY_WARMUP:]))
    return result


def socket_batch(client: Any) -> dict[str, Any]:
    jobs = [{"type": "bench.noop", "payload": i} for i in range(BATCH_SIZE)]
    start = time.perf_counter()
    for _ in range(BATCHES):
        client.enqueue_many(jobs)
    seconds = time.perf_counter() - start
    client.delete_finished()
    return {"count": BATCHES * BATCH_SIZE, "seconds": seconds, "rate": BATCHES * BATCH_SIZE / seconds}


def socket_latency(client: Any) -> dict[str, Any]:
    samples = []
    for i in range(LATENCY_WARMUP + LATENCY_SAMPLES):
        t0 = time.monotonic()
        job_id = client.enqueue("bench.stamp", i)
        stream = client.watch(job=job_id)
        for _ in stream:
            pass
        job = stream.end["job"] if stream.end and stream.end.get("job") else client.get(job_id)
        if i >= LATENCY_WARMUP:
            samples.append(job["result"]["started"] - t0)
    return latency_summary(samples)


def socket_hello(client: Any) -> dict[str, Any]:
    return timed_loop(lambda i: client.call("hello", {"version": "1.0"}), HELLO_MAX, 2.0)


def in_process(case: str) -> dict[str, Any]:
    """The engine bench's own case (ours, synchronous=normal), in a subprocess as run.py does."""
    from run import measure

    return measure("ours", case, "normal")


def measure_socket() -> dict[str, dict[str, Any]]:
    from acacia_gui.ipc.client import Client

    with tempfile.TemporaryDirectory(prefix="acacia-socket-bench-") as tmp:
        serve = Serve(Path(tmp))
        try:
            address = serve.start()
            with Client(address) as client:
                return {
                    "hello": socket_hello(client),
                    "single": socket_single(client),
                    "batch": socket_batch(client),
                    "latency": socket_latency(client),
                }
        finally:
            serve.stop()


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f} {unit}" if unit == "ms" else f"{value:,.0f} {unit}"


def main() -> int:
    info = machine_info(Path(tempfile.gettempdir()))
    print(f"socket bench on {info['cpu']}, {info['os']}, Python {info['python']}, SQLite {info['sqlite']}", flush=True)
    ours = {case: in_process(case) for case in ("enqueue_single", "enqueue_batch", "latency")}
    sock = measure_socket()
    single, batch, latency = sock["single"], sock["batch"], sock["latency"]
    cells = [
        ("Enqueue, one job per call (one commit each)", fmt(ours["enqueue_single"].get("rate"), "jobs/s"),
         fmt(single["rate"], "jobs/s")),
        ("  its round trip, p50 / p99", "—", f"{single['p50_ms']:.2f} ms / {single['p99_ms']:.2f} ms"),
        (f"Batch enqueue, {BATCH_SIZE:,} jobs per call", fmt(ours["enqueue_batch"].get("rate"), "jobs/s"),
         fmt(batch["rate"], "jobs/s")),
        ("Enqueue → start latency, p50", fmt(ours["latency"].get("p50_ms"), "ms"), fmt(latency["p50_ms"], "ms")),
        ("Enqueue → start latency, p99", fmt(ours["latency"].get("p99_ms"), "ms"), fmt(latency["p99_ms"], "ms")),
        ("hello round trips (the socket alone)", "—", fmt(sock["hello"]["rate"], "per s")),
    ]  # fmt: skip
    header = ("Measure", "In-process (JobQueue)", "Through the socket")
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(3)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    errors = [f"{case}: {r['error']}" for case, r in ours.items() if "error" in r]
    for error in errors:
        print(f"in-process {error}", file=sys.stderr)
    print(f"\n{sock['single']['count']:,} single enqueues, {sock['batch']['count']:,} batched, "
          f"{LATENCY_SAMPLES} latency samples; acacia serve with 2 workers, synchronous=normal.")  # fmt: skip
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
