"""Fuzz the socket with thousands of random and mutated lines; the server must answer and touch no job.

Reproduce a failure with ACACIA_FUZZ_SEED=<seed printed in the assertion>. The generator
never forms a request that may legitimately change a job (no known job type, no
existing job id, no "finished" flag), so any change to the jobs is a bug.
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections import Counter

import pytest

from acacia_gui.ipc.protocol import OPS

from .serve_process import Sandbox, ServeProcess

LINE_LIMIT = 64 * 1024
MESSAGES = 6000
BATCH = 100
KEYS = ["id", "ids", "type", "payload", "queue", "priority", "delay", "max_attempts", "timeout", "jobs", "state",
        "order_by", "descending", "limit", "offset", "search", "events", "logs", "job", "kinds", "version", "client",
        "concurrency", "workers", "create", "rate"]  # fmt: skip
OP_KEYS = {
    "hello": ["version", "client"], "get": ["id", "events", "logs"], "cancel": ["id", "ids"], "retry": ["id", "ids"],
    "enqueue": ["type", "payload", "queue", "priority", "delay", "max_attempts", "timeout"],
    "list": ["state", "queue", "type", "search", "order_by", "descending", "limit", "offset"],
    "delete": ["id", "ids", "queue"], "pause": ["queue", "create"], "resume": ["queue", "create"],
    "watch": ["job", "queue", "kinds"], "set_concurrency": ["queue", "concurrency", "workers", "create", "rate"],
}  # fmt: skip
UNKNOWN_TYPES = ["no.such.type", "x", "", " ", "a" * 300, "demo", "sleep", "dёmo.sleep", "../etc", None]


class Fuzzer:
    def __init__(self, seed: int, protected_ids: set[int]) -> None:
        self.rng = random.Random(seed)
        self.protected = protected_ids

    def number(self) -> object:
        r = self.rng
        value = r.choice([
            r.randint(-5, 5), r.randint(-2**31, 2**31), r.randint(-2**70, 2**70), 10**r.randint(0, 400),
            r.uniform(-1e6, 1e6), 1e308, -1e308, -0.0, 5e-324, r.random(),
        ])  # fmt: skip
        if isinstance(value, int) and value in self.protected:
            value += 10**6  # never an existing job's id
        return value

    def string(self) -> str:
        r = self.rng
        return r.choice([
            "", " ", "default", "queued", "running", "succeeded", "id", "\x00", "\u202e", "😀" * r.randint(1, 20),
            "".join(chr(r.randint(1, 0x2FFF)) for _ in range(r.randint(0, 40))), "x" * r.randint(100, 3000),
            "1.0", "2.0", "99.99", "1", "-1", "\ud800" if r.random() < 0.1 else "ok",
        ])  # fmt: skip

    def value(self, depth: int = 0) -> object:
        r = self.rng
        kind = r.randint(0, 7 if depth < 4 else 4)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False])
        if kind in (2, 3):
            return self.number()
        if kind == 4:
            return self.string()
        if kind in (5, 6):
            return [self.value(depth + 1) for _ in range(r.randint(0, 5))]
        return {self.key(): self.value(depth + 1) for _ in range(r.randint(0, 5))}

    def key(self) -> str:
        return self.rng.choice(KEYS) if self.rng.random() < 0.8 else self.string()

    def params(self, op: object) -> object:
        r = self.rng
        if r.random() < 0.1:
            return self.value()
        keys = OP_KEYS.get(op) if isinstance(op, str) and r.random() < 0.5 else None
        if keys:  # only fields the op takes, so the request gets past the field check
            params = {key: self.value() for key in r.sample(keys, r.randint(1, len(keys)))}
        else:
            params = {self.key(): self.value() for _ in range(r.randint(0, 6))}
        if op == "enqueue" or "type" in params:
            params["type"] = r.choice(UNKNOWN_TYPES)
        if "jobs" in params and isinstance(params["jobs"], list):
            params["jobs"] = [{**(j if isinstance(j, dict) else {}), "type": r.choice(UNKNOWN_TYPES)}
                              for j in params["jobs"]]  # fmt: skip
        params.pop("allow_unknown", None)
        params.pop("finished", None)
        return params

    def structured(self) -> bytes:
        r = self.rng
        op = r.choice(sorted(OPS)) if r.random() < 0.85 else self.value()
        message = {"id": self.value(), "op": op, "params": self.params(op)}
        for field in ("id", "op", "params"):
            if r.random() < 0.05:
                del message[field]
        if r.random() < 0.05:
            message[self.string()] = self.value()
        return json.dumps(message, ensure_ascii=r.random() < 0.5).encode("utf-8", "surrogatepass")

    def mutated(self, seed_lines: list[bytes]) -> bytes:
        r = self.rng
        line = bytearray(r.choice(seed_lines))
        for _ in range(r.randint(1, 6)):
            if not line:
                break
            action = r.randint(0, 5)
            at = r.randrange(len(line))
            if action == 0:
                line[at] = r.randint(0, 255)
            elif action == 1:
                del line[at: at + r.randint(1, 10)]
            elif action == 2:
                line[at:at] = bytes(r.randint(0, 255) for _ in range(r.randint(1, 10)))
            elif action == 3:
                line[at:at] = line[at: at + r.randint(1, 50)] * r.randint(1, 20)
            elif action == 4:
                line = line[:at]
            else:
                line[at:at] = r.choice([b"9" * 400, b"NaN", b"-Infinity", b'"', b"{", b"]", b"\\u0000", b"\x00"])
        return bytes(line).replace(b"\n", b" ")

    def junk(self) -> bytes:
        r = self.rng
        if r.random() < 0.02:
            return b"z" * (LINE_LIMIT + r.randint(1, 5000))
        return bytes(r.randint(0, 255) for _ in range(r.randint(0, 300))).replace(b"\n", b"")

    def line(self, seed_lines: list[bytes]) -> bytes:
        pick = self.rng.random()
        if pick < 0.4:
            return self.structured()
        if pick < 0.8:
            return self.mutated(seed_lines)
        return self.junk()


def read_until(sock: socket.socket, buffer: bytearray, sentinel: str, codes: Counter) -> int:
    """Read messages until the sentinel's reply; returns how many came before it (counting codes)."""
    count = 0
    while True:
        newline = buffer.find(b"\n")
        if newline < 0:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buffer += chunk
            continue
        line = bytes(buffer[:newline])
        del buffer[: newline + 1]
        message = json.loads(line)
        assert isinstance(message, dict) and ("ok" in message or "event" in message or "end" in message), message
        if message.get("ok") is False:
            assert message["error"]["code"] and message["error"]["message"], message
            assert message["error"]["code"] != "internal_error", message
        codes[message["error"]["code"] if message.get("ok") is False else ("ok" if "ok" in message else "stream")] += 1
        if message.get("id") == sentinel and "ok" in message:
            assert message["ok"] is True, message
            return count
        count += 1


