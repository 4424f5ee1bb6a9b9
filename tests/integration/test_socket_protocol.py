"""The protocol's edges on a real `acacia serve`, over plain sockets: half-closed
connections, a last line without its newline, request ids of the wrong type, the `ids`
forms of cancel/retry/delete, and unknown queues (docs/protocol.md)."""

from __future__ import annotations

import json
import socket

import pytest

from ..conftest import wait_until
from .serve_process import Sandbox, ServeProcess

LINE_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("socket-protocol"))
    serve = ServeProcess(box, "--workers", "2", "--max-line-bytes", str(LINE_LIMIT)).start()
    yield box, serve
    serve.stop()
    box.cleanup()


def connect(box, timeout: float = 30.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(box.address)
    return sock


def send_then_eof(box, data: bytes) -> list[dict]:
    """Send `data`, shut down our write side, read every message until the server closes."""
    sock = connect(box)
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(1 << 16):  # a timeout here means the server never closed
            received += chunk
    finally:
        sock.close()
    assert not received or received.endswith(b"\n"), received[-200:]
    return [json.loads(line) for line in received.splitlines()]


def line(request_id, op: str, params=None) -> bytes:
    return json.dumps({"id": request_id, "op": op, "params": params or {}}).encode() + b"\n"


# -- half-close -----------------------------------------------------------------------------

def test_every_line_sent_before_eof_is_answered_in_order_then_the_server_closes(served):
    box, serve = served
    lines = [line(i, "hello", {"version": "1.0"}) if i % 3 else line(i, "stats") for i in range(60)]
    lines[10] = b'{"id": 10, "op": "no_such_op"}\n'
    lines[20] = b"{broken json\n"
    lines[30] = b"\n"  # a blank line gets no reply
    replies = send_then_eof(box, b"".join(lines))
    expected_ids = [i for i in range(60) if i != 30]
    assert [r["id"] for r in replies] == [None if i == 20 else i for i in expected_ids]
    assert replies[10]["error"]["code"] == "unknown_op" and replies[20]["error"]["code"] == "invalid_json"
    assert all(r["ok"] for i, r in enumerate(replies) if i not in (10, 20))
    assert serve.alive()


def test_a_burst_larger_than_one_turn_is_answered_before_the_close(served):
    box, _ = served
    count = 3000  # many event-loop turns of answering (the server answers ~20 ms at a time)
    replies = send_then_eof(box, b"".join(line(i, "stats") for i in range(count)))
    assert [r["id"] for r in replies] == list(range(count)) and all(r["ok"] for r in replies)


def test_a_reply_larger_than_the_socket_buffer_reaches_a_half_closed_client(served):
    box, _ = served
    with box.client() as client:
        client.pause("big", create=True)
        client.enqueue_many([{"type": "demo.sleep", "queue": "big", "priority": i % 7} for i in range(4000)])
    (reply,) = send_then_eof(box, line(1, "list", {"queue": "big"}))
    assert reply["ok"] is True and reply["result"]["total"] == 4000 and len(reply["result"]["jobs"]) == 4000


def test_a_last_line_without_its_newline_is_answered(served):
    box, _ = served
    with box.client() as client:
        before = client.list(queue="nl")["total"]
    data = line(1, "hello") + b'{"id": 2, "op": "enqueue", "params": {"type": "demo.sleep", "queue": "nl"}}'
    first, second = send_then_eof(box, data)
    assert first["id"] == 1 and first["ok"] and first["result"]["protocol"]
    assert second["id"] == 2 and second["ok"], second
    with box.client() as client:
        assert client.list(queue="nl")["total"] == before + 1
        assert client.get(second["result"]["id"])["queue"] == "nl"
    # \r\n endings, and a last line ending in a lone \r: the same.
    replies = send_then_eof(box, b'{"id": "crlf", "op": "stats"}\r\n{"id": "last", "op": "stats"}\r')
    assert [(r["id"], r["ok"]) for r in replies] == [("crlf", True), ("last", True)]


def test_a_too_long_last_line_gets_one_error_and_the_close(served):
    box, serve = served
    replies = send_then_eof(box, line(1, "stats") + b'{"id": 2, "op": "stats", "params": {"x": "' + b"z" * (LINE_LIMIT + 10))
    assert [r["id"] for r in replies] == [1, None]
    assert replies[1]["error"]["code"] == "line_too_long"
    assert serve.alive()


def test_eof_without_any_request_just_closes(served):
    box, _ = served
    sock = connect(box)
    sock.shutdown(socket.SHUT_WR)
    assert sock.recv(1) == b""  # closed, nothing said
    sock.close()


def test_a_half_closed_job_watch_streams_until_the_job_ends(served):
    box, _ = served
    with box.client() as client:
        job_id = client.enqueue("demo.sleep", {"seconds": 0.3}, queue="halfwatch")
    messages = send_then_eof(box, line("w", "watch", {"job": job_id}) + line("h", "hello"))
    assert [m["ok"] for m in messages if m["id"] == "h"] == [True]
    watch = [m for m in messages if m["id"] == "w"]
    assert watch[0]["ok"] is True and watch[0]["result"]["watching"] == {"job": job_id}
    assert watch[-1]["end"]["job"]["state"] == "succeeded"  # the server closed only after the end
    assert all("event" in m for m in watch[1:-1])


def test_a_client_that_closes_completely_before_reading_harms_nothing(served):
    box, serve = served
    for _ in range(20):
        sock = connect(box)
        sock.sendall(b"".join(line(i, "stats") for i in range(200)))
        sock.close()  # never reads: the server's writes fail, and it forgets the connection
    with box.client() as client:
        assert client.hello()["pid"] == serve.proc.pid
    assert "Traceback" not in serve.log()


# -- request ids ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad_id", [b"1.5", b"2.0", b"1e2", b"true", b"false", b'{"a": 1}', b"[1]", b"[]",
                                    str(2**63).encode()])  # fmt: skip
