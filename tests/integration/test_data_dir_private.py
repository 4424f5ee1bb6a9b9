"""The data folder is the user's alone, and one app runs on it at a time (issue 10).

- Whoever creates the data folder (the CLI with no app running, or `serve`), it is 0700 and
  every file in it (database, -wal, -shm, lock, instance files) is 0600.
- An install made before (0755 / 0644) is tightened at start, with one log line.
- Two `acacia serve` started at the same instant: exactly one stays up, every time; the
  other exits 1 naming the pid that holds the data folder's lock.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acacia_gui.config import socket_address_for
from acacia_gui.ipc.client import probe
from tests.integration.serve_process import Sandbox, ServeProcess

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and flock")
DOUBLE_STARTS = 28


@pytest.fixture
def box(tmp_path: Path):
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.cleanup()


def loose_modes(data_dir: Path) -> list[str]:
    """Every file or folder under data_dir (itself included) that group or others can use."""
    found = []
    for path in [data_dir, *sorted(data_dir.rglob("*"))]:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        if mode & 0o077:
            found.append(f"{path} {mode:o}")
    return found


def address_for(box: Sandbox, data_dir: Path) -> str:
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(box.runtime_dir)
    try:
        return socket_address_for(data_dir.absolute())
    finally:
        if old is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = old


def wait_for_hello(address: str, proc: subprocess.Popen, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"acacia serve exited with {proc.returncode}: {proc.stderr.read()}"
        hello = probe(address, timeout=1.0)
        if hello is not None and "error" not in hello:
            return hello
        time.sleep(0.02)
    raise AssertionError("acacia serve did not answer")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@posix_only
def test_the_cli_creates_a_private_data_folder(box: Sandbox) -> None:
    assert not box.data_dir.exists()
    result = box.cli("enqueue", "nobody.knows", "--allow-unknown", "--payload", '{"token": "s3cret-token"}')
    assert result.returncode == 0, result.stderr
    assert (box.data_dir / "acacia.db").is_file()
    assert loose_modes(box.data_dir) == []


@posix_only
def test_serve_creates_a_private_data_folder(box: Sandbox) -> None:
    assert not box.data_dir.exists()
    proc = subprocess.Popen([sys.executable, "-m", "acacia_gui", "serve", *box.where], env=box.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for_hello(box.address, proc)
        with box.client() as client:
            client.enqueue("demo.sleep", {"seconds": 0})
        assert (box.data_dir / "acacia.db-wal").exists() and (box.data_dir / "acacia.lock").exists()
        assert loose_modes(box.data_dir) == []
    finally:
        stop(proc)
    assert loose_modes(box.data_dir) == []


@posix_only
def test_an_old_install_is_tightened_at_start_with_one_log_line(box: Sandbox) -> None:
    assert box.cli("enqueue", "nobody.knows", "--allow-unknown").returncode == 0
    os.chmod(box.data_dir, 0o755)
    os.chmod(box.data_dir / "acacia.db", 0o644)
    with ServeProcess(box) as serve:
        assert loose_modes(box.data_dir) == []
    lines = [line for line in serve.log().splitlines() if "made the data folder private" in line]
    assert len(lines) == 1, serve.log()
    assert f"{box.data_dir} (755 → 700)" in lines[0] and f"{box.data_dir / 'acacia.db'} (644 → 600)" in lines[0]
    with ServeProcess(box) as again:  # already private: nothing to say
        pass
    assert "made the data folder private" not in again.log()


@posix_only
def test_two_serves_started_at_the_same_instant_one_stays_up(box: Sandbox, tmp_path: Path) -> None:
    for attempt in range(DOUBLE_STARTS):
        data_dir = tmp_path / f"data-{attempt}"
        where = ["--data-dir", str(data_dir), "--plugins-dir", str(box.plugins_dir)]
        command = [sys.executable, "-m", "acacia_gui", "serve", *where]
        procs = [subprocess.Popen(command, env=box.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while all(p.poll() is None for p in procs):
                assert time.monotonic() < deadline, f"try {attempt + 1}: both `acacia serve` stayed up"
                time.sleep(0.02)
            [loser] = [p for p in procs if p.poll() is not None]
            [winner] = [p for p in procs if p is not loser]
            hello = wait_for_hello(address_for(box, data_dir), winner)
            assert hello["pid"] == winner.pid  # it answers: it is up, and serving
            assert winner.poll() is None, f"try {attempt + 1}: the first instance did not stay up"
            err = loser.stderr.read()
            assert loser.returncode == 1, f"try {attempt + 1}: {err}"
            assert "already running" in err and f"pid {winner.pid}" in err, f"try {attempt + 1}: {err}"
            assert len(err.strip().splitlines()) == 1, err
        finally:
            for proc in procs:
                stop(proc)
