"""Rate limits and caps per type, end to end in a real `acacia serve --workers 2`: a handler's
rate_limit ("3/2s": the 4th start ≥ 2 s after the 1st, read from the jobs' started_at), its
max_running (1 across two queues never overlaps, from the times the handler records), a
queue's rate (`acacia concurrency Q --rate`), and `acacia why` saying which one holds a job.
"""

from __future__ import annotations

import json
import os
import textwrap
from itertools import pairwise

import pytest

from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, served_app

pytestmark = pytest.mark.timeout(120)

PLUGIN = textwrap.dedent('''
    """Test plugin: rate-limited and capped handlers."""
    import time
    from acacia_gui.jobs import handler

    @handler("rl.rated", isolation="thread", rate_limit="3/2s")
    def rated(ctx, job):
        return None

    @handler("rl.hourly", isolation="thread", rate_limit="1/h")
    def hourly(ctx, job):
        return None

    @handler("rl.capped", max_running=1)
    def capped(ctx, job):
        start = time.time()
        ctx.wait(0.2)
        with open(job.payload["record"], "a") as record:
            record.write(f"{start} {time.time()}\\n")

    @handler("rl.plain", isolation="thread")
    def plain(ctx, job):
        return None
''')


def add_plugin(box: Sandbox) -> None:
    (box.plugins_dir / "rate_limits_test.py").write_text(PLUGIN, encoding="utf-8")
    os.chmod(box.plugins_dir / "rate_limits_test.py", 0o600)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with served_app(tmp_path_factory, "rate-limits", add_plugin) as (box, _serve):
        yield box


def succeeded(client, ids: list[int]) -> bool:
    return all(client.get(job_id)["state"] == "succeeded" for job_id in ids)


def test_the_fourth_start_of_a_3_per_2s_type_comes_2_s_after_the_first(app):
    client = app.client()
    ids = [client.enqueue("rl.rated", {"i": i}) for i in range(6)]
    wait_until(lambda: succeeded(client, ids), timeout=30)
    starts = sorted(client.get(job_id)["started_at"] for job_id in ids)
    assert starts[3] - starts[0] >= 2.0, starts
    assert starts[5] - starts[2] >= 2.0, starts
    # the worker woke when the window freed a start (no poll picks it up otherwise), not much later
    assert starts[3] - starts[0] < 4.0, starts


def test_max_running_1_across_two_queues_never_overlaps(app, tmp_path):
    client = app.client()
    record = tmp_path / "record.txt"
    ids = [client.enqueue("rl.capped", {"record": str(record)}, queue=queue) for queue in ("qa", "qb") * 3]
    wait_until(lambda: succeeded(client, ids), timeout=60)
    runs = sorted(tuple(map(float, line.split())) for line in record.read_text().splitlines())
    assert len(runs) == 6
    for (_, end), (start, _) in pairwise(runs):
        assert start >= end, runs
    jobs = sorted((client.get(job_id) for job_id in ids), key=lambda job: job["started_at"])
    for before, after in pairwise(jobs):
        assert after["started_at"] >= before["finished_at"], (before, after)
    assert {job["queue"] for job in jobs} == {"qa", "qb"}


def test_why_says_the_type_rate_is_reached(app):
    client = app.client()
    first, second = client.enqueue("rl.hourly"), client.enqueue("rl.hourly")
    wait_until(lambda: client.get(first)["state"] == "succeeded", timeout=30)
    out = app.cli("why", str(second))
    assert out.returncode == 0, out.stderr
    assert "rate limit 1/h reached; next start in 60 min" in out.stdout
    assert client.get(second)["state"] == "queued"
    handlers = {h["type"]: h for h in client.call("handlers")["handlers"]}
    assert (handlers["rl.hourly"]["rate_limit"], handlers["rl.capped"]["max_running"]) == ("1/h", 1)


def test_a_queue_rate_round_trip_and_its_effect(app):
    set_rate = app.cli("concurrency", "metered", "--rate", "2/h", "--create")
    assert set_rate.returncode == 0, set_rate.stderr
    assert "rate 2/h" in set_rate.stdout
    stats = json.loads(app.cli("stats", "--json").stdout)
    assert {q["name"]: q["rate"] for q in stats["queues"]}["metered"] == "2/h"
    client = app.client()
    ids = [client.enqueue("rl.plain", queue="metered") for _ in range(3)]
    wait_until(lambda: succeeded(client, ids[:2]), timeout=30)
    assert client.get(ids[2])["state"] == "queued"
    why = app.cli("why", str(ids[2]))
    assert "queue `metered` rate 2/h reached; next start in" in why.stdout, why.stdout
    cleared = app.cli("concurrency", "metered", "--rate", "none")
    assert cleared.returncode == 0 and "rate" not in cleared.stdout, cleared.stdout
    wait_until(lambda: succeeded(client, ids), timeout=30)  # the change wakes the worker


@pytest.mark.parametrize("bad", ["3/x", "0/min", "ten/h", "3/2"])
def test_bad_rates_exit_2_with_one_line(app, bad):
    out = app.cli("concurrency", "metered", "--rate", bad)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "rate" in out.stderr


def test_the_socket_refuses_a_bad_rate(app):
    conn = app.raw()
    try:
        reply = conn.request("set_concurrency", {"queue": "metered", "rate": "fast"})
    finally:
        conn.close()
    assert reply["error"]["code"] == "invalid_params" and "bad rate" in reply["error"]["message"]
