"""Per-job resource limits inside a worker process (Linux; see the README for other systems).

The process is reused, so each limit is applied for one job and taken back after it:
only soft limits are changed (an unprivileged process can raise a soft limit again up
to the hard one, but never a hard limit). memory_limit caps the address space the job
may add to what the process already had (RLIMIT_AS counts mapped libraries and thread
stacks too, so it is measured from the job's start); a big allocation then raises
MemoryError, reported as "exceeded its memory limit". cpu_time_limit makes the kernel
send SIGXCPU once the job has used that much CPU; the app reports the process's death
as the limit. nice runs the job on a thread of its own at that level (Linux keeps one
per thread), so later jobs of the slot run at normal priority again.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import threading
from typing import Any

from ...core.limits import format_bytes
from ...core.runner import Completion

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

OPEN_FILES_SOFT_LIMIT = 4096  # a leaking handler exhausts its own table at this size, never the app's
RECYCLE_AT_OPEN_FILES = 256  # a process that kept this many descriptors after a job is replaced


def _vm_size() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def apply(limits: dict[str, Any]) -> dict[int, int]:
    """Set this job's limits; returns what `reset` restores."""
    if resource is None:
        return {}
    applied: dict[int, int] = {}
    memory = limits.get("memory_limit")
    if memory:
        base = _vm_size()
        if base is not None:
            applied[resource.RLIMIT_AS] = _set_soft(resource.RLIMIT_AS, base + int(memory))
    cpu = limits.get("cpu_time_limit")
    if cpu:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        applied[resource.RLIMIT_CPU] = _set_soft(resource.RLIMIT_CPU, math.ceil(usage.ru_utime + usage.ru_stime + cpu))
    return applied


def _set_soft(which: int, value: int) -> int:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard))
    return soft


def reset(applied: dict[int, int]) -> None:
    for which, soft in applied.items():
        _, hard = resource.getrlimit(which)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass  # a handler lowered the hard limit below it: the process is replaced (should_recycle)


def explain(completion: Completion, limits: dict[str, Any]) -> Completion:
    """A MemoryError under a memory limit is the limit, and says so."""
    memory = limits.get("memory_limit")
    if memory and completion.error and "MemoryError" in completion.error:
        error = f"exceeded its memory limit of {format_bytes(int(memory))}"
        return dataclasses.replace(completion, error=error, message=completion.message or "failed")
    return completion


def should_recycle(completion: Completion) -> bool:
    """Replace a process the handler may have left damaged: a failure out of memory, or
    descriptors left open (a handler that leaked them may still have succeeded, and the
    slot's next job would find none left)."""
    failed = completion.state.value != "succeeded"
    if failed and completion.error and ("MemoryError" in completion.error or "memory limit" in completion.error):
        return True
    return _lowest_free_descriptor() >= RECYCLE_AT_OPEN_FILES


def _lowest_free_descriptor() -> int:
    """dup() returns the lowest free descriptor: past RECYCLE_AT_OPEN_FILES, every one below
    it is taken. Two system calls, cheap enough for every job (listing /proc/self/fd is not)."""
    try:
        fd = os.dup(0)
    except OSError as exc:  # none left at all
        return RECYCLE_AT_OPEN_FILES if exc.errno in (errno.EMFILE, errno.ENFILE) else 0
    os.close(fd)
    return fd


def set_thread_nice(nice: int) -> None:
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def set_process_limits() -> None:
    """At start: a small descriptor table of its own, and no core files (a crash's Python
    stack is in the job's log instead, and a core per crashing job would fill the disk)."""
    if resource is None:
        return
    _, core_hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, core_hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = OPEN_FILES_SOFT_LIMIT if hard == resource.RLIM_INFINITY else min(OPEN_FILES_SOFT_LIMIT, hard)
    if soft == resource.RLIM_INFINITY or soft > target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
