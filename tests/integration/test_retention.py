"""Retention end to end, in a real `acacia serve`: --keep-finished prunes a finished job within a
deadline and leaves a failed one; ACACIA_KEEP_FINISHED does the same; bad values exit 2 with one
line; `acacia delete --finished --older-than` deletes by age and state and says how many."""

from __future__ import annotations

import sqlite3
import textwrap
import time

import pytest

from acacia_gui.core.errors import JobNotFoundError
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess

pytestmark = pytest.mark.timeout(120)

PLUGIN = textwrap.dedent('''
    """Test plugin: one job type that succeeds, one that fails, one that writes an output file."""
    from acacia_gui.jobs import handler

    @handler("ret.ok", isolation="thread")
    def ok(ctx, job):
        return "ok"

    @handler("ret.fail", isolation="thread", max_attempts=1)
    def fail(ctx, job):
        raise RuntimeError("no")

    @handler("ret.out", isolation="thread")
    def out(ctx, job):
        (job.output_dir / "result.txt").write_text("x")
        open(job.payload["seen"], "w").write(str(job.output_dir))  # the folder existed
        return "ok"
''')


def sandbox(tmp_path) -> Sandbox:
    box = Sandbox(tmp_path, plugins=False)
    box.plugins_dir.mkdir(mode=0o700)
    (box.plugins_dir / "ret.py").write_text(PLUGIN)
    return box


def gone(client, job_id: int) -> bool:
    try:
        client.get(job_id)
    except JobNotFoundError:
        return True
    return False


def state(client, job_id: int) -> str:
    return client.get(job_id)["state"]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_keep_finished_prunes_finished_jobs_but_not_failed_ones(tmp_path, how):
    box = sandbox(tmp_path)
    extra, env = (("--keep-finished", "2s"), None) if how == "flag" else ((), {"ACACIA_KEEP_FINISHED": "2s"})
    with ServeProcess(box, *extra, env=env) as serve:
        client = box.client()
        ok, bad = client.enqueue("ret.ok"), client.enqueue("ret.fail")
        wait_until(lambda: state(client, ok) == "succeeded" and state(client, bad) == "failed", timeout=20)
        wait_until(lambda: gone(client, ok), timeout=15, message="the finished job was not pruned")
        assert state(client, bad) == "failed"  # --keep-failed defaults to forever
        wait_until(lambda: "retention: pruned 1 finished job(s)" in serve.log(), timeout=5)


def test_keep_failed_prunes_failed_jobs_and_output_folders_go_too(tmp_path):
    box = sandbox(tmp_path)
    with ServeProcess(box, "--keep-finished", "2s", "--keep-failed", "2s") as serve:
        client = box.client()
        seen = tmp_path / "seen"
        out, bad = client.enqueue("ret.out", {"seen": str(seen)}), client.enqueue("ret.fail")
        wait_until(lambda: gone(client, out) and gone(client, bad), timeout=20)
        assert seen.read_text().endswith(f"/outputs/{out}")
        wait_until(lambda: not (box.data_dir / "outputs" / str(out)).exists(), timeout=5,
                   message="the pruned job's output folder is still there")  # fmt: skip
        assert "retention: pruned" in serve.log()


@pytest.mark.parametrize("args", [("--keep-finished", "30x"), ("--keep-finished", "0s"), ("--keep-failed", "never")])
def test_bad_flag_values_exit_2_with_one_line(tmp_path, args):
    box = sandbox(tmp_path)
    result = box.cli("serve", *args, timeout=30)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "duration" in result.stderr


def test_a_bad_environment_value_exits_2(tmp_path):
    box = sandbox(tmp_path)
    result = box.cli("serve", timeout=30, env={**box.env, "ACACIA_KEEP_FINISHED": "soon"})
    assert result.returncode == 2 and "duration" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_delete_older_than_by_hand(tmp_path):
    box = sandbox(tmp_path)
    with ServeProcess(box):
        client = box.client()
        ids = [client.enqueue("ret.ok") for _ in range(3)] + [client.enqueue("ret.fail")]
        wait_until(lambda: [state(client, i) for i in ids] == ["succeeded"] * 3 + ["failed"], timeout=20)
        with sqlite3.connect(box.data_dir / "acacia.db") as db:  # two succeeded and the failed one ended 8 days ago
            db.execute("UPDATE jobs SET finished_at = ? WHERE id IN (?, ?, ?)", (time.time() - 8 * 86400, ids[0], ids[1], ids[3]))
        result = box.cli("delete", "--finished", "--older-than", "7d", "--state", "succeeded")
        assert result.returncode == 0 and result.stdout.strip() == "deleted 2 job(s)", result.stderr
        assert gone(client, ids[0]) and gone(client, ids[1]) and state(client, ids[2]) == "succeeded"
        assert state(client, ids[3]) == "failed"
        result = box.cli("delete", "--finished", "--older-than", "7d")
        assert result.stdout.strip() == "deleted 1 job(s)" and gone(client, ids[3])
        for bad in (("--older-than", "7d"), ("--finished", "--older-than", "week"), ("--finished", "--state", "running")):
            result = box.cli("delete", *bad)
            assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, (bad, result.stderr)
        reply = box.raw().request("delete", {"finished": True, "older_than": "soon"})
        assert reply["error"]["code"] == "invalid_params" and "duration" in reply["error"]["message"]
