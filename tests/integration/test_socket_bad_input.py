"""Bad input never harms the server: each kind gets an error reply or a disconnect; the server carries on."""

from __future__ import annotations

import json
import socket

import pytest

from ..conftest import wait_until
from .serve_process import Sandbox, ServeProcess

LINE_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("socket-bad"))
    serve = ServeProcess(box, "--workers", "2", "--max-line-bytes", str(LINE_LIMIT)).start()
    with box.client() as client:
        # A job that must come out of all this untouched.
        client.pause("held", create=True)
        job_id = client.enqueue("demo.sleep", {"seconds": 1}, queue="held")
        snapshot = client.get(job_id, events=True)
    yield box, serve, job_id, snapshot
    serve.stop()
    box.cleanup()


def assert_healthy(box, serve, job_id, snapshot):
    assert serve.alive(), serve.log()
    with box.client(timeout=10) as client:
        assert client.hello()["pid"] == serve.proc.pid
        assert client.get(job_id, events=True) == snapshot


BAD_LINES = [
    (b"{not json", "invalid_json"),
    (b'{"id": 1, "op": "hello"', "invalid_json"),
    (b"\x00\x01\x02\xff\xfe binary junk \x80\x81", "invalid_json"),
    (bytes(range(256)).replace(b"\n", b""), "invalid_json"),
    (b'{"id": 2, "op": "enqueue", "params": {"type": "demo.sleep", "payload": NaN}}', "invalid_json"),
    (b'{"id": 3, "op": "get", "params": {"id": ' + b"9" * 5000 + b"}}", "invalid_json"),
    (b"[" * 30_000 + b"]" * 30_000, "invalid_json"),
    (b'{"id": 4, "op": "launch_missiles"}', "unknown_op"),
    (b'{"id": 5}', "bad_request"),
    (b"[]", "bad_request"),
    (b"42", "bad_request"),
    (b'{"id": 6, "op": "get", "params": {"id": "one"}}', "invalid_params"),
    (b'{"id": 7, "op": "get", "params": {"id": 1e300}}', "invalid_params"),
    (b'{"id": 8, "op": "get", "params": {"id": 123456789012345678901234567890}}', "invalid_params"),
    (b'{"id": 9, "op": "list", "params": {"limit": -1}}', "invalid_params"),
    (b'{"id": 10, "op": "list", "params": {"state": {"a": 1}}}', "invalid_params"),
    (b'{"id": 11, "op": "enqueue", "params": {"type": ["demo.sleep"]}}', "invalid_type"),
    (b'{"id": 12, "op": "enqueue", "params": {"type": "demo.sleep", "priority": 1e308}}', "invalid_option"),
    (b'{"id": 13, "op": "enqueue", "params": {"type": "demo.sleep", "delay": -1e308}}', "invalid_option"),
    (b'{"id": 14, "op": "enqueue", "params": {"type": "demo.sleep", "timeout": true}}', "invalid_option"),
    (b'{"id": 15, "op": "enqueue", "params": {"jobs": "all of them"}}', "invalid_params"),
    (b'{"id": 16, "op": "cancel", "params": {"id": 999999}}', "not_found"),
    (b'{"id": 17, "op": "set_concurrency", "params": {"queue": "q", "concurrency": 10000000000}}', "invalid_params"),
    (b'{"id": 18, "op": "hello", "params": {"version": "99.0"}}', "version_mismatch"),
    (b'{"id": 19, "op": "watch", "params": {"job": -4}}', "invalid_params"),
    (b'{"id": 20, "op": "enqueue", "params": {"type": "demo.sleep", "payload": {"seconds": "x"}}}', "invalid_payload"),
]


def test_each_bad_line_gets_an_error_and_the_connection_stays_usable(served):
    box, serve, job_id, snapshot = served
    conn = box.raw()
    for line, code in BAD_LINES:
        conn.send(line + b"\n")
        reply = conn.read()
        assert reply["ok"] is False and reply["error"]["code"] == code, (line[:60], reply)
        assert reply["error"]["message"] and "Traceback" not in reply["error"]["message"]
    assert conn.request("hello", {"version": "1.0"})["ok"] is True
    conn.close()
    assert_healthy(box, serve, job_id, snapshot)


def test_version_mismatch_names_the_fix(served):
    box, *_ = served
    conn = box.raw()
    reply = conn.request("hello", {"version": "2.0", "client": "future"})
    assert reply["error"]["code"] == "version_mismatch" and "upgrade the running Acacia" in reply["error"]["message"]
    conn.close()


