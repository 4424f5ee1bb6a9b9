"""Every op through the real Client against a real `acacia serve` subprocess."""

from __future__ import annotations

import pytest

from acacia_gui.core.errors import InvalidPayloadError, InvalidTransitionError, JobNotFoundError, UnknownJobTypeError
from acacia_gui.ipc.protocol import PROTOCOL_VERSION

from ..conftest import wait_until
from .serve_process import served_app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory, "socket-ops", prepare=_add_broken_plugin) as app:
        yield app


def _add_broken_plugin(box) -> None:
    (box.plugins_dir / "broken.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    (box.plugins_dir / "broken.py").chmod(0o600)


@pytest.fixture
def client(served):
    box, _ = served
    with box.client() as c:
        yield c


def run_to_end(client, job_id: int) -> tuple[list[dict], dict]:
    """The job's events from the watch's start to its end, led by the ack's snapshot as a state event."""
    stream = client.watch(job=job_id)
    first = {"kind": "state", "job_id": job_id, "state": stream.ack["job"]["state"], "snapshot": True}
    events = [first] + [e for e in stream if e is not None]
    return events, stream.end


def test_hello_reports_the_app(served, client):
    box, serve = served
    hello = client.hello()
    assert hello["protocol"] == PROTOCOL_VERSION and hello["pid"] == serve.proc.pid
    assert hello["data_dir"] == str(box.data_dir) and hello["socket"] == box.address


def test_enqueue_and_watch_a_job_to_its_end(client):
    job_id = client.enqueue("demo.sleep", {"seconds": 0.6})
    events, end = run_to_end(client, job_id)
    kinds = [e["kind"] for e in events]
    states = [e["state"] for e in events if e["kind"] == "state"]
    assert "progress" in kinds and "running" in states
    assert events[-1]["kind"] == "state" and events[-1]["state"] == "succeeded"
    assert all(e["job_id"] == job_id for e in events)
    assert end["job"]["state"] == "succeeded" and end["job"]["result"] == {"slept": 0.6}
    job = client.get(job_id, events=True, logs=10)
    assert job["events"][0]["source"] == "socket"
    # Watching a job that has already finished replays its history and ends, with the job
    # (test_socket_watch_replay.py has the details); since "now" skips the history.
    stream = client.watch(job=job_id)
    replayed = [e["state"] for e in stream if e["kind"] in ("enqueued", "state")]
    assert replayed == ["queued", "running", "succeeded"] and stream.end["job"]["state"] == "succeeded"
    assert stream.ack["job"]["id"] == job_id
    stream = client.watch(job=job_id, since="now", kinds=["state"])
    assert list(stream) == [] and stream.end["job"]["state"] == "succeeded"


def test_enqueue_validates_type_and_schema(client):
    before = client.list()["total"]
    with pytest.raises(UnknownJobTypeError, match=r"known types: demo\.sleep, file\.hash, folder\.process, shell\.run"):
        client.enqueue("demo.sleeep", {})
    with pytest.raises(InvalidPayloadError, match=r"payload\.seconds"):
        client.enqueue("demo.sleep", {"seconds": "ten"})
    with pytest.raises(InvalidPayloadError) as caught:
        client.enqueue_many([{"type": "demo.sleep"}, {"type": "demo.sleep", "payload": {"seconds": -1}}])
    assert caught.value.details == {"index": 1}
    assert client.list()["total"] == before
    later = client.enqueue("not.loaded.yet", {"x": 1}, allow_unknown=True, delay=3600)
    assert client.get(later)["state"] == "scheduled"
    client.cancel(later)


def test_batch_list_get_and_paging(client):
    ids = client.enqueue_many([{"type": "demo.sleep", "payload": {"seconds": 0}, "queue": "batchq", "priority": p}
                               for p in range(5)])  # fmt: skip
    assert len(ids) == 5
    wait_until(lambda: client.list(queue="batchq", state="succeeded")["total"] == 5, message="batch done")
    page = client.list(queue="batchq", order_by="priority", descending=True, limit=2, offset=1)
    assert [j["priority"] for j in page["jobs"]] == [3, 2] and page["total"] == 5
    with pytest.raises(JobNotFoundError):
        client.get(10**9)


def test_cancel_queued_and_running_then_retry_and_delete(client):
    queued = client.enqueue("demo.sleep", {"seconds": 1}, delay=3600)
    assert client.cancel(queued)["state"] == "cancelled"
    with pytest.raises(InvalidTransitionError):
        client.cancel(queued)
    running = client.enqueue("demo.sleep", {"seconds": 60})
    wait_until(lambda: client.get(running)["state"] == "running", message="job running")
    stream = client.watch(job=running)
    assert client.cancel(running)["cancel_requested"] is True
    events = [e for e in stream if e is not None]
    assert stream.end["job"]["state"] == "cancelled"
    assert any(e["kind"] == "cancel_requested" for e in events)
    retried = client.retry(running)
    assert retried["state"] == "queued" and retried["attempts"] == 0
    client.cancel(running)  # queued, or already running again: either way it ends cancelled
    wait_until(lambda: client.get(running)["state"] == "cancelled", message="cancelled again")
    assert client.delete([queued]) == 1
    with pytest.raises(JobNotFoundError):
        client.get(queued)
    deleted = client.delete_finished(queue="default")
    assert running in deleted


def test_pause_resume_and_concurrency(client):
    assert client.pause("slowq", create=True)["paused"] is True  # a new queue, held before its first job
    held = client.enqueue("demo.sleep", {"seconds": 0}, queue="slowq")
    other = client.enqueue("demo.sleep", {"seconds": 0}, queue="fastq")
    run_to_end(client, other)  # the worker had its chance; the paused queue kept its job
    assert client.get(held)["state"] == "queued"
    assert client.resume("slowq")["paused"] is False
    _, end = run_to_end(client, held)
    assert end["job"]["state"] == "succeeded"
    assert client.set_concurrency("slowq", 1)["concurrency"] == 1
    assert client.set_workers(3) == 3
    stats = client.stats()
    assert stats["concurrency"] == 3 and stats["running_here"] is not None
    assert any(q["name"] == "slowq" and q["concurrency"] == 1 for q in stats["queues"])
    client.set_workers(2)


def test_handlers_report_schemas_and_broken_plugins(client):
    result = client.handlers()
    demo = next(h for h in result["handlers"] if h["type"] == "demo.sleep")
    assert demo["schema"]["properties"]["seconds"]["type"] == "number"
    problems = result["plugins"]["problems"]
    assert any("broken on purpose" in p["message"] for p in problems)


def test_watch_a_queue_streams_only_that_queue_and_log_lines(client):
    stream = client.watch(queue="logq")
    job_id = client.enqueue("shell.run", {"command": "echo first line; echo second line"}, queue="logq")
    client.enqueue("demo.sleep", {"seconds": 0}, queue="elsewhere")
    seen: list[dict] = []
    for event in stream:
        seen.append(event)
        if event["kind"] == "state" and event["state"] == "succeeded":
            break
    stream.close()
    assert {e["queue"] for e in seen if e.get("queue")} == {"logq"}
    assert [e["message"] for e in seen if e["kind"] == "log"] == ["first line", "second line"]
    assert all(e["job_id"] == job_id for e in seen)


def test_raise_window_is_a_no_op_headless(client):
    assert client.raise_window() == {"raised": True}


def test_a_refused_watch_closes_its_connection(client):
    import os

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    client.hello()
    before = open_fds()
    for _ in range(3):
        with pytest.raises(JobNotFoundError) as refused:
            client.watch(job=987654)
    assert "987654" in str(refused.value)  # the traceback (and whatever it holds) is still alive here
    assert open_fds() == before
