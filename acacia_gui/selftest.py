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

EXAMPLE_JOB = ("demo.sleep", {"seconds": 0.2})
EXPECTED_HANDLERS = ("demo.sleep",)
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
        self.start_server()
        client = self.connect(deadline)
        with client:
            self.check_handlers(client)
            self.run_example_job(client, deadline)
        self.stop_server()

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
