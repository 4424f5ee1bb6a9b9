"""Stalled jobs end to end, in a real `acacia serve`: a handler with stall_after=1 that goes silent
is flagged (within 2 s of its last sign of life), resumes when it logs again, is cleared by
`extend`, listed by `list --stalled`, and `kill` stops a process handler that ignores its
cancel at once (a thread handler cannot be killed: refused).
"""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest

from acacia_gui.core.errors import InvalidTransitionError
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, served_app

pytestmark = pytest.mark.timeout(120)

PLUGIN = textwrap.dedent('''
    """Test plugin: report once, then go silent until a file appears; log; silent again until another."""
    import logging, os, time
    from acacia_gui.jobs import handler

    log = logging.getLogger("stall_test")

    def until(path, ctx, obey):
        deadline = time.monotonic() + 60
        while not os.path.exists(path) and time.monotonic() < deadline:
            if obey:
                ctx.wait(0.02)
                ctx.check()  # raises once cancelled
            else:
                time.sleep(0.02)  # deaf to cancellation: only a kill stops it

    def quiet(ctx, job, obey=True):
        p = job.payload
        job.report_progress(0.1, "working")
        with open(p["mark"], "w") as f:
            f.write(repr(time.time()))
        until(p["wake"], ctx, obey)
        log.info("awake again")
        until(p["done"], ctx, obey)
        return "ok"

    @handler("stall.process", stall_after=1)
    def in_process(ctx, job):
        return quiet(ctx, job)

    @handler("stall.thread", stall_after=1, isolation="thread")
    def in_thread(ctx, job):
        return quiet(ctx, job)

    @handler("stall.deaf", stall_after=1, cancel_grace=60)
    def deaf(ctx, job):
        return quiet(ctx, job, obey=False)
''')


def add_plugin(box: Sandbox) -> None:
    (box.plugins_dir / "stall_test.py").write_text(PLUGIN, encoding="utf-8")
    os.chmod(box.plugins_dir / "stall_test.py", 0o600)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with served_app(tmp_path_factory, "stalls", add_plugin) as (box, serve):
        yield box, serve


def files(box: Sandbox, name: str) -> dict[str, str]:
    folder = box.data_dir.parent / name
    folder.mkdir()
    return {key: str(folder / key) for key in ("mark", "wake", "done")}


def stall_events(client, job_id: int) -> list[dict]:
    return [e for e in client.get(job_id, events=True)["events"] if e["old_state"] == e["new_state"] == "running"]


@pytest.mark.parametrize("job_type", ["stall.process", "stall.thread"])
def test_a_silent_job_is_flagged_then_resumes_when_it_logs(app, job_type):
    box, _ = app
    paths = files(box, job_type)
    with box.client() as client:
        job_id = client.enqueue(job_type, paths)
        stalled = wait_until(lambda: client.get(job_id)["stalled"], timeout=15, message="never flagged stalled")
        last_activity = float(open(paths["mark"]).read())
        flagged = stall_events(client, job_id)
        assert [e["message"] for e in flagged] == ["stalled: no progress or log line for 1 s"]
        assert flagged[0]["source"] == "worker"
        # `since` is the last sign of life (its progress report), and the flag came within 2 s of it
        assert abs(stalled["since"] - last_activity) < 0.5
        assert 1.0 <= flagged[0]["at"] - stalled["since"] <= 2.0, (flagged[0]["at"], stalled)
        print(f"{job_type}: flagged {flagged[0]['at'] - stalled['since']:.3f} s after its last sign of life")
        assert stalled["for"] >= 1.0
        assert client.get(job_id)["state"] == "running"  # flagged, not killed
        listed = client.list(stalled=True)
        assert [job["id"] for job in listed["jobs"]] == [job_id] and listed["total"] == 1

        open(paths["wake"], "w").close()  # it logs a line
        wait_until(lambda: client.get(job_id)["stalled"] is None, timeout=10, message="never resumed")
        assert [e["message"] for e in stall_events(client, job_id)][1] == "resumed"
        assert client.list(stalled=True)["jobs"] == []

        wait_until(lambda: client.get(job_id)["stalled"], timeout=15, message="not flagged again")  # silent again
        open(paths["done"], "w").close()
        wait_until(lambda: client.get(job_id)["state"] == "succeeded", timeout=15)
        assert client.get(job_id)["stalled"] is None
        assert client.list(stalled=True)["total"] == 0


def test_extend_clears_the_flag_and_postpones_the_next_one(app):
    box, _ = app
    paths = files(box, "extend")
    with box.client() as client:
        job_id = client.enqueue("stall.process", paths)
        wait_until(lambda: client.get(job_id)["stalled"], timeout=15)
        extended_at = time.time()
        reply = client.extend(job_id)
        assert reply["extended_by"] == 1.0 and reply["stalled"] is None
        assert client.get(job_id)["stalled"] is None
        assert stall_events(client, job_id)[-1]["message"] == "stall extended by 1 s"
        again = wait_until(lambda: client.get(job_id)["stalled"], timeout=15)
        # flagged again only after another stall_after past the extension's end
        assert stall_events(client, job_id)[-1]["at"] - extended_at >= 2.0
        assert again["since"] >= extended_at
        cli = box.cli("list", "--stalled", "--json")
        assert cli.returncode == 0, cli.stderr
        assert [job["id"] for job in json.loads(cli.stdout)["jobs"]] == [job_id]
        shown = box.cli("show", str(job_id))
        assert "stalled" in shown.stdout and "acacia kill/extend/cancel" in shown.stdout
        assert box.cli("extend", str(job_id)).returncode == 0
        open(paths["wake"], "w").close()
        open(paths["done"], "w").close()
        wait_until(lambda: client.get(job_id)["state"] == "succeeded", timeout=15)
        with pytest.raises(InvalidTransitionError) as refused:
            client.extend(job_id)
        assert refused.value.code == "invalid_state"


def test_kill_stops_a_deaf_process_handler_at_once(app):
    box, _ = app
    paths = files(box, "kill")
    with box.client() as client:
        job_id = client.enqueue("stall.deaf", paths)
        wait_until(lambda: client.get(job_id)["stalled"], timeout=15)
        started = time.monotonic()
        cli = box.cli("kill", str(job_id))
        assert cli.returncode == 0, cli.stderr
        assert "killed" in cli.stdout
        wait_until(lambda: client.get(job_id)["state"] == "cancelled", timeout=15)
        took = time.monotonic() - started
        assert took < 10, took  # its cancel_grace is 60 s: only a kill ends it this soon
        job = client.get(job_id)
        assert "killed" in job["error"] and job["stalled"] is None


def test_a_thread_handler_cannot_be_killed(app):
    box, _ = app
    paths = files(box, "thread-kill")
    with box.client() as client:
        job_id = client.enqueue("stall.thread", paths)
        wait_until(lambda: client.get(job_id)["state"] == "running", timeout=15)
        with pytest.raises(InvalidTransitionError) as refused:
            client.kill(job_id)
        assert refused.value.code == "invalid_state" and "thread" in str(refused.value)
        cli = box.cli("kill", str(job_id))
        assert cli.returncode != 0 and "cannot be killed" in cli.stderr
        client.cancel(job_id)
        wait_until(lambda: client.get(job_id)["state"] == "cancelled", timeout=15)
