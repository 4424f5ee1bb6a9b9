"""Checkpoints end to end, in a real `acacia serve`: job.save_checkpoint in both isolation modes,
and a later attempt resuming from the last one after a failure (retry), a SIGKILL of the app
(recovery at the restart) and a hard cancel followed by a manual retry. Each handler appends
the items it processes to a file, so the test counts what was done twice.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess, served_app

pytestmark = pytest.mark.timeout(150)

PLUGIN = textwrap.dedent('''
    """Test plugin: process `items` items, a checkpoint every `every`, recording each item done."""
    import os, time
    from acacia_gui.jobs import handler

    def items(ctx, job):
        p = job.payload
        start = (job.checkpoint or {}).get("next", 0)
        with open(p["record"], "a") as record:
            record.write(f"start {start} attempt {job.attempts}\\n")
            record.flush()
            for item in range(start, p["items"]):
                if item == p.get("hold_at"):  # wait here (the test kills, cancels or releases)
                    deadline = time.monotonic() + 60
                    while not os.path.exists(p["release"]):
                        if time.monotonic() > deadline:
                            raise RuntimeError("never released")
                        ctx.wait(0.01)
                if item == p.get("fail_at") and job.attempts == 1:
                    raise RuntimeError(f"failing at item {item} on the first attempt")
                record.write(f"{item}\\n")
                record.flush()
                if (item + 1) % p["every"] == 0:
                    job.save_checkpoint({"next": item + 1})
        return {"resumed_from": start}

    @handler("ck.process", retry_backoff=0)
    def in_process(ctx, job):
        return items(ctx, job)

    @handler("ck.thread", isolation="thread", retry_backoff=0)
    def in_thread(ctx, job):
        return items(ctx, job)
''')


def add_plugin(box: Sandbox) -> None:
    (box.plugins_dir / "checkpoints_test.py").write_text(PLUGIN, encoding="utf-8")
    os.chmod(box.plugins_dir / "checkpoints_test.py", 0o600)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with served_app(tmp_path_factory, "checkpoints", add_plugin) as (box, _serve):
        yield box


def done_items(record: Path) -> list[int]:
    if not record.exists():
        return []
    return [int(line) for line in record.read_text().splitlines() if line and not line.startswith("start")]


def starts(record: Path) -> list[str]:
    return [line for line in record.read_text().splitlines() if line.startswith("start")]


def wait_final(client, job_id: int) -> dict:
    wait_until(lambda: client.get(job_id)["state"] in ("succeeded", "failed", "cancelled", "interrupted"), timeout=60)
    return client.get(job_id)


@pytest.mark.parametrize("job_type", ["ck.process", "ck.thread"])
def test_a_retry_after_a_failure_resumes_from_the_last_checkpoint(app, job_type, tmp_path):
    record = tmp_path / "record.txt"
    with app.client() as client:
        job_id = client.enqueue(job_type, {"items": 50, "every": 10, "fail_at": 35, "record": str(record)},
                                max_attempts=2)  # fmt: skip
        job = wait_final(client, job_id)
    assert job["state"] == "succeeded", job
    assert job["attempts"] == 2 and job["result"] == {"resumed_from": 30}
    assert starts(record) == ["start 0 attempt 1", "start 30 attempt 2"]
    assert done_items(record) == list(range(35)) + list(range(30, 50))  # 30..34 done twice, nothing else
    assert job["checkpoint"]["data"] == {"next": 50} and job["checkpoint"]["attempt"] == 2
    shown = app.cli("show", str(job_id))
    assert shown.returncode == 0 and 'checkpoint {"next": 50}' in shown.stdout, shown.stdout


def test_a_hard_cancel_then_a_manual_retry_resumes_from_the_last_checkpoint(app, tmp_path):
    record, release = tmp_path / "record.txt", tmp_path / "release"
    payload = {"items": 40, "every": 10, "hold_at": 25, "record": str(record), "release": str(release)}
    with app.client() as client:
        job_id = client.enqueue("ck.process", payload)
        wait_until(lambda: len(done_items(record)) == 25, timeout=30, message="the handler reached item 25")
        checkpoint = client.get(job_id)["checkpoint"]
        assert checkpoint["data"] == {"next": 20}  # committed before save_checkpoint returned
        client.kill(job_id)
        assert wait_final(client, job_id)["state"] == "cancelled"
        release.touch()
        client.retry(job_id)
        job = wait_final(client, job_id)
    assert job["state"] == "succeeded" and job["result"] == {"resumed_from": 20}, job
    assert done_items(record) == list(range(25)) + list(range(20, 40))


def test_after_a_sigkill_of_the_app_the_job_resumes_from_its_last_checkpoint(tmp_path):
    """The issue's case: 100 items, a checkpoint every 10, the app SIGKILLed at item 55;
    after the restart at most 110 items are processed in all, and the job succeeds."""
    box = Sandbox(tmp_path)
    add_plugin(box)
    record, release = tmp_path / "record.txt", tmp_path / "release"
    payload = {"items": 100, "every": 10, "hold_at": 55, "record": str(record), "release": str(release)}
    serve = ServeProcess(box, "--workers", "1").start()
    try:
        with box.client() as client:
            job_id = client.enqueue("ck.process", payload)
            wait_until(lambda: len(done_items(record)) == 55, timeout=30, message="the handler reached item 55")
        serve.proc.send_signal(signal.SIGKILL)
        serve.proc.wait(20)
        serve.stop()
        release.touch()
        serve = ServeProcess(box, "--workers", "1").start()
        with box.client() as client:
            job = wait_final(client, job_id)
        assert job["state"] == "succeeded", (job, serve.log())
    finally:
        serve.stop()
        box.cleanup()
    done = done_items(record)
    assert len(done) <= 110 and sorted(set(done)) == list(range(100)), done
    assert done == list(range(55)) + list(range(50, 100))  # resumed from the checkpoint at 50
    assert job["result"] == {"resumed_from": 50} and job["interruptions"] == 1
    assert json.loads(json.dumps(job["checkpoint"]["data"])) == {"next": 100}
