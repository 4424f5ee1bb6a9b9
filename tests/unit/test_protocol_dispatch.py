"""The Dispatcher over a real SQLite file, a real Registry and the real schema validator."""

from __future__ import annotations

import json
import os

import pytest

from acacia_gui.config import load_config
from acacia_gui.core.events import EventBus, JobEvent
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.ipc.client import LocalClient, NotRunningError, probe
from acacia_gui.ipc.dispatch import Dispatcher, StandaloneServices
from acacia_gui.ipc.protocol import PROTOCOL_VERSION, encode_message, error_from_reply
from acacia_gui.plugins.schema import validate_payload
from acacia_gui.store.sqlite import SqliteJobStore

RESIZE_SCHEMA = {
    "type": "object",
    "properties": {"width": {"type": "integer", "minimum": 1}},
    "required": ["width"],
    "additionalProperties": False,
}


@pytest.fixture
def setup(tmp_path):
    config = load_config(tmp_path / "data", tmp_path / "plugins")
    store = SqliteJobStore(config.database)
    registry = Registry()
    registry.register_handler("noop", lambda ctx, job: None)
    registry.register_handler("image.resize", lambda ctx, job: None, schema=RESIZE_SCHEMA, queue="images",
                              max_attempts=3, timeout=30)  # fmt: skip
    bus = EventBus()
    events: list[JobEvent] = []
    bus.subscribe(events.append)
    queue = JobQueue(store, registry, bus, payload_validator=validate_payload)
    dispatcher = Dispatcher(queue, StandaloneServices(config), source="socket")
    yield dispatcher, store, events
    store.close()


def line(op, params=None, request_id=1):
    return encode_message({"id": request_id, "op": op, "params": params or {}})[:-1]


def ok(dispatcher, op, params=None):
    reply = dispatcher.handle_line(line(op, params))
    assert reply["ok"] is True, reply
    return reply["result"]


def err(dispatcher, op, params=None):
    reply = dispatcher.handle_line(line(op, params))
    assert reply["ok"] is False, reply
    return reply["error"]


def job_count(store):
    return store.count_jobs()


def test_hello_reports_versions_and_paths(setup):
    dispatcher, _, _ = setup
    hello = ok(dispatcher, "hello", {"version": PROTOCOL_VERSION, "client": "test"})
    assert hello["protocol"] == PROTOCOL_VERSION and hello["pid"] == os.getpid()
    assert hello["data_dir"] == str(dispatcher.services.config.data_dir)
    assert err(dispatcher, "hello", {"version": "2.0"})["code"] == "version_mismatch"
    assert err(dispatcher, "hello", {"version": 1})["code"] == "invalid_params"
    # A client that knows no versions may leave it out, and learns the server's.
    assert ok(dispatcher, "hello", {})["protocol"] == PROTOCOL_VERSION
    assert ok(dispatcher, "hello", {"version": None})["protocol"] == PROTOCOL_VERSION


def test_enqueue_applies_handler_defaults_and_announces(setup):
    dispatcher, store, events = setup
    result = ok(dispatcher, "enqueue", {"type": "image.resize", "payload": {"width": 5}, "priority": 4})
    job = store.get_job(result["id"])
    assert (job.queue, job.max_attempts, job.timeout, job.priority) == ("images", 3, 30.0, 4)
    assert store.get_events(job.id)[0]["source"] == "socket"
    assert [e.kind for e in events] == ["enqueued"]


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({"type": "nope", "payload": {}}, "unknown_type", "known types: image.resize, noop"),
        ({"type": "", "payload": {}}, "invalid_type", "non-empty"),
        ({"type": "image.resize", "payload": {"width": 0}}, "invalid_payload", "payload.width"),
        ({"type": "image.resize", "payload": {"height": 2}}, "invalid_payload", "width"),
        ({"type": "noop", "priority": "high"}, "invalid_option", "priority"),
        ({"type": "noop", "priority": 10**30}, "invalid_option", "priority"),
        ({"type": "noop", "delay": -1}, "invalid_option", "delay"),
        ({"type": "noop", "timeout": -5}, "invalid_option", "timeout"),
        ({"type": "noop", "timeout": 0}, "invalid_option", "timeout"),
        ({"type": "noop", "max_attempts": 0}, "invalid_option", "max_attempts"),
        ({"type": "noop", "max_attempts": 2.5}, "invalid_option", "max_attempts"),
        ({"type": "noop", "queue": "bad queue!"}, "invalid_option", "queue"),
        ({"type": "noop", "queue": 5}, "invalid_option", "queue"),
        ({"type": "noop", "max_attempt": 2}, "invalid_params", "max_attempt"),
        ({"payload": {}}, "invalid_params", "type"),
        ({"type": "noop", "allow_unknown": "yes"}, "invalid_params", "allow_unknown"),
    ],
)
def test_enqueue_bad_input_writes_nothing(setup, params, code, words):
    dispatcher, store, events = setup
    error = err(dispatcher, "enqueue", params)
    assert error["code"] == code and words in error["message"], error
    assert job_count(store) == 0 and events == []


