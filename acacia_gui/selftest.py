"""`acacia --self-test`: prove an install (or a PyInstaller bundle) really works, headless.

Starts `acacia serve` as a child process of the same executable on a temporary data
dir (so the first-run path copies the example plugins in and loads them), waits for
the socket to answer, checks the example handlers are registered, queues one
`demo.sleep` job through the socket, watches it to success, stops the app with
SIGTERM and checks it exits cleanly. Prints each step; exit status 0 when all passed,
1 (with the reason and the app's log tail) otherwise, 2 on bad arguments.

A child process rather than the app in-process, because that is what users run: in a
frozen bundle `sys.executable` is the bundle's own binary, so the self-test also checks
that the bundle's entry point dispatches `serve`, that Qt's offscreen platform plugin
was bundled, and that the socket works across processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from . import __version__
from .config import load_config
from .core.errors import AcaciaError
from .ipc.client import Client
from .plugins.loader import ensure_plugin_dir, examples_dir

EXAMPLE_JOB = ("demo.sleep", {"seconds": 0.2})
EXPECTED_HANDLERS = ("demo.sleep", "selftest.where", "selftest.spin")
PROBE_PLUGIN = '''"""Written by `acacia --self-test`: where handlers run, and a handler that ignores cancel."""
import os
from acacia_gui.jobs import handler

@handler("selftest.where", title="Self-test: which process runs handlers")
def where(ctx, job):
    return {"pid": os.getpid()}

@handler("selftest.spin", title="Self-test: a handler that ignores cancel", cancel_grace=0)
def spin(ctx, job):
    print(f"spinning in pid {os.getpid()}", flush=True)
    while True:
        pass
'''
LOG_TAIL_LINES = 30

T = TypeVar("T")


class SelfTestError(Exception):
    """A step failed; the message says which and why."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"acacia --self-test: {message}", file=sys.stderr)
        raise SystemExit(2)


def server_command(data_dir: Path) -> list[str]:
    """How to start `acacia serve` with this same installation (frozen bundle or Python)."""
    if getattr(sys, "frozen", False):
        prefix = [sys.executable]
    else:
        prefix = [sys.executable, "-m", "acacia_gui"]
    return [*prefix, "serve", "--data-dir", str(data_dir), "--workers", "2", "--stop-timeout", "5"]


