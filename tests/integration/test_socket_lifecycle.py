"""One server per data dir: stale socket files, a second instance, hand-over, and foreign users."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from acacia_gui.ipc.client import probe

from .serve_process import REPO, Sandbox, ServeProcess

NOBODY = 65534


@pytest.fixture
def box(tmp_path):
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.cleanup()


def leave_stale_socket(address: str) -> None:
    """A socket file nobody listens on, as a crash leaves behind."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(address)
    sock.close()
    assert Path(address).exists() and probe(address) is None


def test_stale_socket_file_is_replaced(box):
    leave_stale_socket(box.address)
    with ServeProcess(box) as serve:
        with box.client() as client:
            assert client.hello()["pid"] == serve.proc.pid
        assert "stale socket" in serve.log()


def test_restart_after_kill_9(box):
    serve = ServeProcess(box).start()
    with box.client() as client:
        job_id = client.enqueue("demo.sleep", {"seconds": 0})
    serve.proc.send_signal(signal.SIGKILL)
    serve.stop()
    assert Path(box.address).exists() and probe(box.address) is None  # the dead server's file is left
    with ServeProcess(box) as again, box.client() as client:
        assert client.hello()["pid"] == again.proc.pid
        assert client.get(job_id)["id"] == job_id


def test_a_second_serve_exits_with_a_clear_message(box):
    with ServeProcess(box) as first:
        second = box.cli("serve", timeout=60)
        assert second.returncode == 1
        assert "already running" in second.stderr and str(box.data_dir) in second.stderr
        assert str(first.proc.pid) in second.stderr
        assert first.alive()
        with box.client() as client:
            assert client.hello()["pid"] == first.proc.pid


def test_the_window_hands_over_to_the_running_app(box):
    with ServeProcess(box) as serve:
        window = box.cli(timeout=60)  # `acacia` with no command: would open the window
        assert window.returncode == 0, window.stderr
        assert "already running" in window.stderr and "raised its window" in window.stderr
        assert serve.alive()


def test_a_live_server_is_never_replaced(box):
    """Even without the app's own probe, LocalServer.start() refuses a held address."""
    with ServeProcess(box) as serve:
        code = (
            "import sys\n"
            "from PySide6.QtCore import QCoreApplication\n"
            "from acacia_gui.config import load_config\n"
            "from acacia_gui.core.errors import AcaciaError\n"
            "from acacia_gui.core.queue import JobQueue\n"
            "from acacia_gui.core.registry import Registry\n"
            "from acacia_gui.ipc.dispatch import Dispatcher, StandaloneServices\n"
            "from acacia_gui.qt.server import LocalServer\n"
            "from acacia_gui.store.sqlite import SqliteJobStore\n"
            "app = QCoreApplication([])\n"
            "config = load_config(sys.argv[1])\n"
            "queue = JobQueue(SqliteJobStore(config.database), Registry())\n"
            "server = LocalServer(Dispatcher(queue, StandaloneServices(config)), config.socket_address,"
            " max_line_bytes=1 << 20)\n"
            "try:\n"
            "    server.start()\n"
            "except AcaciaError as exc:\n"
            "    print(exc.code, exc)\n"
        )
        result = subprocess.run([sys.executable, "-c", code, str(box.data_dir)], capture_output=True, text=True,
                                env=box.env, timeout=60)  # fmt: skip
        assert result.stdout.startswith("already_running"), result.stdout + result.stderr
        with box.client() as client:
            assert client.hello()["pid"] == serve.proc.pid


# A raw client, not ours: our Client would refuse root's folder before connecting
# (test_socket_trust.py), and these tests are about what the server lets in.
CLIENT_AS_NOBODY = (
    "import json, socket, sys\n"
    "sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
    "sock.settimeout(10)\n"
    "try:\n"
    "    sock.connect(sys.argv[1])\n"
    "except PermissionError:\n"
    "    sys.exit(print('forbidden'))\n"
    "except (FileNotFoundError, ConnectionRefusedError):\n"
    "    sys.exit(print('not_running'))\n"
    "try:\n"
    '    sock.sendall(b\'{"id": 1, "op": "stats", "params": {}}\\n\')\n'
    "except OSError:\n"
    "    pass\n"
    "reply = json.loads(sock.makefile('rb').readline())\n"
    "print('CONNECTED' if reply.get('ok') else f\"{reply['error']['code']} {reply['error']['message']}\")\n"
)


def run_as_nobody(address: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
         sys.executable, "-B", "-c", CLIENT_AS_NOBODY, address, str(REPO)],
        capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"], "HOME": "/"},
    )  # fmt: skip


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
                                reason="needs root and setpriv to act as another user")  # fmt: skip


@needs_root
def test_another_user_cannot_reach_the_socket_file(box):
    with ServeProcess(box):
        assert os.stat(box.runtime_dir).st_mode & 0o077 == 0
        result = run_as_nobody(box.address)
        assert "CONNECTED" not in result.stdout, result.stdout + result.stderr
        assert result.stdout.startswith(("forbidden", "not_running")), result.stdout + result.stderr


@needs_root
def test_another_user_is_refused_by_peer_uid_and_logged(box):
    """Even if the file modes let them in (root set them wide open), SO_PEERCRED refuses the peer."""
    with ServeProcess(box) as serve:
        os.chmod(box.runtime_dir, 0o755)
        os.chmod(box.address, 0o777)
        result = run_as_nobody(box.address)
        assert result.stdout.startswith("forbidden"), result.stdout + result.stderr
        assert "only the user who runs Acacia" in result.stdout
        assert f"uid {NOBODY}" in serve.log() and "refused a connection" in serve.log()
        with box.client() as client:  # the owner still gets in
            assert client.hello()["pid"] == serve.proc.pid
