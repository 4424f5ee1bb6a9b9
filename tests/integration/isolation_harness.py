"""Shared by tests/integration/test_process_isolation*.py: a plugin of handlers that misbehave
in every way a worker process must contain, a good job to run beside each, and a real
`acacia serve` to run them in, observed through its socket, its database and /proc.

Paths (release files, record files) travel in the job's payload, so one plugin serves
every test. A handler that records something writes a JSON file atomically; the test
polls for it (never a fixed sleep).
"""

from __future__ import annotations

import contextlib
import json
import os
import textwrap
from pathlib import Path

from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess, descendants

FINAL = ("succeeded", "failed", "cancelled", "interrupted")

PLUGIN = textwrap.dedent('''
    """Test plugin: a good handler, and handlers that crash, leak, spin and fork."""
    import ctypes, json, os, subprocess, sys, threading, time
    from acacia_gui.jobs import handler

    LEAKED = []  # descriptors iso.fds keeps open after it returns

    def record(job, **data):
        path = job.payload.get("record")
        if path:
            data.setdefault("pid", os.getpid())
            with open(path + ".tmp", "w") as out:
                json.dump(data, out)
            os.replace(path + ".tmp", path)

    def hold(ctx, job):
        """Until the test creates payload["release"] (5 minutes at most)."""
        deadline = time.monotonic() + 300
        while not os.path.exists(job.payload["release"]):
            if time.monotonic() > deadline:
                raise RuntimeError("never released")
            ctx.wait(0.02)
            ctx.check()

    def spin():
        while True:  # ignores cancellation, SIGTERM aside
            pass

    @handler("iso.good", retry_backoff=0)
    def good(ctx, job):
        record(job)
        hold(ctx, job)
        return {"pid": os.getpid()}

    @handler("iso.hold", max_interruptions=3)
    def hold_job(ctx, job):
        record(job, attempts=job.attempts, interruptions=job.interruptions)
        if job.payload.get("sleep_child"):
            subprocess.Popen(["sleep", "300"])
        hold(ctx, job)
        return {"pid": os.getpid()}

    @handler("iso.hold_once", max_interruptions=1)
    def hold_once(ctx, job):
        record(job)
        hold(ctx, job)

    @handler("iso.hold_unsafe", on_interrupt="fail")
    def hold_unsafe(ctx, job):
        record(job)
        hold(ctx, job)

    @handler("iso.pid_thread", isolation="thread")
    def pid_thread(ctx, job):
        return {"pid": os.getpid()}

    @handler("iso.pid_process")
    def pid_process(ctx, job):
        return {"pid": os.getpid()}

    @handler("iso.segfault", max_attempts=2, retry_backoff=0)
    def segfault(ctx, job):
        record(job, attempts=job.attempts)
        ctypes.string_at(0)

    @handler("iso.exit3", retry_backoff=0)
    def exit3(ctx, job):
        os._exit(3)

    @handler("iso.sys_exit")
    def sys_exit(ctx, job):
        sys.exit()

    @handler("iso.abort")
    def abort(ctx, job):
        os.abort()

    @handler("iso.memory", memory_limit="64MB")
    def memory(ctx, job):
        blob = bytearray(500 * 1000 * 1000)
        return len(blob)

    @handler("iso.allocate")
    def allocate(ctx, job):
        blob = bytearray(job.payload["bytes"])
        return len(blob)

    @handler("iso.fds")
    def fds(ctx, job):
        try:
            while True:
                LEAKED.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            opened = len(LEAKED)
            if job.payload.get("keep"):
                return {"opened": opened, "errno": exc.errno}
            raise

    @handler("iso.open_file")
    def open_file(ctx, job):
        with open(os.devnull) as handle:
            return {"pid": os.getpid(), "fd": handle.fileno()}

    @handler("iso.spin", cancel_grace=1)
    def spin_job(ctx, job):
        record(job)
        spin()

    @handler("iso.spin_patient", cancel_grace=60)
    def spin_patient(ctx, job):
        record(job)
        spin()

    @handler("iso.spin_timeout", timeout=1, cancel_grace=1)
    def spin_timeout(ctx, job):
        record(job)
        spin()

    @handler("iso.spin_cpu", cpu_time_limit=1)
    def spin_cpu(ctx, job):
        record(job)
        spin()

    @handler("iso.tree", cancel_grace=1)
    def tree(ctx, job):
        import psutil
        shell = subprocess.Popen(["/bin/sh", "-c", "sleep 300 & sleep 300"])
        escaped = subprocess.Popen(["sleep", "300"], start_new_session=True)  # left the process group
        me = psutil.Process()
        deadline = time.monotonic() + 60
        while sum(p.name() == "sleep" for p in me.children(recursive=True)) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        record(job, shell=shell.pid, escaped=escaped.pid, descendants=[p.pid for p in me.children(recursive=True)])
        while True:
            time.sleep(1)  # ignores cancellation

    @handler("iso.fork")
    def fork(ctx, job):
        child = os.fork()
        if child == 0:
            time.sleep(300)
            os._exit(0)
        record(job, helper=child)
        return {"pid": os.getpid(), "helper": child}

    @handler("iso.thread_forever")
    def thread_forever(ctx, job):
        worker = threading.Thread(target=lambda: time.sleep(3600), name="never-ends", daemon=False)
        worker.start()
        record(job, thread=worker.native_id)
        return {"pid": os.getpid()}

    @handler("iso.fork_in_app", isolation="thread")
    def fork_in_app(ctx, job):
        return fork(ctx, job)

    @handler("iso.thread_forever_in_app", isolation="thread")
    def thread_forever_in_app(ctx, job):
        return thread_forever(ctx, job)

    @handler("iso.nice", nice=10)
    def nice(ctx, job):
        return {"pid": os.getpid(), "nice": os.getpriority(os.PRIO_PROCESS, threading.get_native_id())}

    @handler("iso.priority")
    def priority(ctx, job):
        return {"pid": os.getpid(), "nice": os.getpriority(os.PRIO_PROCESS, threading.get_native_id())}
''')