def test_unknown_type_accepted_with_allow_unknown(setup):
    dispatcher, store, _ = setup
    result = ok(dispatcher, "enqueue", {"type": "later.plugin", "payload": [1, 2], "allow_unknown": True})
    assert store.get_job(result["id"]).payload == [1, 2]


def test_batch_is_all_or_nothing_and_names_the_bad_job(setup):
    dispatcher, store, events = setup
    jobs = [{"type": "noop", "payload": {"n": i}} for i in range(5)]
    jobs[3] = {"type": "image.resize", "payload": {"width": -1}}
    error = err(dispatcher, "enqueue", {"jobs": jobs})
    assert error["code"] == "invalid_payload" and error["message"].startswith("jobs[3]: ")
    assert error["details"] == {"index": 3}
    assert job_count(store) == 0 and events == []
    jobs[3] = {"type": "image.resize", "payload": {"width": 1}, "priority": 2}
    ids = ok(dispatcher, "enqueue", {"jobs": jobs})["ids"]
    assert len(ids) == 5 and [j.id for j in store.list_jobs()] == ids
    assert store.get_job(ids[3]).queue == "images"
    for bad in ([], "x", [1], [{"type": "noop", "bogus": 1}]):
        assert err(dispatcher, "enqueue", {"jobs": bad})["code"] == "invalid_params"
        assert job_count(store) == 5


def test_get_list_and_filters(setup):
    dispatcher, _, _ = setup
    ids = ok(dispatcher, "enqueue", {"jobs": [{"type": "noop"}, {"type": "noop", "queue": "q2"},
                                              {"type": "noop", "delay": 60}]})["ids"]  # fmt: skip
    job = ok(dispatcher, "get", {"id": ids[0], "events": True, "logs": 5})
    assert job["id"] == ids[0] and job["events"][0]["new_state"] == "queued" and job["logs"] == []
    assert ok(dispatcher, "list")["total"] == 3
    assert [j["id"] for j in ok(dispatcher, "list", {"queue": "q2"})["jobs"]] == [ids[1]]
    assert [j["id"] for j in ok(dispatcher, "list", {"state": ["scheduled"]})["jobs"]] == [ids[2]]
    page = ok(dispatcher, "list", {"order_by": "id", "descending": True, "limit": 1, "offset": 1})
    assert [j["id"] for j in page["jobs"]] == [ids[1]] and page["total"] == 3
    assert err(dispatcher, "list", {"state": "sleeping"})["code"] == "invalid_params"
    assert err(dispatcher, "list", {"order_by": "payload"})["code"] == "invalid_params"
    assert err(dispatcher, "list", {"limit": -1})["code"] == "invalid_params"
    assert err(dispatcher, "get", {"id": 999})["code"] == "not_found"
    assert err(dispatcher, "get", {"id": "1"})["code"] == "invalid_params"
    assert err(dispatcher, "get", {"id": 10**40})["code"] == "invalid_params"
    assert err(dispatcher, "get", {"id": True})["code"] == "invalid_params"


def test_cancel_retry_delete(setup):
    dispatcher, _, events = setup
    job_id = ok(dispatcher, "enqueue", {"type": "noop"})["id"]
    assert ok(dispatcher, "cancel", {"id": job_id})["state"] == "cancelled"
    assert err(dispatcher, "cancel", {"id": job_id})["code"] == "invalid_state"
    assert ok(dispatcher, "retry", {"id": job_id})["state"] == "queued"
    assert err(dispatcher, "retry", {"id": job_id})["code"] == "invalid_state"
    assert err(dispatcher, "delete", {"id": 12345})["code"] == "not_found"
    assert ok(dispatcher, "delete", {"ids": [job_id]}) == {"deleted": 1, "ids": [job_id], "errors": []}
    other = ok(dispatcher, "enqueue", {"type": "noop"})["id"]
    ok(dispatcher, "cancel", {"id": other})
    assert ok(dispatcher, "delete", {"finished": True})["ids"] == [other]
    assert err(dispatcher, "delete", {})["code"] == "invalid_params"
    assert err(dispatcher, "delete", {"ids": [1], "finished": True})["code"] == "invalid_params"
    assert err(dispatcher, "delete", {"id": 1, "ids": [1]})["code"] == "invalid_params"
    assert [e.kind for e in events].count("deleted") == 2


