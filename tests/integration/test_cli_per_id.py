"""`acacia retry|cancel|delete ID…` act on each id that allows it and report each one that does
not (one line, saying why; exit 1), through a running app's socket and on the database with
no app. `pause`, `resume` and `concurrency` refuse an unknown queue (a typo) unless --create."""

from __future__ import annotations

import json

import pytest

from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess


@pytest.fixture
def box(tmp_path):
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.cleanup()


def run(box, *args):
    return box.cli(*args)


def enqueue(box, *args) -> int:
    result = box.cli("enqueue", *args)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def state(box, job_id) -> str | None:
    store = SqliteJobStore(box.data_dir / "acacia.db")
    try:
        job = store.get_job(job_id)
        return job.state.value if job is not None else None
    finally:
        store.close()


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_retry_cancel_delete_act_on_each_id_through_the_socket(box):
    with ServeProcess(box, "--workers", "2"):
        failed = enqueue(box, "demo.sleep", "--payload", '{"seconds": 0, "fail": true}', "--max-attempts", "1",
                         "--queue", "held")  # fmt: skip
        running = enqueue(box, "demo.sleep", "--payload", '{"seconds": 60}')
        wait_until(lambda: state(box, failed) == "failed" and state(box, running) == "running", timeout=20)
        assert run(box, "pause", "held").returncode == 0  # so the retried job stays queued

        result = run(box, "retry", str(failed), str(running))  # the case: 2 failed, 3 running
        assert result.returncode == 1, result.stderr
        assert lines(result.stdout) == [f"job {failed}: queued again"]
        (why,) = lines(result.stderr)
        assert why.startswith("acacia retry: ") and f"job {running} is running" in why
        assert state(box, failed) == "queued"  # acted on, although the other could not be

        assert run(box, "cancel", str(failed)).returncode == 0
        as_json = run(box, "retry", str(running), str(failed), "--json")
        assert as_json.returncode == 1
        per_id = json.loads(as_json.stdout)
        assert [item["id"] for item in per_id] == [running, failed]
        assert per_id[0]["error"]["code"] == "invalid_state" and per_id[1]["state"] == "queued"

        result = run(box, "cancel", str(running), "987654")
        assert result.returncode == 1
        assert lines(result.stdout) == [f"job {running}: cancel requested; it stops shortly"]
        assert lines(result.stderr) == ["acacia cancel: no job with id 987654"]
        wait_until(lambda: state(box, running) == "cancelled", timeout=20)

        busy = enqueue(box, "demo.sleep", "--payload", '{"seconds": 60}')
        wait_until(lambda: state(box, busy) == "running", timeout=20)
        result = run(box, "delete", str(running), str(busy))
        assert result.returncode == 1
        assert lines(result.stdout) == ["deleted 1 job(s)"]
        (why,) = lines(result.stderr)
        assert why.startswith("acacia delete: ") and f"job {busy} is running" in why
        assert state(box, running) is None and state(box, busy) == "running"

        missing = run(box, "retry", "987654", "987655")  # nothing could be done, all bad input: 2
        assert missing.returncode == 2 and len(lines(missing.stderr)) == 2


def test_retry_cancel_delete_act_on_each_id_on_the_database(box):
    cancelled = enqueue(box, "demo.sleep")
    queued = enqueue(box, "demo.sleep")
    assert run(box, "cancel", str(cancelled)).returncode == 0

    result = run(box, "retry", str(cancelled), str(queued))
    assert result.returncode == 1, result.stderr
    assert lines(result.stdout) == [f"job {cancelled}: queued again"]
    errors = [line for line in lines(result.stderr) if not line.startswith("acacia: no app is running")]
    assert len(errors) == 1 and f"job {queued} is queued" in errors[0] and "can be retried" in errors[0]
    assert "no app is running" in result.stderr  # and something was changed on the database
    assert state(box, cancelled) == "queued"

    result = run(box, "cancel", "999", str(queued))
    assert result.returncode == 1
    assert lines(result.stdout) == [f"job {queued}: cancelled"]
    assert "acacia cancel: no job with id 999" in lines(result.stderr)
    assert state(box, queued) == "cancelled"

    result = run(box, "delete", str(queued), "999", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"deleted": 1, "ids": [queued],
                                         "errors": [{"id": 999, "error": {"code": "not_found",
                                                                          "message": "no job with id 999"}}]}  # fmt: skip
    assert state(box, queued) is None and state(box, cancelled) == "queued"


@pytest.mark.parametrize("with_app", [True, False], ids=["socket", "database"])
def test_unknown_queue_is_refused_unless_create(box, with_app):
    enqueue(box, "demo.sleep", "--queue", "render", "--delay", "3600")
    serve = ServeProcess(box).start() if with_app else None
    try:
        for args in (["pause", "rendr"], ["resume", "rendr"], ["concurrency", "rendr", "2"]):
            result = run(box, *args)
            assert result.returncode == 2, (args, result.stderr)
            assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
            assert f"acacia {args[0]}: no queue named 'rendr'" in result.stderr
            assert "known queues: default, render" in result.stderr and "--create" in result.stderr
        stats = json.loads(run(box, "stats", "--json").stdout)
        assert [q["name"] for q in stats["queues"]] == ["default", "render"]  # nothing created
        assert run(box, "pause", "render").returncode == 0  # a known queue
        created = run(box, "pause", "nightly", "--create", "--json")
        assert created.returncode == 0 and json.loads(created.stdout)["paused"] is True
        assert run(box, "concurrency", "gpu", "1", "--create").returncode == 0
        assert run(box, "resume", "nightly").returncode == 0
        stats = json.loads(run(box, "stats", "--json").stdout)
        assert [q["name"] for q in stats["queues"]] == ["default", "gpu", "nightly", "render"]
    finally:
        if serve is not None:
            serve.stop()
