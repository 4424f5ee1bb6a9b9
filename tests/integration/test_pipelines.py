"""Pipelines with real processes (issue 12): a real `acacia serve`, the real CLI and socket.

Jobs run after their dependencies (chains, a diamond), failure propagates under `success`
and not under `finished`, `retry --with-dependents` revives a chain, a batch resolves refs
or is refused whole, a SIGKILL mid-pipeline loses nothing and runs nothing early, unique
keys hold under 20 concurrent processes, and `acacia why` names every reason.

The order is checked from what the handlers record (one O_APPEND line per start and end,
so the file's line order is the order things happened), never from timing luck.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until

from .serve_process import Sandbox, ServeProcess, all_gone, descendants, served_app
from .test_foreign_clients import pipe_through_socat

pytestmark = pytest.mark.timeout(240)

STEP = textwrap.dedent('''
    """Test plugin: pipeline steps that record each start and end (one O_APPEND write per line)."""
    import os, time
    from acacia_gui.jobs import handler

    RECORD = RECORD_PATH

    def _write(kind, job):
        fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{kind} {job.id} {job.attempts} {time.time():.6f}\\n".encode())
        finally:
            os.close(fd)

    def _until(ctx, ready):
        while not ready():
            if ctx.wait(0.02):
                ctx.check()

    @handler("pipe.step", max_attempts=1)
    def step(ctx, job):
        p = job.payload or {}
        _write("start", job)
        if p.get("progress") is not None:
            job.report_progress(p["progress"])
        if p.get("hold"):  # until cancelled
            _until(ctx, lambda: False)
        if p.get("gate"):  # until the test creates this file
            _until(ctx, lambda: os.path.exists(p["gate"]))
        if p.get("seconds"):
            ctx.wait(p["seconds"])
            ctx.check()
        if p.get("fail") or (p.get("fail_unless") and not os.path.exists(p["fail_unless"])):
            _write("fail", job)
            raise RuntimeError("step failed on purpose")
        _write("end", job)
        return job.id
''')


def add_step_plugin(box: Sandbox) -> None:
    box.record = box.data_dir.parent / "record.txt"
    plugin = box.plugins_dir / "pipe_step.py"
    plugin.write_text(STEP.replace("RECORD_PATH", repr(str(box.record))))
    os.chmod(plugin, 0o600)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory, "pipelines", prepare=add_step_plugin) as app:
        box, _ = app
        box.store = SqliteJobStore(box.data_dir / "acacia.db")
        try:
            yield app
        finally:
            box.store.close()


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(tmp_path)
    add_step_plugin(box)
    yield box
    box.cleanup()


# -- helpers ---------------------------------------------------------------------------------


def enqueue(box: Sandbox, *args: str) -> int:
    proc = box.cli("enqueue", *args)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[0])


def step(box: Sandbox, *args: str, **payload) -> int:
    return enqueue(box, "pipe.step", "--payload", json.dumps(payload), *args)


def records(box: Sandbox) -> list[tuple[int, str, int, int, float]]:
    """(line number, kind, job id, attempt, time) for every line the handlers wrote."""
    if not box.record.exists():
        return []
    lines = box.record.read_text().splitlines()
    fields = enumerate(line.split() for line in lines)
    return [(n, kind, int(job), int(attempt), float(t)) for n, (kind, job, attempt, t) in fields]


def wait_states(store: SqliteJobStore, ids, *states: str, timeout: float = 60) -> None:
    wait_until(lambda: all(store.get_job(i).state in states for i in ids), timeout=timeout,
               message=f"jobs {list(ids)} to reach {states}")  # fmt: skip


def assert_ran_after(recorded, deps: dict[int, list[int]]) -> None:
    """Every start of every job comes after an end of each of its dependencies: by the file's
    line order (the order of the writes) and by the clock."""
    for job, upstream in deps.items():
        starts = [r for r in recorded if r[1] == "start" and r[2] == job]
        assert starts, f"job {job} never started"
        for dep in upstream:
            ends = [r for r in recorded if r[1] in ("end", "fail") and r[2] == dep]
            assert ends, f"dependency {dep} of job {job} never finished"
            for start in starts:
                assert any(end[0] < start[0] and end[4] <= start[4] for end in ends), (
                    f"job {job} started (line {start[0]}) before its dependency {dep} finished: {recorded}")


def history(store: SqliteJobStore, job_id: int) -> str:
    return json.dumps(store.get_events(job_id))


def why(box: Sandbox, job_id: int) -> str:
    proc = box.cli("why", str(job_id))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# -- 1. order of starts ----------------------------------------------------------------------


def test_a_chain_runs_in_order(served, tmp_path):
    box, _ = served
    gate = tmp_path / "gate"
    a = step(box, gate=str(gate), seconds=0.2)
    b = step(box, "--after", str(a), seconds=0.2)
    c = step(box, "--after", str(b), seconds=0.2)
    assert [box.store.get_job(i).state for i in (b, c)] == ["waiting", "waiting"]  # a cannot end before the gate
    gate.touch()
    wait_states(box.store, [a, b, c], "succeeded")
    assert_ran_after(records(box), {b: [a], c: [b]})


def test_a_diamond_runs_each_job_after_all_of_its_dependencies(served, tmp_path):
    box, _ = served
    gate = tmp_path / "gate"
    a = step(box, gate=str(gate), seconds=0.3)
    b = step(box, "--after", str(a), seconds=0.1)
    c = step(box, "--after", str(a), seconds=0.4)
    d = step(box, "--after", f"{b},{c}", seconds=0.1)
    assert [box.store.get_job(i).state for i in (b, c, d)] == ["waiting"] * 3
    gate.touch()
    wait_states(box.store, [a, b, c, d], "succeeded")
    assert_ran_after(records(box), {b: [a], c: [a], d: [b, c]})


# -- 2. propagation under both policies ------------------------------------------------------


def test_a_failure_cancels_success_dependents_transitively_and_finished_dependents_run(served, tmp_path):
    box, _ = served
    gate = tmp_path / "gate"
    failing = step(box, gate=str(gate), fail=True)
    on_success = step(box, "--after", str(failing))
    transitive = step(box, "--after", str(on_success))
    on_finished = step(box, "--after", str(failing), "--after-policy", "finished")
    assert [box.store.get_job(i).state for i in (on_success, transitive, on_finished)] == ["waiting"] * 3
    gate.touch()
    wait_states(box.store, [failing, on_success, transitive, on_finished], "failed", "cancelled", "succeeded")
    assert box.store.get_job(failing).state == "failed"
    for job_id in (on_success, transitive):
        job = box.store.get_job(job_id)
        assert job.state == "cancelled", history(box.store, job_id)
        assert '"running"' not in history(box.store, job_id)
        assert job.attempts == 0 and job.started_at is None
    assert f"dependency {failing} failed" in box.store.get_job(on_success).error
    assert "dependency" in box.store.get_job(transitive).error
    assert box.store.get_job(on_finished).state == "succeeded"
    recorded = records(box)
    assert not [r for r in recorded if r[2] in (on_success, transitive)], "a cancelled dependent ran"
    assert_ran_after(recorded, {on_finished: [failing]})
    shown = json.loads(box.cli("show", str(on_success), "--json").stdout)
    assert shown["state"] == "cancelled" and f"dependency {failing} failed" in shown["why"]


# -- 3. retry --with-dependents --------------------------------------------------------------


def test_retry_with_dependents_revives_the_chain_which_then_completes(served, tmp_path):
    box, _ = served
    fixed, gate = tmp_path / "fixed", tmp_path / "gate"
    failing = step(box, gate=str(gate), fail_unless=str(fixed))
    b = step(box, "--after", str(failing))
    c = step(box, "--after", str(b))
    gate.touch()
    wait_states(box.store, [failing], "failed")
    wait_states(box.store, [b, c], "cancelled")
    fixed.touch()
    proc = box.cli("retry", str(failing), "--with-dependents")
    assert proc.returncode == 0, proc.stderr
    wait_states(box.store, [failing, b, c], "succeeded")
    recorded = records(box)
    assert_ran_after(recorded, {b: [failing], c: [b]})
    ends = [r for r in recorded if r[2] == failing and r[1] == "end"]
    assert len(ends) == 1 and all(r[0] > ends[0][0] for r in recorded if r[2] in (b, c))


# -- 4. a batch pipeline ---------------------------------------------------------------------


def test_a_batch_with_refs_runs_in_order(served):
    box, _ = served
    before = step(box, seconds=0.1)
    lines = [
        {"type": "pipe.step", "payload": {"seconds": 0.1}, "ref": "render", "after": ["fetch"]},  # a later ref
        {"type": "pipe.step", "payload": {"seconds": 0.2}, "ref": "fetch", "after": [before]},
        {"type": "pipe.step", "payload": {}, "ref": "encode", "after": ["render", "fetch", before]},
    ]
    proc = box.cli("enqueue", "--batch", "-", input="\n".join(json.dumps(line) for line in lines))
    assert proc.returncode == 0, proc.stderr
    render, fetch, encode = (int(i) for i in proc.stdout.split())
    wait_states(box.store, [before, render, fetch, encode], "succeeded")
    assert_ran_after(records(box), {fetch: [before], render: [fetch], encode: [render, fetch, before]})


@pytest.mark.parametrize("lines, named", [
    ([{"type": "pipe.step", "ref": "a", "after": ["c"]}, {"type": "pipe.step", "ref": "b", "after": ["a"]},
      {"type": "pipe.step", "ref": "c", "after": ["b"]}], "cycle"),
    ([{"type": "pipe.step", "ref": "a"}, {"type": "pipe.step", "after": ["a", "nowhere"]}], "nowhere"),
    ([{"type": "pipe.step", "ref": "a"}, {"type": "pipe.step", "after": ["a", 987654]}], "987654"),
], ids=["cycle", "unknown-ref", "unknown-id"])  # fmt: skip
def test_a_bad_batch_is_refused_whole(served, lines, named):
    box, _ = served
    count = box.store.count_jobs()
    proc = box.cli("enqueue", "--batch", "-", input="\n".join(json.dumps(line) for line in lines))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert named in proc.stderr
    assert box.store.count_jobs() == count
    listed = json.loads(box.cli("list", "--json").stdout)
    assert listed["total"] == count


# -- 5. SIGKILL during a pipeline, then a restart --------------------------------------------


def test_sigkill_during_a_pipeline_then_restart_keeps_the_order(sandbox):
    gate = sandbox.data_dir.parent / "gate"
    first = ServeProcess(sandbox, "--workers", "2").start()
    a = step(sandbox, seconds=0.1)
    b = step(sandbox, "--after", str(a), gate=str(gate))
    c = step(sandbox, "--after", str(b), seconds=0.1)
    d = step(sandbox, "--after", str(c))
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    try:
        wait_until(lambda: any(r[1] == "start" and r[2] == b for r in records(sandbox)), timeout=60,
                   message="the middle job to start")  # fmt: skip
        workers = descendants(first.proc.pid)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        first.stop()
        wait_until(lambda: all_gone(workers), timeout=20, message="the app's worker processes die with it")
        assert store.integrity_check() == "ok"
        assert [store.get_job(i).state for i in (a, b, c, d)] == ["succeeded", "running", "waiting", "waiting"]
        gate.touch()
        with ServeProcess(sandbox, "--workers", "2") as second:
            wait_states(store, [a, b, c, d], "succeeded")
            assert second.alive()
        recorded = records(sandbox)
        assert_ran_after(recorded, {b: [a], c: [b], d: [c]})
        assert [r[3] for r in recorded if r[1] == "start" and r[2] == b] == [1, 1]  # the attempt was refunded
        assert len([r for r in recorded if r[1] == "start" and r[2] in (c, d)]) == 2  # each ran once
    finally:
        store.close()


def test_sigkill_at_any_moment_of_a_chain_of_short_jobs_runs_nothing_early(sandbox):
    first = ServeProcess(sandbox, "--workers", "3").start()
    lines = [{"type": "pipe.step", "payload": {"seconds": 0.05}, "ref": f"s{i}", **({"after": [f"s{i - 1}"]} if i else {})}
             for i in range(12)]  # fmt: skip
    proc = sandbox.cli("enqueue", "--batch", "-", input="\n".join(json.dumps(line) for line in lines))
    assert proc.returncode == 0, proc.stderr
    ids = [int(i) for i in proc.stdout.split()]
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    try:
        wait_until(lambda: any(r[1] == "start" and r[2] == ids[4] for r in records(sandbox)), timeout=60,
                   message="the chain to reach its fifth job")  # fmt: skip
        first.proc.send_signal(signal.SIGKILL)  # wherever the chain is now: running, completing or releasing
        first.proc.wait(10)
        first.stop()
        assert store.integrity_check() == "ok"
        states = [store.get_job(i).state for i in ids]
        assert "waiting" in states and states.count("running") <= 1, states
        with ServeProcess(sandbox, "--workers", "3"):
            wait_states(store, ids, "succeeded")
        assert_ran_after(records(sandbox), {job: [dep] for dep, job in itertools.pairwise(ids)})
    finally:
        store.close()


# -- 6. unique jobs --------------------------------------------------------------------------


def concurrent_enqueues(box: Sandbox, key: str, *extra: str, n: int = 20) -> list[subprocess.CompletedProcess]:
    """n separate `acacia enqueue` processes, all started before any is waited on."""
    procs = [subprocess.Popen([sys.executable, "-m", "acacia_gui", "enqueue", "x.unique", "--unique-key", key,
                               "--allow-unknown", "--payload", json.dumps({"n": n_}), *extra, *box.where],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=box.env)
             for n_ in range(n)]  # fmt: skip
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def assert_one_job(box: Sandbox, store: SqliteJobStore, done, key: str) -> int:
    assert all(p.returncode == 0 for p in done), [p.stderr for p in done if p.returncode]
    ids = {int(p.stdout.split()[0]) for p in done}
    assert len(ids) == 1, ids
    (job_id,) = ids
    matching = [j for j in store.list_jobs(type="x.unique") if j.unique_key == key]
    assert [j.id for j in matching] == [job_id]
    return job_id


@pytest.mark.timeout(300)
def test_concurrent_unique_enqueues_without_an_app_create_one_job(sandbox):
    done = concurrent_enqueues(sandbox, "K-direct")
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    try:
        assert_one_job(sandbox, store, done, "K-direct")
        assert store.count_jobs() == 1
    finally:
        store.close()


@pytest.mark.timeout(300)
def test_concurrent_unique_enqueues_through_the_app_create_one_job(served):
    box, serve = served
    # A running app fails a job no handler takes as soon as a worker is free, and a final job
    # holds no key: a paused queue keeps it queued.
    assert box.cli("pause", "uniq", "--create").returncode == 0
    done = concurrent_enqueues(box, "K-socket", "--queue", "uniq")
    assert all("database directly" not in p.stderr for p in done)  # each went through the socket
    assert serve.alive()
    assert_one_job(box, box.store, done, "K-socket")


def test_on_conflict_reject_and_replace(served):
    box, _ = served
    assert box.cli("pause", "uniq", "--create").returncode == 0  # a job no handler takes stays queued there
    first = enqueue(box, "x.unique", "--unique-key", "K-conflict", "--allow-unknown", "--payload", '{"v": 1}', "--queue", "uniq")
    again = enqueue(box, "x.unique", "--unique-key", "K-conflict", "--allow-unknown", "--payload", '{"v": 9}')
    assert again == first and box.store.get_job(first).payload == {"v": 1}  # return: the default
    rejected = box.cli("enqueue", "x.unique", "--unique-key", "K-conflict", "--on-conflict", "reject",
                       "--allow-unknown", "--payload", '{"v": 2}')  # fmt: skip
    assert rejected.returncode == 1, (rejected.stdout, rejected.stderr)
    assert rejected.stdout == "" and str(first) in rejected.stderr and len(rejected.stderr.strip().splitlines()) == 1
    assert box.store.get_job(first).payload == {"v": 1}
    replaced = enqueue(box, "x.unique", "--unique-key", "K-conflict", "--on-conflict", "replace",
                       "--allow-unknown", "--payload", '{"v": 3}')  # fmt: skip
    assert replaced == first and box.store.get_job(first).payload == {"v": 3}
    assert box.store.get_job(first).state == "queued"
    assert len([j for j in box.store.list_jobs(type="x.unique") if j.unique_key == "K-conflict"]) == 1


def test_replace_of_a_started_job_is_a_reject(served):
    box, _ = served
    running = step(box, "--unique-key", "K-started", hold=True)
    wait_states(box.store, [running], "running")
    wait_until(lambda: any(r[1] == "start" and r[2] == running for r in records(box)), timeout=30)
    proc = box.cli("enqueue", "pipe.step", "--unique-key", "K-started", "--on-conflict", "replace", "--payload", "{}")
    assert proc.returncode == 1 and str(running) in proc.stderr, (proc.stdout, proc.stderr)
    assert box.cli("cancel", str(running)).returncode == 0
    wait_states(box.store, [running], "cancelled")


# -- 7. every `why` reason -------------------------------------------------------------------


def test_why_names_every_reason(sandbox):
    serve = ServeProcess(sandbox, "--workers", "1").start()
    store = SqliteJobStore(sandbox.data_dir / "acacia.db")
    try:
        assert sandbox.cli("concurrency", "render", "1", "--create").returncode == 0
        long = step(sandbox, "--queue", "render", hold=True, progress=0.4)
        wait_until(lambda: (store.get_job(long).progress or 0) >= 0.4, timeout=60, message="the long job's progress")
        dependent = step(sandbox, "--after", str(long))
        assert why(sandbox, dependent) == f"job {dependent} (waiting): waiting on dependency {long} (running, 40 %)"

        full = step(sandbox, "--queue", "render")
        assert why(sandbox, full) == f"job {full} (queued): queue `render` is full (1 of 1 running)"

        busy = step(sandbox, "--queue", "other")
        assert why(sandbox, busy) == f"job {busy} (queued): all 1 workers are busy"

        assert sandbox.cli("pause", "held", "--create").returncode == 0
        paused = step(sandbox, "--queue", "held")
        assert why(sandbox, paused) == f"job {paused} (queued): queue `held` is paused"

        later = step(sandbox, "--delay", "600")
        at = time.strftime("%H:%M", time.localtime(store.get_job(later).run_at))
        assert why(sandbox, later) == f"job {later} (scheduled): scheduled for {at} (in 10 min)"

        unknown = enqueue(sandbox, "x.nothing", "--allow-unknown", "--queue", "other")
        assert why(sandbox, unknown) == f"job {unknown} (queued): no handler for type `x.nothing` is loaded"

        assert why(sandbox, long) == f"job {long} (running): it is running (attempt 1 of 1)"
        assert store.get_job(long).state == "running"  # still the one running job: the reasons above held

        assert sandbox.cli("cancel", str(long)).returncode == 0
        wait_states(store, [long, dependent], "cancelled")
        finished = f"job {dependent} (cancelled): it has finished: cancelled (dependency {long} was cancelled)"
        assert why(sandbox, dependent) == finished
        wait_states(store, [full, busy], "succeeded")
        assert serve.stop() == 0
        assert why(sandbox, paused) == (f"job {paused} (queued): queue `held` is paused")
        assert sandbox.cli("resume", "held").returncode == 0
        assert why(sandbox, paused) == (f"job {paused} (queued): no app is running to start it "
                                        "(start one: `acacia serve`, or the window)")  # fmt: skip
        broken = sandbox.plugins_dir / "broken.py"
        broken.write_text("raise ImportError('this plugin is broken on purpose')\n")
        os.chmod(broken, 0o600)
        orphan = enqueue(sandbox, "x.nothing", "--allow-unknown")
        assert why(sandbox, orphan) == (f"job {orphan} (queued): no handler for type `x.nothing` is loaded "
                                        "(a plugin failed to load: see `acacia handlers`)")  # fmt: skip
    finally:
        serve.stop()
        store.close()


# -- 8. a client we did not write ------------------------------------------------------------


def test_socat_enqueues_after_a_job_and_reads_why_and_dependencies(served):
    box, _ = served
    upstream = step(box, hold=True, progress=0.4)
    wait_until(lambda: (box.store.get_job(upstream).progress or 0) >= 0.4, timeout=60)
    request = {"id": 1, "op": "enqueue", "params": {"type": "pipe.step", "payload": {}, "after": [upstream],
                                                       "after_policy": "success"}}  # fmt: skip
    proc = pipe_through_socat(box, json.dumps(request).encode() + b"\n")
    assert proc.returncode == 0, proc.stderr
    (reply,) = (json.loads(line) for line in proc.stdout.splitlines())
    assert reply["ok"] is True, reply
    dependent = reply["result"]["id"]
    assert reply["result"]["state"] == "waiting"

    data = (json.dumps({"id": 2, "op": "get", "params": {"id": dependent}}) + "\n"
            + json.dumps({"id": 3, "op": "get", "params": {"id": upstream}}) + "\n").encode()  # fmt: skip
    proc = pipe_through_socat(box, data)
    assert proc.returncode == 0, proc.stderr
    got_dependent, got_upstream = (json.loads(line) for line in proc.stdout.splitlines())
    job = got_dependent["result"]
    assert job["state"] == "waiting"
    assert job["why"] == f"waiting on dependency {upstream} (running, 40 %)"
    (up,) = job["dependencies"]["upstream"]
    assert (up["id"], up["state"], up["policy"]) == (upstream, "running", "success")
    assert job["dependencies"]["downstream"] == []
    assert [d["id"] for d in got_upstream["result"]["dependencies"]["downstream"]] == [dependent]
    assert got_upstream["result"]["why"].startswith("it is running")

    unknown = {"id": 4, "op": "enqueue", "params": {"type": "pipe.step", "after": [987654]}}
    proc = pipe_through_socat(box, json.dumps(unknown).encode() + b"\n")
    (refused,) = (json.loads(line) for line in proc.stdout.splitlines())
    assert refused["ok"] is False and "987654" in json.dumps(refused["error"])

    assert box.cli("cancel", str(upstream)).returncode == 0
    wait_states(box.store, [upstream, dependent], "cancelled")