def test_ids_act_on_each_job_and_report_the_others(setup):
    dispatcher, store, events = setup
    running = ok(dispatcher, "enqueue", {"type": "noop", "priority": 9})["id"]
    assert [job.id for job in store.complete_and_claim([], "instance-me", 1)[1]] == [running]
    queued, done = (ok(dispatcher, "enqueue", {"type": "noop"})["id"] for _ in range(2))
    ok(dispatcher, "cancel", {"id": done})

    result = ok(dispatcher, "cancel", {"ids": [queued, done, 999, queued]})
    assert result["ids"] == [queued] and [j["id"] for j in result["jobs"]] == [queued]
    assert result["jobs"][0]["state"] == "cancelled" and result["jobs"][0]["cancel_requested"] is False
    assert [(e["id"], e["error"]["code"]) for e in result["errors"]] == [(done, "invalid_state"), (999, "not_found")]
    assert all(e["error"]["message"] for e in result["errors"])

    result = ok(dispatcher, "retry", {"ids": [running, done, queued]})
    assert result["ids"] == [done, queued] and [j["state"] for j in result["jobs"]] == ["queued", "queued"]
    assert [(e["id"], e["error"]["code"]) for e in result["errors"]] == [(running, "invalid_state")]

    before = [e.kind for e in events].count("deleted")
    result = ok(dispatcher, "delete", {"ids": [running, queued, 4242]})
    assert result == {
        "deleted": 1, "ids": [queued],
        "errors": [{"id": running, "error": {"code": "invalid_state", "message": result["errors"][0]["error"]["message"]}},
                   {"id": 4242, "error": {"code": "not_found", "message": "no job with id 4242"}}],
    }  # fmt: skip
    assert store.get_job(queued) is None and store.get_job(running) is not None
    assert [e.kind for e in events].count("deleted") == before + 1
    assert ok(dispatcher, "cancel", {"ids": []}) == {"ids": [], "jobs": [], "errors": []}
    for op in ("cancel", "retry", "delete"):
        assert err(dispatcher, op, {"ids": [1, "2"]})["code"] == "invalid_params"
        assert err(dispatcher, op, {"ids": 1})["code"] == "invalid_params"
        assert err(dispatcher, op, {"ids": [1.5]})["code"] == "invalid_params"


def test_pause_resume_concurrency(setup):
    dispatcher, store, _ = setup
    assert ok(dispatcher, "pause", {"queue": "images", "create": True})["paused"] is True
    assert store.get_queue("images").paused
    assert ok(dispatcher, "resume", {"queue": "images"})["paused"] is False
    assert ok(dispatcher, "set_concurrency", {"queue": "images", "concurrency": 2})["concurrency"] == 2
    assert err(dispatcher, "set_concurrency", {"queue": "images", "concurrency": -1})["code"] == "invalid_params"
    assert err(dispatcher, "pause", {"queue": "no spaces"})["code"] == "invalid_option"
    assert err(dispatcher, "pause", {})["code"] == "invalid_params"
    # The number of workers belongs to a running app.
    assert err(dispatcher, "set_concurrency", {"workers": 4})["code"] == "not_running"
    assert err(dispatcher, "set_concurrency", {"workers": 4, "create": True})["code"] == "invalid_params"


@pytest.mark.parametrize(("op", "params"), [("pause", {}), ("resume", {}), ("set_concurrency", {"concurrency": 3})])
def test_an_unknown_queue_is_refused_unless_created_on_purpose(setup, op, params):
    dispatcher, store, _ = setup
    error = err(dispatcher, op, {"queue": "imgaes", **params})
    assert error["code"] == "not_found"
    assert "imgaes" in error["message"] and "known queues: default" in error["message"]
    assert '"create": true' in error["message"]
    assert error["details"] == {"queue": "imgaes", "known_queues": ["default"]}
    assert [q.name for q in store.list_queues()] == ["default"]  # nothing was created
    assert err(dispatcher, op, {"queue": "imgaes", "create": "yes", **params})["code"] == "invalid_params"
    assert ok(dispatcher, op, {"queue": "imgaes", "create": True, **params})["name"] == "imgaes"
    assert ok(dispatcher, op, {"queue": "imgaes", **params})["name"] == "imgaes"  # it exists now
    assert ok(dispatcher, op, {"queue": "default", "create": False, **params})["name"] == "default"
    # A queue that an enqueue named exists.
    ok(dispatcher, "enqueue", {"type": "image.resize", "payload": {"width": 1}})
    assert ok(dispatcher, op, {"queue": "images", **params})["name"] == "images"


def test_handlers_stats_raise_window(setup):
    dispatcher, _, _ = setup
    handlers = ok(dispatcher, "handlers")["handlers"]
    assert [h["type"] for h in handlers] == ["image.resize", "noop"]
    assert handlers[0]["schema"] == RESIZE_SCHEMA
    ok(dispatcher, "enqueue", {"type": "noop"})
    stats = ok(dispatcher, "stats")
    assert stats["counts"]["queued"] == 1 and stats["running_here"] is None
    assert ok(dispatcher, "raise_window") == {"raised": True}
    assert err(dispatcher, "stats", {"verbose": True})["code"] == "invalid_params"