def child_environment(data_dir: Path) -> dict[str, str]:
    """The user's environment minus anything that would point the child at real data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACACIA_")}
    env["ACACIA_DATA_DIR"] = str(data_dir)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for(what: str, check: Callable[[], T | None], deadline: float, server: subprocess.Popen[bytes]) -> T:
    """Poll `check` until it returns something, the deadline passes or the app dies."""
    while True:
        value = check()
        if value is not None:
            return value
        if server.poll() is not None:
            raise SelfTestError(f"{what}: the app exited early with status {server.returncode}")
        if time.monotonic() > deadline:
            raise SelfTestError(f"{what}: no answer before the deadline")
        time.sleep(0.05)


class SelfTest:
    """The steps, in order; `say` prints one line per step."""

    def __init__(self, workdir: Path, timeout: float, say: Callable[[str], None]) -> None:
        self.data_dir = workdir / "data"
        self.log_path = workdir / "serve.log"
        self.timeout = timeout
        self.say = say
        self.server: subprocess.Popen[bytes] | None = None
        self.started = time.monotonic()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        self.prepare_plugins()
        self.start_server()
        client = self.connect(deadline)
        with client:
            self.check_handlers(client)
            self.run_example_job(client, deadline)
            self.check_worker_process(client, deadline)
            self.hard_cancel(client, deadline)
        self.stop_server()

    def prepare_plugins(self) -> None:
        """The first-run copy of the example plugins (what `serve` does on a new data dir), plus a probe."""
        plugins = self.data_dir / "plugins"
        self.data_dir.mkdir(mode=0o700, parents=True)
        if not ensure_plugin_dir(plugins, examples_dir()):
            raise SelfTestError(f"could not create the plugin folder {plugins}")
        probe = plugins / "selftest_probe.py"
        probe.write_text(PROBE_PLUGIN, encoding="utf-8")
        probe.chmod(0o600)

    def _finish(self, client: Client, job_id: int, deadline: float, *states: str) -> dict:
        while (job := client.get(job_id, logs=20))["state"] not in states:
            if time.monotonic() > deadline:
                raise SelfTestError(f"job {job_id} is still {job['state']} (waiting for {' or '.join(states)})")
            time.sleep(0.02)
        return job

    def check_worker_process(self, client: Client, deadline: float) -> None:
        assert self.server is not None
        job_id = client.enqueue("selftest.where")
        job = self._finish(client, job_id, deadline, "succeeded", "failed", "cancelled")
        pid = (job.get("result") or {}).get("pid")
        if job["state"] != "succeeded" or not pid or pid == self.server.pid:
            raise SelfTestError(f"job {job_id} did not run in a worker process: {job['state']}, result {job.get('result')}, "
                                f"{job.get('error') or ''}")  # fmt: skip
        self.say(f"job {job_id} ran in worker process {pid} (the app is {self.server.pid})")

    def hard_cancel(self, client: Client, deadline: float) -> None:
        job_id = client.enqueue("selftest.spin")
        job = self._finish(client, job_id, deadline, "running")
        while not any("spinning in pid" in line["message"] for line in job.get("logs") or []):
            if time.monotonic() > deadline:
                raise SelfTestError(f"job {job_id} never reported its worker process")
            time.sleep(0.02)
            job = client.get(job_id, logs=20)
        line = next(line["message"] for line in job["logs"] if "spinning in pid" in line["message"])
        pid = int(line.rsplit(" ", 1)[1])
        cancelled_at = time.monotonic()
        client.cancel(job_id)
        job = self._finish(client, job_id, deadline, "cancelled", "failed", "succeeded")
        took = time.monotonic() - cancelled_at
        if job["state"] != "cancelled":
            raise SelfTestError(f"job {job_id} ended {job['state']} after a cancel: {job.get('error')}")
        while _alive(pid):
            if time.monotonic() > deadline:
                raise SelfTestError(f"the worker process {pid} of cancelled job {job_id} is still alive")
            time.sleep(0.02)
        self.say(f"hard cancel: job {job_id} spinning in worker {pid} was cancelled in {took:.2f} s; its process is gone")

    def start_server(self) -> None:
        command = server_command(self.data_dir)
        self.say(f"data dir {self.data_dir} (temporary)")
        with open(self.log_path, "wb") as log:
            # cwd: `python -m` puts it first on sys.path; a source checkout there would shadow the install under test.
            self.server = subprocess.Popen(command, env=child_environment(self.data_dir), cwd=self.data_dir.parent,
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        shown = " ".join([Path(command[0]).name, *command[1:]])
        self.say(f"started `{shown}` (pid {self.server.pid})")

    def connect(self, deadline: float) -> Client:
        assert self.server is not None
        address = load_config(self.data_dir).socket_address

        def try_hello() -> Client | None:
            client = Client(address, data_dir=self.data_dir, timeout=10.0, connect_timeout=1.0)
            try:
                client.connect()
            except AcaciaError:
                client.close()
                return None
            return client

        client = _wait_for("waiting for the socket", try_hello, deadline, self.server)
        info = client.server_info or {}
        if info.get("pid") != self.server.pid:
            raise SelfTestError(f"the socket {address} is served by pid {info.get('pid')}, not by the app we started")
        self.say(f"socket {address} answered after {time.monotonic() - self.started:.2f} s: "
                 f"acacia {info.get('version')}, protocol {info.get('protocol')}")  # fmt: skip
        return client

    def check_handlers(self, client: Client) -> None:
        reply = client.handlers()
        types = sorted(h["type"] for h in reply.get("handlers", []))
        plugins = (reply.get("plugins") or {}).get("plugins", [])
        problems = (reply.get("plugins") or {}).get("problems", [])
        self.say(f"plugins loaded: {len(plugins)} ({', '.join(p['name'] for p in plugins) or 'none'}); "
                 f"handlers: {', '.join(types) or 'none'}")  # fmt: skip
        for problem in problems:
            self.say(f"plugin problem: {problem.get('path')}: {problem.get('message')}")
        missing = [t for t in EXPECTED_HANDLERS if t not in types]
        if missing:
            raise SelfTestError(f"the example plugins did not register {', '.join(missing)}")

    def run_example_job(self, client: Client, deadline: float) -> None:
        job_type, payload = EXAMPLE_JOB
        queued_at = time.monotonic()
        job_id = client.enqueue(job_type, payload)
        self.say(f"enqueued job {job_id}: {job_type} {json.dumps(payload)} (through the socket)")
        seen: list[str] = []
        with client.watch(job=job_id, idle=0.2) as stream:
            for event in stream:
                state = event.get("state") if event is not None else None
                if state and (not seen or seen[-1] != state):
                    seen.append(str(state))
                if time.monotonic() > deadline:
                    raise SelfTestError(f"job {job_id} did not finish in time (states seen: {seen})")
        job = client.get(job_id)
        took = time.monotonic() - queued_at
        if job["state"] != "succeeded":
            raise SelfTestError(f"job {job_id} ended {job['state']}: {job.get('error') or 'no error message'}")
        if not seen or seen[-1] != job["state"]:
            seen.append(job["state"])
        states = " -> ".join(seen)
        self.say(f"job {job_id} {states} in {took:.2f} s, result {json.dumps(job.get('result'))}")

    def stop_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGTERM)
        try:
            code = self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise SelfTestError("the app did not stop within 15 s of SIGTERM") from None
        if code != 0:
            raise SelfTestError(f"the app exited with status {code} after SIGTERM (expected 0)")
        self.say("stopped the app with SIGTERM: exit status 0")

    def kill_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait(timeout=10)

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie nobody reaped yet is not running
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def describe_runtime() -> str:
    where = f"bundle {Path(sys.executable).parent}" if getattr(sys, "frozen", False) else f"Python {sys.executable}"
    return f"acacia {__version__} self-test ({where}; Python {platform.python_version()}, {platform.platform()})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the self-test; 0 when everything passed."""
    parser = _Parser(prog="acacia --self-test", description="Start Acacia headless on a temporary data dir and run a job.")
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds (default 60)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir and log, for a post-mortem")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if sys.platform == "win32":
        print("acacia --self-test: the socket client is Unix-only for now; nothing to test on Windows", file=sys.stderr)
        return 1

    def say(line: str) -> None:
        print(f"  {line}", flush=True)

    print(describe_runtime(), flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="acacia-selftest-"))
    test = SelfTest(workdir, args.timeout, say)
    try:
        test.run()
    except (SelfTestError, AcaciaError, OSError) as exc:
        test.kill_server()
        print(f"acacia --self-test: FAILED: {exc}", file=sys.stderr)
        tail = test.log_tail()
        if tail:
            print(f"--- last lines of the app's log ({test.log_path}) ---\n{tail}", file=sys.stderr)
        args.keep = args.keep or bool(tail)
        return 1
    finally:
        test.kill_server()
        if args.keep:
            print(f"  kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"self-test passed in {time.monotonic() - test.started:.2f} s", flush=True)
    return 0
