"""The wire format: strict decoding, replies, error codes round-tripping, version checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from acacia_gui.core.errors import InvalidOptionError, JobNotFoundError, UnknownJobTypeError
from acacia_gui.ipc.protocol import (
    OPS,
    PROTOCOL_VERSION,
    BadRequest,
    InvalidJsonError,
    RemoteError,
    VersionMismatchError,
    check_client_version,
    check_server_version,
    decode_json,
    encode_message,
    error_from_reply,
    error_reply,
    ok_reply,
    parse_request,
    with_details,
)


def test_parse_request_reads_id_op_params():
    request = parse_request(b'{"id": "a1", "op": "get", "params": {"id": 3}}')
    assert (request.id, request.op, request.params) == ("a1", "get", {"id": 3})
    assert parse_request(b'{"id": 1, "op": "stats"}').params == {}
    assert parse_request(b'{"id": 1, "op": "stats", "params": null}').params == {}


@pytest.mark.parametrize(
    ("line", "code", "request_id"),
    [
        (b"{not json", "invalid_json", None),
        (b'{"id": 1, "op": "hello"', "invalid_json", None),
        (b"\xff\xfe\x00junk", "invalid_json", None),
        (b'{"id": 1, "op": "enqueue", "params": {"payload": NaN}}', "invalid_json", None),
        (b'{"id": 1, "op": "enqueue", "params": {"payload": Infinity}}', "invalid_json", None),
        (b'{"id": 1, "op": "get", "params": {"id": ' + b"9" * 5000 + b"}}", "invalid_json", None),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json", None),
        (b"[1, 2]", "bad_request", None),
        (b'"hello"', "bad_request", None),
        (b'{"id": 7}', "bad_request", 7),
        (b'{"id": 7, "op": 5}', "bad_request", 7),
        (b'{"id": 7, "op": "explode"}', "unknown_op", 7),
        (b'{"id": 7, "op": "get", "params": [1]}', "invalid_params", 7),
        (b'{"id": 7, "op": "get", "params": {}, "extra": 1}', "bad_request", 7),
    ],
)
def test_bad_lines_become_error_codes(line, code, request_id):
    with pytest.raises(BadRequest) as caught:
        parse_request(line)
    assert caught.value.error.code == code
    assert caught.value.request_id == request_id
    reply = error_reply(caught.value.request_id, caught.value.error)
    assert reply["ok"] is False and reply["error"]["code"] == code
    assert "\n" not in reply["error"]["message"]


@pytest.mark.parametrize(
    ("raw_id", "named"),
    [("1.5", "fraction"), ("1e3", "fraction"), ("1.0", "fraction"), ("true", "true/false"), ("false", "true/false"),
     ('{"n": 1}', "an object"), ("[1]", "an array"), ("[]", "an array"), (str(2**63), "64-bit")],
)  # fmt: skip
def test_request_ids_that_cannot_travel_back_exactly_are_refused(raw_id, named):
    with pytest.raises(BadRequest) as caught:
        parse_request(b'{"id": %s, "op": "stats"}' % raw_id.encode())
    assert caught.value.error.code == "bad_request" and caught.value.request_id is None
    assert '"id" must be a string, a whole number or null' in str(caught.value.error) and named in str(caught.value.error)


@pytest.mark.parametrize("raw_id", ['"a1"', '""', "0", "-7", str(2**63 - 1), str(-(2**63)), "null"])
def test_request_ids_may_be_strings_whole_numbers_or_null(raw_id):
    assert parse_request(b'{"id": %s, "op": "stats"}' % raw_id.encode()).id == json.loads(raw_id)
    assert parse_request(b'{"op": "stats"}').id is None


def test_unknown_op_error_lists_known_ops():
    with pytest.raises(BadRequest) as caught:
        parse_request(b'{"id": 1, "op": "enque"}')
    message = str(caught.value.error)
    assert "enqueue" in message and "hello" in message


def test_decode_json_rejects_nan_and_accepts_unicode():
    assert decode_json('{"name": "Zoë ✓"}'.encode()) == {"name": "Zoë ✓"}
    with pytest.raises(InvalidJsonError, match="NaN"):
        decode_json(b"NaN")


def test_encode_message_is_one_ascii_line_even_for_lone_surrogates():
    line = encode_message(ok_reply(1, {"text": "a\udc80b\nc", "emoji": "✓"}))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    line.decode("ascii")
    assert json.loads(line)["result"]["text"] == "a\udc80b\nc"


def test_error_codes_round_trip_to_the_same_exception_class():
    for exc in (UnknownJobTypeError("unknown job type 'x'"), JobNotFoundError("no job with id 9"),
                InvalidOptionError("priority must be a whole number")):  # fmt: skip
        rebuilt = error_from_reply(error_reply(1, exc)["error"])
        assert type(rebuilt) is type(exc) and str(rebuilt) == str(exc) and rebuilt.code == exc.code


def test_unknown_code_becomes_remote_error_and_details_survive():
    rebuilt = error_from_reply({"code": "new_thing", "message": "from the future"})
    assert isinstance(rebuilt, RemoteError) and rebuilt.code == "new_thing"
    detailed = with_details(InvalidOptionError("bad"), "jobs[3]: bad", index=3)
    reply = error_reply("x", detailed)
    assert reply["error"]["details"] == {"index": 3}
    assert error_from_reply(reply["error"]).details == {"index": 3}


def test_versions():
    check_client_version(PROTOCOL_VERSION)
    check_client_version("1.7")  # a newer minor version is compatible
    with pytest.raises(VersionMismatchError, match="upgrade the running Acacia"):
        check_client_version("2.0")
    with pytest.raises(VersionMismatchError, match="upgrade the client"):
        check_client_version("0.9")
    with pytest.raises(VersionMismatchError, match="upgrade this client"):
        check_server_version("2.1")
    with pytest.raises(VersionMismatchError):
        check_server_version(None)


def test_every_op_is_documented_in_the_protocol_set():
    assert {"hello", "enqueue", "get", "logs", "list", "cancel", "retry", "edit", "delete", "pause", "resume",
            "set_concurrency", "handlers", "stats", "watch", "raise_window", "kill", "extend", "schedule_add",
            "schedule_edit", "schedule_list", "schedule_get", "schedule_remove", "schedule_pause", "schedule_resume",
            "schedule_run_now"} == OPS  # fmt: skip


def test_ipc_and_cli_import_no_qt():
    code = (
        "import sys, acacia_gui.ipc.protocol, acacia_gui.ipc.dispatch, acacia_gui.ipc.client, acacia_gui.client;"
        "import acacia_gui.cli, acacia_gui.cli.commands, acacia_gui.cli.live, acacia_gui.cli.backend;"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
