"""The `edit` op on a real `acacia serve`, and `acacia edit` through its socket and on the database
with no app: priority, queue, payload (schema-checked), front; a running job is refused."""

from __future__ import annotations

import json

import pytest

from acacia_gui.core.errors import InvalidPayloadError, InvalidTransitionError
from acacia_gui.ipc.protocol import InvalidParamsError
from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess


@pytest.fixture
def box(tmp_path):
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.cleanup()


def enqueue(box, *args) -> int:
    result = box.cli("enqueue", *args)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def read(box, job_id):
    store = SqliteJobStore(box.data_dir / "acacia.db")
    try:
        return store.get_job(job_id), store.get_events(job_id)
    finally:
        store.close()


def test_the_edit_op_over_the_socket(box):
    with ServeProcess(box, "--workers", "1"), box.client() as client:
        client.pause("held", create=True)
        waiting = client.enqueue("demo.sleep", {"seconds": 0}, queue="held")
        other = client.enqueue("demo.sleep", {"seconds": 0}, queue="held", priority=40)

        job = client.edit(waiting, priority=5, payload={"seconds": 1})
        assert (job["priority"], job["payload"], job["state"]) == (5, {"seconds": 1}, "queued")
        assert client.edit(waiting, front=True)["priority"] == 41
        history = client.get(waiting, events=True)["events"]
        assert history[-1]["source"] == "socket" and history[-1]["message"].startswith("edited: priority 5 → 41")

        with pytest.raises(InvalidPayloadError):
            client.edit(waiting, payload={"seconds": -1})
        with pytest.raises(InvalidParamsError):
            client.call("edit", {"id": waiting})  # nothing to change
        with pytest.raises(InvalidParamsError):
            client.call("edit", {"id": waiting, "priorty": 3})  # a typo is refused

        # moved to a running queue: the scheduler wakes and runs it
        assert client.edit(waiting, queue="default")["queue"] == "default"
        wait_until(lambda: client.get(waiting)["state"] == "succeeded", timeout=20)
        assert client.get(other)["state"] == "queued"

        running = client.enqueue("demo.sleep", {"seconds": 60})
        wait_until(lambda: client.get(running)["state"] == "running", timeout=20)
        with pytest.raises(InvalidTransitionError, match="only queued or scheduled"):
            client.edit(running, priority=3)
        client.cancel(running)


def test_acacia_edit_through_the_app(box):
    with ServeProcess(box, "--workers", "1"):
        assert box.cli("pause", "held", "--create").returncode == 0
        job_id = enqueue(box, "demo.sleep", "--payload", '{"seconds": 0}', "--queue", "held")
        result = box.cli("edit", str(job_id), "--priority", "9", "--queue", "held2", "--json")
        assert result.returncode == 0, result.stderr
        job = json.loads(result.stdout)
        assert (job["priority"], job["queue"]) == (9, "held2")
        assert result.stderr == ""  # through the app: no "no app is running" notice
        wait_until(lambda: read(box, job_id)[0].state.value == "succeeded", timeout=20)  # held2 is not paused

        finished = box.cli("edit", str(job_id), "--priority", "1")
        assert finished.returncode == 1 and len(finished.stderr.strip().splitlines()) == 1
        assert "only queued or scheduled" in finished.stderr


def test_acacia_edit_without_the_app(box):
    job_id = enqueue(box, "demo.sleep", "--payload", '{"seconds": 0}', "--delay", "3600")
    result = box.cli("edit", str(job_id), "--payload", '{"seconds": 2}', "--front")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"job {job_id}: scheduled, queue default, priority 0"
    assert "no app is running" in result.stderr
    job, events = read(box, job_id)
    assert job.payload == {"seconds": 2} and events[-1]["source"] == "cli"
    assert events[-1]["message"] == "edited: payload edited, moved to the front"

    for bad in (["--payload", '{"seconds": -1}'],  # the handler's schema, with no app too
                ["--payload", "{not json"], ["--queue", "has space"], ["--priority", "x"], []):
        result = box.cli("edit", str(job_id), *bad)
        assert result.returncode == 2, (bad, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert box.cli("edit", "999", "--priority", "1").returncode == 2  # no such job
    assert read(box, job_id)[0].payload == {"seconds": 2}