def test_watch_filters_and_ends_on_final_state(setup):
    dispatcher, _, _ = setup
    job_id = ok(dispatcher, "enqueue", {"type": "noop"})["id"]
    watch = dispatcher.open_watch({"job": job_id})
    assert watch.ack["job"]["state"] == "queued" and not watch.ended
    assert watch.accept({"kind": "progress", "job_id": job_id + 1}) == (False, False)
    assert watch.accept({"kind": "progress", "job_id": job_id, "progress": 0.5}) == (True, False)
    assert watch.accept({"kind": "state", "job_id": job_id, "state": "running"}) == (True, False)
    assert watch.accept({"kind": "state", "job_id": job_id, "state": "scheduled"}) == (True, False)
    assert watch.accept({"kind": "state", "job_id": job_id, "state": "succeeded"}) == (True, True)
    assert watch.accept({"kind": "deleted", "job_id": job_id}) == (True, True)
    dispatcher.queue.cancel(job_id)
    assert dispatcher.open_watch({"job": job_id}).ended
    assert dispatcher.watch_end(watch, "finished")["job"]["state"] == "cancelled"
    by_queue = dispatcher.open_watch({"queue": "q", "kinds": ["state"]})
    assert by_queue.accept({"kind": "state", "queue": "q", "job_id": 1}) == (True, False)
    assert by_queue.accept({"kind": "progress", "queue": "q", "job_id": 1}) == (False, False)
    assert by_queue.accept({"kind": "state", "queue": "other", "job_id": 1}) == (False, False)
    everything = dispatcher.open_watch({})
    assert everything.accept({"kind": "log", "job_id": 3}) == (True, False)
    reply = dispatcher.handle_line(line("watch", {"job": 424242}))
    assert reply["error"]["code"] == "not_found"
    assert dispatcher.handle_line(line("watch", {"job": 1, "queue": "q"}))["error"]["code"] == "invalid_params"


def test_internal_errors_are_answered_not_raised(setup, caplog):
    dispatcher, store, _ = setup
    store.close()
    store.path.unlink()
    store.path.mkdir()  # the database is gone and cannot be reopened
    reply = dispatcher.handle_line(line("list"))
    assert reply["ok"] is False and reply["error"]["code"] in ("internal_error", "store_error")
    assert "Traceback" not in json.dumps(reply)


def test_local_client_offers_the_same_methods(setup):
    dispatcher, _, _ = setup
    client = LocalClient(dispatcher)
    job_id = client.enqueue("noop", {"a": 1}, priority=3)
    assert client.get(job_id)["priority"] == 3
    assert client.enqueue_many([{"type": "noop"}, {"type": "noop"}]) == [job_id + 1, job_id + 2]
    assert client.list(limit=1)["total"] == 3
    assert client.cancel(job_id)["state"] == "cancelled"
    assert client.retry(job_id)["state"] == "queued"
    assert client.pause("default")["paused"] and not client.resume("default")["paused"]
    assert client.set_concurrency("default", 3)["concurrency"] == 3
    assert client.handlers()["handlers"]
    assert client.stats()["counts"]["queued"] == 3
    assert client.delete([job_id]) == 1
    with pytest.raises(NotRunningError, match="acacia serve"):
        client.watch(job=job_id + 1)
    with pytest.raises(Exception) as caught:
        client.enqueue("noop", max_attempts=0)
    assert caught.value.code == "invalid_option"


def test_probe_and_client_say_nobody_runs(tmp_path):
    from acacia_gui.ipc.client import Client

    address = str(tmp_path / "none.sock")
    assert probe(address) is None
    client = Client(address, data_dir=tmp_path / "d")
    with pytest.raises(NotRunningError) as caught:
        client.stats()
    assert f"No Acacia is running for data dir {tmp_path / 'd'}. Start it with `acacia` or `acacia serve`." in str(
        caught.value
    )
    assert error_from_reply({"code": "not_running", "message": "x"}).code == "not_running"


def test_queue_watch_follows_log_lines_of_its_jobs(setup):
    dispatcher, _, _ = setup
    watch = dispatcher.open_watch({"queue": "q"})
    assert watch.accept({"kind": "log", "job_id": 5, "queue": None, "message": "x"}) == (False, False)
    assert watch.accept({"kind": "state", "job_id": 5, "queue": "q", "state": "running"}) == (True, False)
    assert watch.accept({"kind": "log", "job_id": 5, "queue": None, "message": "x"}) == (True, False)
    assert watch.accept({"kind": "state", "job_id": 5, "queue": "q", "state": "succeeded"}) == (True, False)
    assert watch.accept({"kind": "log", "job_id": 5, "queue": None, "message": "late"}) == (False, False)