@pytest.fixture
def served(tmp_path):
    box = Sandbox(tmp_path)
    serve = ServeProcess(box, "--workers", "2", "--max-line-bytes", str(LINE_LIMIT)).start()
    yield box, serve
    serve.stop()
    box.cleanup()


def snapshot(client, ids):
    return {job_id: client.get(job_id, events=True, logs=100) for job_id in ids}, client.list()["total"]


def test_fuzzing_the_socket_harms_nothing(served):
    box, serve = served
    seed = int(os.environ.get("ACACIA_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    with box.client() as client:
        done = client.enqueue("demo.sleep", {"seconds": 0}, queue="done")
        stream = client.watch(job=done)
        list(stream)
        client.pause("held", create=True)
        ids = [done] + [client.enqueue("demo.sleep", {"seconds": 1}, queue="held", priority=p) for p in range(3)]
        ids.append(client.enqueue("demo.sleep", {"seconds": 1}, delay=3600))
        busy = client.enqueue("demo.sleep", {"seconds": 2}, queue="busy")  # runs right through the fuzz
        before = snapshot(client, ids)
    seeds = [json.dumps(m).encode() for m in (
        {"id": 1, "op": "hello", "params": {"version": "1.0", "client": "fuzz"}},
        {"id": "two", "op": "get", "params": {"id": ids[1], "events": True, "logs": 5}},
        {"id": 3, "op": "list", "params": {"state": ["queued", "failed"], "queue": "held", "limit": 2, "offset": 0,
                                           "order_by": "priority", "descending": True, "search": "sleep"}},
        {"id": 4, "op": "stats", "params": {}},
        {"id": [5], "op": "handlers"},
        {"id": 6, "op": "watch", "params": {"job": ids[1]}},
        {"id": 7, "op": "watch", "params": {"queue": "held", "kinds": ["state", "log"]}},
        {"id": 8, "op": "enqueue", "params": {"type": "no.such.type", "payload": {"a": [1, 2.5, None, "x"]},
                                             "queue": "q", "priority": 3, "delay": 1, "max_attempts": 2, "timeout": 5}},
        {"id": 9, "op": "enqueue", "params": {"jobs": [{"type": "no.such.type"}, {"type": "nope", "payload": []}]}},
        {"id": None, "op": "raise_window", "params": {}},
    )]  # fmt: skip
    fuzzer = Fuzzer(seed, {*ids, busy})
    sent = answered = 0
    codes: Counter = Counter()
    for connection in range(4):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(box.address)
        buffer = bytearray()
        for batch in range(MESSAGES // 4 // BATCH):
            lines = [fuzzer.line(seeds) for _ in range(BATCH)]
            sentinel = f"sentinel-{connection}-{batch}"
            payload = b"\n".join(lines) + b"\n" + json.dumps(
                {"id": sentinel, "op": "hello", "params": {"version": "1.0"}}).encode() + b"\n"  # fmt: skip
            try:
                sock.sendall(payload)
                answered += read_until(sock, buffer, sentinel, codes)
            except (ConnectionError, AssertionError, TimeoutError) as exc:
                raise AssertionError(f"fuzz seed {seed}, connection {connection}, batch {batch}: {exc}") from exc
            sent += len(lines)
        sock.close()
    assert serve.alive(), f"fuzz seed {seed}: the server died\n{serve.log()[-3000:]}"
    assert answered > sent // 2, f"fuzz seed {seed}: only {answered} replies to {sent} lines"
    expected = {"ok", "invalid_json", "bad_request", "unknown_op", "invalid_params", "line_too_long"}
    assert expected <= set(codes), f"fuzz seed {seed}: the fuzz did not reach {expected - set(codes)}: {codes}"
    with box.client() as client:
        assert client.hello()["pid"] == serve.proc.pid
        client.set_workers(2)  # the fuzz may have changed it; that is allowed and touches no job
        after = snapshot(client, ids)
        stream = client.watch(job=busy)
        list(stream)
        assert stream.end["job"]["state"] == "succeeded" and stream.end["job"]["attempts"] == 1
    assert after == before, f"fuzz seed {seed}: a job was touched"
    assert "Traceback" not in serve.log(), f"fuzz seed {seed}:\n{serve.log()[-3000:]}"
