"""The `schedule_*` ops (protocol 1.5) against a real `acacia serve`: through the project's
Client, through a plain socket with requests the Client would never send, and through
`socat`, a client we did not write. Bad input gets one clear error and the connection
keeps serving."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from acacia_gui.core.errors import AcaciaError, InvalidOptionError, JobNotFoundError
from acacia_gui.ipc.protocol import PROTOCOL_VERSION, InvalidParamsError

from ..conftest import wait_until
from .serve_process import served_app

SCHEDULE_FIELDS = {"name", "type", "payload", "every", "cron", "timezone", "catch_up", "max_backlog", "queue", "priority",
                   "paused", "next_at", "last_slot", "last_job_id", "last_state", "last_dropped", "created_at"}  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory, "socket-schedules") as app:
        yield app


@pytest.fixture
def box(served):
    return served[0]


def test_the_app_speaks_protocol_1_5(box):
    assert PROTOCOL_VERSION == "1.5"
    with box.client() as client:
        assert client.hello()["protocol"] == "1.5"


def test_add_get_list_edit_pause_resume_remove_through_the_client(box):
    with box.client() as client:
        added = client.schedule_add("nightly", "demo.sleep", {"seconds": 0}, cron="0 3 * * *", timezone="Europe/Paris",
                                    catch_up="all", max_backlog=24, queue="sched-client", priority=3)  # fmt: skip
        assert set(added) == SCHEDULE_FIELDS
        assert (added["name"], added["type"], added["payload"], added["cron"], added["every"]) == (
            "nightly", "demo.sleep", {"seconds": 0}, "0 3 * * *", None)
        assert (added["timezone"], added["catch_up"], added["max_backlog"], added["queue"], added["priority"]) == (
            "Europe/Paris", "all", 24, "sched-client", 3)
        assert added["paused"] is False and added["next_at"] > added["created_at"]
        assert client.schedule_get("nightly") == added
        assert "nightly" in [s["name"] for s in client.schedule_list()]

        edited = client.schedule_edit("nightly", every="6h", catch_up="skip")
        assert (edited["every"], edited["cron"], edited["catch_up"], edited["priority"]) == (21600.0, None, "skip", 3)
        back = client.schedule_edit("nightly", cron="30 2 * * *", timezone=None)
        assert (back["every"], back["cron"], back["timezone"]) == (None, "30 2 * * *", None)

        assert client.schedule_pause("nightly")["paused"] is True
        resumed = client.schedule_resume("nightly")
        assert resumed["paused"] is False and resumed["next_at"] is not None

        client.schedule_remove("nightly")
        assert "nightly" not in [s["name"] for s in client.schedule_list()]
        with pytest.raises(JobNotFoundError, match="there is no schedule 'nightly'"):
            client.schedule_get("nightly")


def test_run_now_enqueues_one_job_for_now_and_keeps_the_next_slot(box):
    with box.client() as client:
        added = client.schedule_add("run-now-test", "demo.sleep", {"seconds": 0}, every=3600, queue="sched-now",
                                    paused=True)  # fmt: skip
        assert added["paused"] is True
        job_id = client.schedule_run_now("run-now-test")
        job = client.get(job_id, events=True)
        assert (job["type"], job["queue"], job["payload"]) == ("demo.sleep", "sched-now", {"seconds": 0})
        assert job["scheduled_for"] is not None
        first = job["events"][0]  # who asked for it is the source; the message names the schedule
        assert first["source"] == "socket" and "schedule 'run-now-test'" in first["message"], first
        after = wait_until(lambda: client.schedule_get("run-now-test"), message="the schedule")
        assert after["next_at"] == added["next_at"] and after["last_job_id"] == job_id
        wait_until(lambda: client.get(job_id)["state"] == "succeeded", message="the run-now job succeeded")
        assert client.schedule_get("run-now-test")["last_state"] == "succeeded"
        client.schedule_remove("run-now-test")


def test_an_every_1s_schedule_produces_jobs_with_their_slots(box):
    with box.client() as client:
        added = client.schedule_add("ticker", "demo.sleep", {"seconds": 0}, every=1, queue="sched-tick")
        jobs = wait_until(lambda: (lambda page: page["jobs"] if page["total"] >= 3 else None)(
            client.list(queue="sched-tick")), timeout=30, message="three jobs from an every-1s schedule")  # fmt: skip
        client.schedule_pause("ticker")
        slots = [client.get(job["id"])["scheduled_for"] for job in jobs]
        assert len(set(slots)) == len(slots), slots  # each slot enqueued once
        for slot in slots:  # slots are created_at + k * every
            steps = slot - added["created_at"]
            assert steps >= 1 and abs(steps - round(steps)) < 1e-6, (slot, added["created_at"])
        client.schedule_remove("ticker")


def test_a_watch_sees_schedule_events(box):
    with box.client() as client, client.watch(kinds=["schedule"], idle=0.2) as stream:
        client.schedule_add("watched", "demo.sleep", every=3600)
        job_id = client.schedule_run_now("watched")
        client.schedule_remove("watched")
        seen, deadline = [], time.monotonic() + 30
        for event in stream:
            assert time.monotonic() < deadline, f"the schedule events did not all come: {seen}"
            if event is not None and event.get("name") == "watched":
                seen.append(event)
            if [e["change"] for e in seen] == ["added", "run_now", "removed"]:
                break
    assert all(e["kind"] == "schedule" and e["job_id"] is None for e in seen)
    assert seen[1]["job_ids"] == [job_id] and seen[0]["source"] == "socket"


# -- bad input, sent raw: one clear error each, and the connection keeps serving -----------

BAD_REQUESTS = [
    ({"name": "x", "type": "demo.sleep"}, "invalid_params", "no rule"),
    ({"name": "x", "type": "demo.sleep", "every": 60, "cron": "* * * * *"}, "invalid_params", 'both "every" and "cron"'),
    ({"name": "x", "type": "demo.sleep", "cron": "* * * *"}, "invalid_option", "cron:"),
    ({"name": "x", "type": "demo.sleep", "cron": "61 * * * *"}, "invalid_option", "cron:"),
    ({"name": "x", "type": "demo.sleep", "every": 0.5}, "invalid_option", "every:"),
    ({"name": "x", "type": "demo.sleep", "every": "10x"}, "invalid_params", "not a duration"),
    ({"name": "x", "type": "demo.sleep", "every": "60"}, "invalid_params", "not a duration"),
    ({"name": "x", "type": "demo.sleep", "every": 60, "timezone": "Mars/Olympus"}, "invalid_option", "Mars/Olympus"),
    ({"name": "x", "type": "demo.sleep", "every": 60, "catch_up": "sometimes"}, "invalid_params", '"catch_up"'),
    ({"name": "x", "type": "demo.sleep", "every": 60, "max_backlog": 0}, "invalid_params", '"max_backlog"'),
    ({"name": "x", "type": "demo.sleep", "every": 60, "max_backlog": 10_001}, "invalid_params", '"max_backlog"'),
    ({"name": "x", "type": "demo.sleep", "every": True}, "invalid_params", '"every"'),
    ({"name": 7, "type": "demo.sleep", "every": 60}, "invalid_params", '"name"'),
    ({"name": "x", "type": ["demo.sleep"], "every": 60}, "invalid_params", '"type"'),
    ({"name": "x", "type": "demo.sleep", "every": 60, "priority": "high"}, "invalid_params", '"priority"'),
    ({"name": "x", "type": "demo.sleep", "every": 60, "paused": "yes"}, "invalid_params", '"paused"'),
    ({"name": "x", "type": "demo.sleep", "every": 60, "next_at": 1}, "invalid_params", "unknown field(s) next_at"),
    ({"name": "x", "type": "demo.sleep", "every": 60, "evry": 1}, "invalid_params", "unknown field(s) evry"),
    ({"name": "bad name!", "type": "demo.sleep", "every": 60}, "invalid_option", "name"),
    ({"type": "demo.sleep", "every": 60}, "invalid_params", 'missing field "name"'),
    ({"name": "x", "type": "demo.slep", "every": 60}, "unknown_type", "known types: demo.sleep"),
    ({"name": "x", "type": "demo.sleep", "every": 60, "payload": {"seconds": -3}}, "invalid_payload", "seconds"),
    ({"name": "x", "type": "demo.sleep", "every": 60, "queue": "no spaces"}, "invalid_option", "queue"),
    ({"name": "x", "type": "demo.sleep", "every": 60, "priority": 10**7}, "invalid_params", '"priority"'),
]


@pytest.mark.parametrize(("params", "code", "words"), BAD_REQUESTS, ids=lambda value: str(value)[:40])
def test_bad_schedule_add_gets_one_clear_error_and_the_connection_goes_on(box, params, code, words):
    raw = box.raw()
    try:
        reply = raw.request("schedule_add", params, request_id="bad")
        assert reply["id"] == "bad" and reply["ok"] is False, reply
        assert reply["error"]["code"] == code and words in reply["error"]["message"], reply["error"]
        assert "\n" not in reply["error"]["message"]
        assert raw.request("schedule_list", request_id="next")["ok"] is True  # same connection, still serving
    finally:
        raw.close()
    with box.client() as client:
        assert "x" not in [s["name"] for s in client.schedule_list()]


def test_taken_and_unknown_names_and_bad_edits(box):
    raw = box.raw()
    try:
        assert raw.request("schedule_add", {"name": "taken", "type": "demo.sleep", "every": 3600})["ok"] is True
        cases = [
            ("schedule_add", {"name": "taken", "type": "demo.sleep", "every": 60}, "invalid_option",
             "schedule 'taken' already exists"),
            ("schedule_get", {"name": "nope"}, "not_found", "there is no schedule 'nope'"),
            ("schedule_edit", {"name": "nope", "priority": 1}, "not_found", "there is no schedule 'nope'"),
            ("schedule_remove", {"name": "nope"}, "not_found", "there is no schedule 'nope'"),
            ("schedule_pause", {"name": "nope"}, "not_found", "there is no schedule 'nope'"),
            ("schedule_resume", {"name": "nope"}, "not_found", "there is no schedule 'nope'"),
            ("schedule_run_now", {"name": "nope"}, "not_found", "there is no schedule 'nope'"),
            ("schedule_edit", {"name": "taken"}, "invalid_params", "at least one field"),
            ("schedule_edit", {"name": "taken", "every": 60, "cron": "* * * * *"}, "invalid_params", "both"),
            ("schedule_edit", {"name": "taken", "cron": "* * *"}, "invalid_option", "cron:"),
            ("schedule_edit", {"name": "taken", "timezone": "Nowhere/City"}, "invalid_option", "Nowhere/City"),
            ("schedule_edit", {"name": "taken", "paused": True}, "invalid_params", "unknown field(s) paused"),
            ("schedule_edit", {"name": "taken", "every": None}, "invalid_params", '"every"'),
            ("schedule_get", {}, "invalid_params", 'missing field "name"'),
            ("schedule_list", {"all": True}, "invalid_params", "unknown field(s) all"),
            ("schedule_edit", {"name": "taken", "type": "demo.slep"}, "unknown_type", "known types"),
            ("schedule_edit", {"name": "taken", "payload": {"seconds": "long"}}, "invalid_payload", "seconds"),
        ]  # fmt: skip
        for op, params, code, words in cases:
            reply = raw.request(op, params)
            assert reply["ok"] is False and reply["error"]["code"] == code, (op, params, reply)
            assert words in reply["error"]["message"], (op, params, reply)
        kept = raw.request("schedule_get", {"name": "taken"})["result"]
        assert (kept["every"], kept["priority"], kept["timezone"], kept["paused"]) == (3600.0, 0, None, False)
        assert raw.request("schedule_remove", {"name": "taken"})["result"] == {"removed": "taken"}
    finally:
        raw.close()


def test_allow_unknown_accepts_a_type_no_handler_has_yet(box):
    with box.client() as client:
        added = client.schedule_add("later", "plugin.not.yet", every=3600, allow_unknown=True)
        assert added["type"] == "plugin.not.yet"
        assert client.schedule_edit("later", type="demo.sleep")["type"] == "demo.sleep"
        assert client.schedule_edit("later", type="other.later", allow_unknown=True)["type"] == "other.later"
        client.schedule_remove("later")


def test_client_errors_are_the_servers_classes(box):
    with box.client() as client:
        with pytest.raises(InvalidParamsError, match="no rule"):
            client.schedule_add("x", "demo.sleep")
        with pytest.raises(InvalidOptionError, match="timezone"):
            client.schedule_add("x", "demo.sleep", cron="0 3 * * *", timezone="Mars/Olympus")
        with pytest.raises(AcaciaError) as caught:
            client.schedule_run_now("nope")
        assert caught.value.code == "not_found"


# -- a client we did not write ----------------------------------------------------------------

def test_socat_adds_and_lists_a_schedule(box):
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is not installed: `make test` installs it, or `apt-get install socat`")
    data = (b'{"id":1,"op":"schedule_add","params":{"name":"from-socat","type":"demo.sleep","payload":{"seconds":0},'
            b'"cron":"0 3 * * *","timezone":"Europe/Paris","queue":"socat"}}\n'
            b'{"id":2,"op":"schedule_list"}\n'
            b'{"id":3,"op":"schedule_add","params":{"name":"from-socat","type":"demo.sleep","every":"1x"}}\n'
            b'{"id":4,"op":"schedule_remove","params":{"name":"from-socat"}}\n')  # fmt: skip
    proc = subprocess.run([socat, "-t", "30", "-", f"UNIX-CONNECT:{box.address}"], input=data, capture_output=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    added, listed, bad, removed = (json.loads(line) for line in proc.stdout.splitlines())
    assert added["ok"] is True and added["result"]["name"] == "from-socat" and added["result"]["next_at"] > 0
    assert "from-socat" in [s["name"] for s in listed["result"]["schedules"]]
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_params"
    assert removed["result"] == {"removed": "from-socat"}
