"""Handler logs go to their job's log, not to the app's stderr (issue 10): a real `acacia serve`
with a chatty plugin, its output read from its log file."""

from __future__ import annotations

import os
import textwrap

import pytest

from ..conftest import wait_until
from .serve_process import Sandbox, ServeProcess

pytestmark = pytest.mark.timeout(120)

PLUGIN = textwrap.dedent('''
    import logging
    from acacia_gui.jobs import handler

    @handler("chatty.thread", isolation="thread")
    def chatty_thread(ctx, job):
        for i in range(200):
            logging.getLogger("somelib").warning("SECRET-THREAD-%d", i)
            logging.getLogger("acacia_plugins.chatty").warning("SECRET-PLUGIN-%d", i)
        return "ok"

    @handler("chatty.process")
    def chatty_process(ctx, job):
        for i in range(200):
            logging.getLogger("somelib").warning("SECRET-PROCESS-%d", i)
        return "ok"
''')


def run_chatty(tmp_path, env=None) -> tuple[str, dict[str, list[str]]]:
    box = Sandbox(tmp_path, plugins=False)
    box.plugins_dir.mkdir(mode=0o700)
    plugin = box.plugins_dir / "chatty.py"
    plugin.write_text(PLUGIN)
    os.chmod(plugin, 0o600)
    serve = ServeProcess(box, "--workers", "2", env=env).start()
    logs = {}
    try:
        with box.client() as client:
            for job_type in ("chatty.thread", "chatty.process"):
                job_id = client.enqueue(job_type, {})
                wait_until(lambda job_id=job_id: client.get(job_id)["state"] == "succeeded", timeout=60,
                           message=f"{job_type} done")  # fmt: skip
                logs[job_type] = [line["message"] for line in client.get(job_id, logs=1000)["logs"]]
    finally:
        assert serve.stop() == 0
        box.cleanup()
    return serve.log(), logs


def test_handler_logs_reach_the_job_log_but_not_the_apps_stderr(tmp_path):
    output, logs = run_chatty(tmp_path)
    assert "SECRET-THREAD-199" in logs["chatty.thread"] and "SECRET-PLUGIN-199" in logs["chatty.thread"]
    assert "SECRET-PROCESS-199" in logs["chatty.process"]
    assert "SECRET-" not in output, output[-2000:]


def test_acacia_echo_job_logs_asks_for_them_on_stderr(tmp_path):
    output, _ = run_chatty(tmp_path, env={"ACACIA_ECHO_JOB_LOGS": "1"})
    assert "SECRET-THREAD-199" in output
