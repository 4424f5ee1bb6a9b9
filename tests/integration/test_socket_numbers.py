"""Numbers JSON or a double cannot carry get an error reply, and the connection keeps serving (issue 10)."""

from __future__ import annotations

import json
import math

import pytest

from acacia_gui.ipc.protocol import BadRequest, parse_request
from acacia_gui.qt.server import _encode_or_internal_error

from .serve_process import Sandbox, ServeProcess

HUGE = b"123456789012345678901234567890"

BAD_NUMBERS = [
    (b'{"id": 1e400, "op": "hello"}', "invalid_json", None),
    (b'{"id": -1e400, "op": "stats"}', "invalid_json", None),
    (b'{"id": 2, "op": "get", "params": {"id": 1e400}}', "invalid_json", None),
    (b'{"id": 3, "op": "enqueue", "params": {"type": "demo.sleep", "payload": {"seconds": 1e400}}}',
     "invalid_json", None),
    (b'{"id": 4, "op": "list", "params": {"limit": 1E+999}}', "invalid_json", None),
    (b'{"id": 5, "op": "enqueue", "params": {"type": "demo.sleep", "payload": {"seconds": NaN}}}',
     "invalid_json", None),
    (b'{"id": 6, "op": "enqueue", "params": {"type": "demo.sleep", "priority": -Infinity}}', "invalid_json", None),
    (b'{"id": 7, "op": "hello", "params": {"version": Infinity}}', "invalid_json", None),
    (b'{"id": ' + HUGE + b', "op": "hello"}', "bad_request", None),
    (b'{"id": 8, "op": "get", "params": {"id": ' + HUGE + b"}}", "invalid_params", 8),
    (b'{"id": 9, "op": "cancel", "params": {"ids": [' + HUGE + b"]}}", "invalid_params", 9),
    (b'{"id": 10, "op": "list", "params": {"limit": ' + HUGE + b"}}", "invalid_params", 10),
    (b'{"id": 11, "op": "enqueue", "params": {"type": "demo.sleep", "priority": ' + HUGE + b"}}",
     "invalid_option", 11),
    (b'{"id": 12, "op": "set_concurrency", "params": {"queue": "default", "concurrency": ' + HUGE + b"}}",
     "invalid_params", 12),
]


@pytest.mark.parametrize(("line", "code", "_id"), BAD_NUMBERS)
def test_parse_request_refuses_numbers_a_double_cannot_hold(line, code, _id):
    if code not in ("invalid_json", "bad_request"):
        parse_request(line)  # decodes; the op's own range check refuses it (below, on the socket)
        return
    with pytest.raises(BadRequest) as caught:
        parse_request(line)
    assert caught.value.error.code == code


def test_an_unencodable_reply_becomes_an_internal_error():
    for message in ({"id": 1, "ok": True, "result": math.inf}, {"id": math.inf, "ok": True, "result": 1},
                    {"id": 2, "ok": True, "result": {object()}}):  # fmt: skip
        reply = json.loads(_encode_or_internal_error(message))
        assert reply["ok"] is False and reply["error"]["code"] == "internal_error"
        assert reply["id"] == (message["id"] if message["id"] != math.inf else None)


def test_each_bad_number_gets_an_error_reply_and_the_next_request_works(tmp_path):
    box = Sandbox(tmp_path)
    with ServeProcess(box) as serve:
        conn = box.raw()
        for line, code, request_id in BAD_NUMBERS:
            conn.send(line + b"\n")
            reply = conn.read()
            assert reply["ok"] is False and reply["error"]["code"] == code, (line[:70], reply)
            if request_id is not None:
                assert reply["id"] == request_id
            assert conn.request("hello", {"version": "1.0"}, request_id="next")["ok"] is True, line[:70]
        conn.close()
        assert "cannot encode" not in serve.log() and "Traceback" not in serve.log()
    box.cleanup()
