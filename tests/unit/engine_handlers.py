"""Module-level handlers for the engine's unit tests: a worker process imports them by name
(origin "module:tests.unit.engine_handlers:<name>"), as it would an installed plugin."""

from __future__ import annotations

import ctypes
import os
import time


def where(ctx, job):
    return {"pid": os.getpid()}


def crash(ctx, job):
    ctypes.string_at(0)


def spin(ctx, job):
    with open(job.payload["pid_file"], "w") as f:
        f.write(str(os.getpid()))
    while True:
        pass


def chatty(ctx, job):
    import logging

    logging.getLogger("chatty").info("logged %s", job.id)
    print("printed", job.id, flush=True)
    job.report_progress(0.5, "half")
    return "ok"


def polite(ctx, job):
    with open(job.payload["started_file"], "w") as f:
        f.write(str(os.getpid()))
    while not ctx.wait(0.01):
        pass
    ctx.check()


def slow(ctx, job):
    time.sleep(job.payload.get("seconds", 0.05))
    return job.id


def flood(ctx, job):
    """Prints payload["mb"] MB to stdout (the job's log through the worker's pipe), numbered lines."""
    line = "x" * 990
    for i in range(job.payload["mb"] * 1000):
        print(f"{i:08d} {line}")
    print("the last line", flush=True)
    return "ok"


def huge_result(ctx, job):
    return "r" * job.payload["bytes"]