def test_request_ids_of_the_wrong_type_are_refused_and_the_connection_serves_on(served, bad_id):
    box, _ = served
    sock = connect(box)
    try:
        sock.sendall(b'{"id": ' + bad_id + b', "op": "enqueue", "params": {"type": "demo.sleep", "queue": "badid"}}\n'
                     + line("next", "stats"))  # fmt: skip
        reader = sock.makefile("rb")
        refused = json.loads(reader.readline())
        assert refused["ok"] is False and refused["id"] is None and refused["error"]["code"] == "bad_request"
        assert '"id" must be a string, a whole number or null' in refused["error"]["message"]
        following = json.loads(reader.readline())
        assert following["id"] == "next" and following["ok"] is True
    finally:
        sock.close()
    with box.client() as client:
        assert client.list(queue="badid")["total"] == 0  # the refused request did nothing


def test_string_integer_and_null_ids_come_back_exactly(served):
    box, _ = served
    ids = ["a", "", "ünï", 0, -5, 2**63 - 1, -(2**63), None]
    replies = send_then_eof(box, b"".join(line(i, "stats") for i in ids) + b'{"op": "stats"}\n')
    assert [r["id"] for r in replies] == [*ids, None] and all(r["ok"] for r in replies)


# -- several ids ------------------------------------------------------------------------------

def _states(client, ids):
    return [client.get(i)["state"] for i in ids]


