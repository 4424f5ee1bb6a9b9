"""Slow clients cannot lock everyone out: a started line must end within the line timeout,
and a few reserved connections keep `hello`, `stats` and `cancel` answering (issue 10)."""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import time

import pytest

from acacia_gui.ipc.protocol import ServerBusyError
from acacia_gui.qt.server import DEFAULT_LINE_TIMEOUT, DEFAULT_MAX_CLIENTS

from ..conftest import wait_until
from .serve_process import Sandbox, ServeProcess

ATTACKERS = 600
HALF_LINE = b'{"id": 1, "op": "st'


@pytest.fixture
def served(tmp_path):
    box = Sandbox(tmp_path)
    serve = ServeProcess(box, "--workers", "1").start()
    yield box, serve
    serve.stop()
    box.cleanup()


@pytest.fixture
def enough_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ATTACKERS + 200
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"the descriptor limit ({hard}) is below the {wanted} this test needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _list_works(box: Sandbox) -> bool:
    try:
        with box.client(timeout=10) as client:
            client.list(limit=1)
        return True
    except ServerBusyError:
        return False


def _stall(address: str, sockets: list[socket.socket]) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sockets.append(sock)
    sock.settimeout(5)
    deadline = time.monotonic() + 10
    while True:  # a full listen backlog says EAGAIN: wait for the server to accept
        try:
            sock.connect(address)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.002)
    with contextlib.suppress(OSError):  # a refused one may already be closed by the server
        sock.sendall(HALF_LINE)


def test_600_stalled_half_lines_do_not_lock_out_the_cli(served, enough_descriptors):
    box, serve = served
    sockets: list[socket.socket] = []
    try:
        for _ in range(ATTACKERS):
            _stall(box.address, sockets)
        started = time.monotonic()
        result = box.cli("stats", "--json", timeout=15)
        took = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert "no app is running" not in result.stderr
        assert isinstance(json.loads(result.stdout), dict), result.stdout
        assert took < 15
        # The stalled ones are dropped after the line timeout; then every op works again.
        wait_until(lambda: _list_works(box), timeout=DEFAULT_LINE_TIMEOUT + 10, interval=0.2)
        assert serve.alive(), serve.log()
        assert "Traceback" not in serve.log()
        assert "connection(s)" in serve.log() and "not finished within" in serve.log()
    finally:
        for sock in sockets:
            sock.close()


def test_a_line_that_never_ends_is_dropped_while_others_keep_working(served):
    box, _serve = served
    slow = box.raw()
    slow.send(HALF_LINE)
    normal = box.raw()
    started = time.monotonic()
    answered = 0
    while time.monotonic() - started < DEFAULT_LINE_TIMEOUT + 3:
        assert normal.request("hello", {"version": "1.0"}, request_id=answered)["ok"] is True
        answered += 1
        time.sleep(0.25)
    slow.sock.settimeout(0.5)
    # The slow one got one error line, then the end of the connection.
    reply = slow.read()
    assert reply["ok"] is False and "not finished within" in reply["error"]["message"]
    assert slow.closed_by_server()
    assert normal.request("stats")["ok"] is True
    slow.close()
    normal.close()
    assert answered > 10


def test_reserved_connections_answer_only_the_reserved_ops(tmp_path):
    box = Sandbox(tmp_path)
    with ServeProcess(box, env={"ACACIA_SOCKET_LINE_TIMEOUT": "30"}):
        sockets = []
        try:
            for _ in range(DEFAULT_MAX_CLIENTS):
                _stall(box.address, sockets)
            extra = box.raw()  # beyond max_clients: a reserved connection
            assert extra.request("hello", {"version": "1.0"})["ok"] is True
            assert extra.request("stats")["ok"] is True
            refused = extra.request("list", {"limit": 1})
            assert refused["ok"] is False and refused["error"]["code"] == "busy"
            assert "hello, stats" in refused["error"]["message"]
            extra.close()
        finally:
            for sock in sockets:
                sock.close()
    box.cleanup()