class Harness:
    """One sandbox, its plugin, and (after start()) a running `acacia serve` with a store to observe it."""

    def __init__(self, tmp_path: Path, *serve_args: str) -> None:
        self.tmp = tmp_path
        self.sandbox = Sandbox(tmp_path)
        plugin = self.sandbox.plugins_dir / "isolation.py"
        plugin.write_text(PLUGIN)
        os.chmod(plugin, 0o600)
        self.serve_args = serve_args or ("--workers", "2")
        self.serve: ServeProcess | None = None
        self.store: SqliteJobStore | None = None
        self._files = 0

    # -- the app ----------------------------------------------------------------------
    def start(self) -> Harness:
        self.serve = ServeProcess(self.sandbox, *self.serve_args).start()
        if self.store is None:
            self.store = SqliteJobStore(self.sandbox.data_dir / "acacia.db")
        return self

    @property
    def pid(self) -> int:
        return self.serve.proc.pid

    def close(self) -> None:
        if self.serve is not None:
            self.serve.stop()
        if self.store is not None:
            self.store.close()
        self.sandbox.cleanup()

    # -- jobs ---------------------------------------------------------------------------
    def path(self, name: str) -> str:
        """A fresh file name for a release or record file."""
        self._files += 1
        return str(self.tmp / f"{name}-{self._files}")

    def enqueue(self, job_type: str, payload: dict | None = None, **options) -> int:
        with self.sandbox.client() as client:
            return client.enqueue(job_type, payload or {}, **options)

    def job(self, job_id: int):
        return self.store.require_job(job_id)

    def wait_state(self, job_id: int, *states: str, timeout: float = 60.0):
        states = states or FINAL
        wait_until(lambda: self.job(job_id).state in states, timeout=timeout,
                   message=f"job {job_id} to be {'/'.join(states)} (it is {self.job(job_id).state}); serve log:\n"
                           f"{self.serve.log()[-3000:]}")  # fmt: skip
        return self.job(job_id)

    def run(self, job_type: str, payload: dict | None = None, *, wait: float = 60.0, **options):
        """Enqueue a job (`options`: the socket's, e.g. max_attempts) and wait up to `wait` s until it ends."""
        return self.wait_state(self.enqueue(job_type, payload, **options), timeout=wait)

    def read_record(self, path: str, timeout: float = 60.0) -> dict:
        """The JSON a handler recorded at `path` (waits until it is there)."""
        wait_until(lambda: os.path.exists(path), timeout=timeout, message=f"a handler to record {path}")
        return json.loads(Path(path).read_text())

    def result(self, job_id: int):
        return self.job(job_id).result

    @contextlib.contextmanager
    def good_job_beside(self, job_type: str = "iso.good"):
        """A good job, running in its own worker process while the block runs; then released,
        it must still end `succeeded` in the same process it started in."""
        release, record = self.path("release"), self.path("good")
        job_id = self.enqueue(job_type, {"release": release, "record": record})
        started = self.read_record(record)
        assert self.job(job_id).state == "running"
        assert started["pid"] in descendants(self.pid), "the good job runs in a worker process of the app"
        try:
            yield job_id
        finally:
            Path(release).touch()
        job = self.wait_state(job_id)
        assert job.state == "succeeded", (job.state, job.error)
        assert self.result(job_id)["pid"] == started["pid"]
        assert self.serve.alive()