def test_a_line_over_the_limit_is_refused_and_skipped(served):
    box, serve, job_id, snapshot = served
    conn = box.raw()
    big = json.dumps({"id": 1, "op": "enqueue", "params": {"type": "demo.sleep", "payload": {"x": "a" * LINE_LIMIT}}})
    conn.send(big.encode() + b"\n")
    reply = conn.read()
    assert reply["error"]["code"] == "line_too_long" and str(LINE_LIMIT) in reply["error"]["message"]
    # Without a newline for a long while: one error, the rest is discarded as it comes.
    conn.send(b"x" * (LINE_LIMIT * 3))
    assert conn.read()["error"]["code"] == "line_too_long"
    conn.send(b"still the same line\n")
    assert conn.request("hello", {"version": "1.0"}, request_id="after")["id"] == "after"
    conn.close()
    assert_healthy(box, serve, job_id, snapshot)


def test_silent_clients_and_half_lines_do_not_block_others(served):
    box, serve, job_id, snapshot = served
    silent = [box.raw() for _ in range(5)]
    half = box.raw()
    half.send(b'{"id": 1, "op": "hel')
    half.close()  # gone mid-line
    crlf = box.raw()
    crlf.send(b'{"id": "w", "op": "hello", "params": {"version": "1.0"}}\r\n\n\n')
    assert crlf.read()["id"] == "w"
    assert_healthy(box, serve, job_id, snapshot)
    for conn in silent:
        conn.close()


def test_a_client_that_never_reads_is_dropped(served):
    box, serve, job_id, snapshot = served
    with box.client() as client:
        client.enqueue_many([{"type": "demo.sleep", "payload": {"seconds": 0}, "queue": "bulk"}] * 300)
        reply_size = len(json.dumps(client.list(queue="bulk")))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(box.address)
    sock.settimeout(10)
    request = json.dumps({"id": 1, "op": "list", "params": {"queue": "bulk"}}).encode() + b"\n"
    dropped = False
    for _ in range(4 * (16 * 1024 * 1024) // reply_size):  # far more output than the server will hold
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
            break
    if not dropped:
        wait_until(lambda: "does not read its replies" in serve.log(), timeout=20, message="slow reader dropped")
    sock.close()
    wait_until(lambda: "does not read its replies" in serve.log(), timeout=20, message="drop logged")
    assert_healthy(box, serve, job_id, snapshot)


def test_two_hundred_clients_at_once(served):
    box, serve, job_id, snapshot = served
    socks = []
    for _ in range(200):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(box.address)
        socks.append(sock)
    for i, sock in enumerate(socks):
        sock.sendall(json.dumps({"id": i, "op": "enqueue", "params": {"type": "demo.sleep", "queue": "crowd",
                                                                      "payload": {"seconds": 0}}}).encode() + b"\n")  # fmt: skip
    ids = []
    for i, sock in enumerate(socks):
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            assert chunk, f"client {i} was disconnected"
            data += chunk
        reply = json.loads(data)
        assert reply["id"] == i and reply["ok"] is True, reply
        ids.append(reply["result"]["id"])
    for sock in socks:
        sock.close()
    assert len(set(ids)) == 200
    with box.client() as client:
        wait_until(lambda: client.list(queue="crowd", state="succeeded")["total"] == 200, timeout=60,
                   message="all 200 jobs done")  # fmt: skip
    assert_healthy(box, serve, job_id, snapshot)


def test_idle_clients_are_closed_but_watchers_stay(tmp_path):
    box = Sandbox(tmp_path)
    with ServeProcess(box, env={"ACACIA_SOCKET_IDLE_TIMEOUT": "0.5"}):
        silent = box.raw()
        watcher = box.client(timeout=10)
        stream = watcher.watch()
        silent.sock.settimeout(10)
        assert silent.closed_by_server()  # closed after ~0.5 s of silence
        with box.client() as client:
            job_id = client.enqueue("demo.sleep", {"seconds": 0})
        event = next(e for e in stream if e is not None and e["job_id"] == job_id)
        assert event["kind"] in ("enqueued", "state")
        stream.close()
        silent.close()
    box.cleanup()


def test_a_burst_of_requests_does_not_starve_other_clients(served):
    """One client's backlog is answered a slice at a time: another client's hello gets in first."""
    box, serve, job_id, snapshot = served
    burst = 3000
    greedy = box.raw()
    greedy.send(b"".join(json.dumps({"id": i, "op": "stats"}).encode() + b"\n" for i in range(burst)))
    assert greedy.read()["id"] == 0  # the server is working through the backlog
    polite = box.raw()
    assert polite.request("hello", {"version": "1.0"})["ok"]
    greedy.sock.settimeout(0.0)
    answered = 1
    try:
        while True:
            greedy.read()
            answered += 1
    except (BlockingIOError, ConnectionError):
        pass
    assert answered < burst, "the whole backlog was answered before the other client's hello"
    greedy.close()
    polite.close()
    assert_healthy(box, serve, job_id, snapshot)