def test_cancel_retry_delete_take_ids_and_report_each(served):
    box, _ = served
    with box.client() as client:
        client.pause("multi", create=True)
        queued = [client.enqueue("demo.sleep", {"seconds": 0}, queue="multi") for _ in range(3)]
        running = client.enqueue("demo.sleep", {"seconds": 30}, queue="busy-multi")
        wait_until(lambda: client.get(running)["state"] == "running", timeout=30, message="job running")
        missing = 10**9

        result = client.cancel_many([queued[0], missing, queued[1], queued[0]])
        assert result["ids"] == [queued[0], queued[1]]
        assert [j["state"] for j in result["jobs"]] == ["cancelled", "cancelled"]
        assert result["errors"] == [{"id": missing, "error": {"code": "not_found", "message": f"no job with id {missing}"}}]

        result = client.cancel_many([queued[0], running])  # one already over, one running
        assert result["ids"] == [running] and result["jobs"][0]["cancel_requested"] is True
        assert [(e["id"], e["error"]["code"]) for e in result["errors"]] == [(queued[0], "invalid_state")]
        wait_until(lambda: client.get(running)["state"] == "cancelled", timeout=30, message="running job cancelled")

        result = client.retry_many([queued[2], queued[0], running])
        assert result["ids"] == [queued[0], running] and [j["state"] for j in result["jobs"]] == ["queued", "queued"]
        assert [(e["id"], e["error"]["code"]) for e in result["errors"]] == [(queued[2], "invalid_state")]
        client.cancel_many([running])
        wait_until(lambda: client.get(running)["state"] == "cancelled", timeout=30, message="cancelled again")

        result = client.delete_many([queued[1], missing, running])
        assert result["deleted"] == 2 and result["ids"] == [queued[1], running]
        assert [(e["id"], e["error"]["code"]) for e in result["errors"]] == [(missing, "not_found")]
        assert _states(client, [queued[0], queued[2]]) == ["queued", "queued"]  # untouched by the failures

        # The single forms answer as they always did.
        assert client.call("delete", {"id": queued[2]}) == {"deleted": 1, "ids": [queued[2]]}
        assert client.call("cancel", {"id": queued[0]})["state"] == "cancelled"
        assert client.call("retry", {"id": queued[0]})["state"] == "queued"
        assert client.delete([queued[0]]) == 1


def test_ids_over_a_raw_socket(served):
    box, _ = served
    with box.client() as client:
        client.pause("rawids", create=True)
        job = client.enqueue("demo.sleep", {"seconds": 0}, queue="rawids")
    replies = send_then_eof(box, line(1, "cancel", {"ids": [job, 0]}) + line(2, "cancel", {"ids": [job, 999999999]})
                            + line(3, "retry", {"ids": [job]}) + line(4, "delete", {"id": job, "ids": [job]})
                            + line(5, "delete", {"ids": [job]}))  # fmt: skip
    assert replies[0]["error"]["code"] == "invalid_params"  # 0 is not a job id: the params are wrong
    assert replies[1]["result"]["ids"] == [job] and replies[1]["result"]["errors"][0]["id"] == 999999999
    assert replies[2]["result"]["ids"] == [job] and replies[2]["result"]["errors"] == []
    assert replies[3]["error"]["code"] == "invalid_params"
    assert replies[4]["result"] == {"deleted": 1, "ids": [job], "errors": []}


# -- unknown queues --------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "extra"), [("pause", {}), ("resume", {}), ("set_concurrency", {"concurrency": 2})])
def test_an_unknown_queue_is_refused_naming_the_known_ones(served, op, extra):
    box, _ = served
    name = f"typo-{op}"
    with box.client() as client:
        client.enqueue("demo.sleep", {"seconds": 0}, queue="known-one")
        (reply,) = send_then_eof(box, line(1, op, {"queue": name, **extra}))
        assert reply["ok"] is False and reply["error"]["code"] == "not_found"
        assert name in reply["error"]["message"] and "known-one" in reply["error"]["message"]
        assert "known-one" in reply["error"]["details"]["known_queues"]
        assert name not in [q["name"] for q in client.stats()["queues"]]  # nothing was created
        created = client.call(op, {"queue": name, "create": True, **extra})
        assert created["name"] == name
        assert name in [q["name"] for q in client.stats()["queues"]]
        assert client.call(op, {"queue": name, **extra})["name"] == name  # known now


def test_the_create_flag_is_checked(served):
    box, _ = served
    (reply,) = send_then_eof(box, line(1, "pause", {"queue": "q-flag", "create": 1}))
    assert reply["error"]["code"] == "invalid_params"
    (reply,) = send_then_eof(box, line(1, "set_concurrency", {"workers": 2, "create": True}))
    assert reply["error"]["code"] == "invalid_params"


def test_hello_without_a_version_learns_the_servers(served):
    box, _ = served
    replies = send_then_eof(box, b'{"id": 1, "op": "hello"}\n{"id": 2, "op": "hello", "params": {"version": "9.0"}}\n')
    assert replies[0]["ok"] is True and replies[0]["result"]["protocol"].startswith("1.")
    assert replies[1]["error"]["code"] == "version_mismatch"
