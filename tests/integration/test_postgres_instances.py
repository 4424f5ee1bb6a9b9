"""Several real `acacia serve --database URL` processes sharing one PostgreSQL database.

Each test gets a fresh database (tests/support/postgres_server.py: the contract suite's server
discovery) and starts real app processes, each with its own data dir and socket, all pointed at
that database. A plugin of this file's own (PLUGIN) records every start and end of a run to a
file (one O_APPEND write per line: "<kind> <pid> <job id> <attempt> <time>"), as
tests/integration/worker_process.py does. Nothing waits a fixed time: every wait is on a
condition, with a deadline.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest
from psycopg import conninfo

from tests.integration.serve_process import Sandbox, ServeProcess
from tests.support.postgres_server import server_or_skip

PLUGIN = """
import os
import time

from acacia_gui.jobs import handler

RECORD = os.environ["ACACIA_TEST_RECORD"]


def write(kind, job):
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{kind} {os.getpid()} {job.id} {job.attempts} {time.time():.6f}\\n".encode())
    finally:
        os.close(fd)


@handler("rec.noop", isolation="thread")
def noop(ctx, job):
    write("run", job)
    return {"pid": os.getpid()}


@handler("rec.artifact", isolation="thread")
def artifact(ctx, job):
    out = job.output_dir / "report.txt"
    out.write_text(f"made by {os.getpid()}\\n")
    job.add_artifact(out, label="the report")
    write("run", job)
    return {"pid": os.getpid()}


@handler("rec.sleep", isolation="thread", on_interrupt="retry")
def sleep(ctx, job):
    write("start", job)
    ctx.wait(float((job.payload or {}).get("seconds", 0)))
    ctx.check()
    write("end", job)
    return {"pid": os.getpid()}
"""


@pytest.fixture
def database_url() -> Iterator[str]:
    server = server_or_skip('the multi-instance tests')
    with server.database() as conninfo_text:
        yield as_url(conninfo_text)


def as_url(text: str) -> str:
    """A libpq key=value string as the postgresql:// URL `--database` takes (host and port as query
    options, so a private cluster's Unix-socket folder works as well as 127.0.0.1)."""
    params = conninfo.conninfo_to_dict(text)
    user, dbname = params.pop("user", ""), params.pop("dbname", "")
    who = f"{quote(str(user))}@" if user else ""
    return f"postgresql://{who}/{quote(str(dbname))}?{urlencode(sorted((k, str(v)) for k, v in params.items()))}"


class Cluster:
    """Instances (each a Sandbox + ServeProcess) on one database, and one record file."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.tmp_path = tmp_path
        self.url = url
        self.record = tmp_path / "record.txt"
        self.record.touch()
        self.instances: list[ServeProcess] = []
        self.boxes: list[Sandbox] = []
        self._cli_box: Sandbox | None = None

    def sandbox(self, name: str) -> Sandbox:
        box = Sandbox(self.tmp_path / name, plugins=False)
        box.plugins_dir.mkdir(parents=True, mode=0o700)
        (box.plugins_dir / "rec.py").write_text(PLUGIN)
        box.env["ACACIA_TEST_RECORD"] = str(self.record)
        box.env.pop("ACACIA_DATABASE", None)
        box.env.pop("ACACIA_LEASE", None)
        self.boxes.append(box)
        return box

    def start(self, name: str, *extra: str) -> ServeProcess:
        serve = ServeProcess(self.sandbox(name), "--database", self.url, "--workers", "2", "--stop-timeout", "0",
                             *extra).start(timeout=60)  # fmt: skip
        self.instances.append(serve)
        return serve

    def cli(self, *args: str, input: str | None = None) -> str:
        """`acacia ARGS --database URL` from a data dir with no app: it works on the database directly."""
        if self._cli_box is None:
            self._cli_box = self.sandbox("cli")
        done = self._cli_box.cli(*args, "--database", self.url, input=input, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def enqueue(self, jobs: list[dict]) -> None:
        self.cli("enqueue", "--batch", "-", input="".join(json.dumps(job) + "\n" for job in jobs))

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def records(self) -> list[tuple[str, int, int, int, float]]:
        lines = self.record.read_text().splitlines()
        return [(k, int(p), int(j), int(a), float(t)) for k, p, j, a, t in (line.split() for line in lines)]

    def instance_id(self, serve: ServeProcess) -> str:
        assert serve.proc is not None
        wait_until(lambda: self.query("SELECT id FROM instances WHERE pid = %s", (serve.proc.pid,)), 10,
                   f"instance {serve.proc.pid} registered")  # fmt: skip
        return self.query("SELECT id FROM instances WHERE pid = %s", (serve.proc.pid,))[0][0]

    def close(self) -> None:
        for serve in self.instances:
            if serve.proc is not None and serve.proc.poll() is None:
                try:
                    os.kill(serve.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            serve.stop()
        for box in self.boxes:
            box.cleanup()

    def logs(self) -> str:
        return "\n".join(f"--- {s.proc.pid if s.proc else '?'}\n{s.log()[-4000:]}" for s in self.instances)


def wait_until(condition: Callable[[], object], timeout: float, what: str, cluster: Cluster | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            states = cluster.query("SELECT state, count(*) FROM jobs GROUP BY 1") if cluster else ""
            raise AssertionError(f"timed out after {timeout} s waiting for: {what} {states}\n"
                                 f"{cluster.logs() if cluster else ''}")  # fmt: skip
        time.sleep(0.02)


@pytest.fixture
def cluster(tmp_path: Path, database_url: str) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, database_url)
    try:
        yield cluster
    finally:
        cluster.close()


def test_postgres_three_instances_run_1000_jobs_each_exactly_once(cluster: Cluster) -> None:
    servers = [cluster.start(name) for name in ("a", "b", "c")]
    cluster.enqueue([{"type": "rec.noop"} for _ in range(1000)])

    def done() -> bool:
        return cluster.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0] == 1000

    wait_until(done, 90, "1000 jobs succeeded", cluster)
    runs = Counter(job_id for kind, _, job_id, _, _ in cluster.records() if kind == "run")
    assert len(runs) == 1000 and set(runs.values()) == {1}, [j for j, n in runs.items() if n != 1][:10]
    by_pid = Counter(pid for kind, pid, *_ in cluster.records() if kind == "run")
    assert set(by_pid) == {s.proc.pid for s in servers}, by_pid  # all three took work
    assert cluster.query("SELECT count(*) FROM jobs WHERE state <> 'succeeded' OR attempts <> 1") == [(0,)]
    listing = json.loads(cluster.cli("instances", "--json"))
    assert sorted(entry["pid"] for entry in listing) == sorted(s.proc.pid for s in servers)
    assert all(entry["alive"] and entry["heartbeat_age"] < 30 for entry in listing)


def test_postgres_sigkill_of_an_instance_requeues_its_jobs_within_2_s(cluster: Cluster) -> None:
    victim, *survivors = [cluster.start(name) for name in ("a", "b", "c")]
    victim_id = cluster.instance_id(victim)
    cluster.enqueue([{"type": "rec.sleep", "payload": {"seconds": 60}} for _ in range(6)])
    running_on_victim = "SELECT id FROM jobs WHERE state = 'running' AND instance_id = %s ORDER BY id"
    wait_until(lambda: cluster.query(running_on_victim, (victim_id,)), 30, "the victim runs a job")
    wait_until(lambda: any(kind == "start" and pid == victim.proc.pid for kind, pid, *_ in cluster.records()), 30,
               "the victim's handler started")  # fmt: skip

    def listed_as_running() -> bool:  # `acacia instances` shows what the database says (read again around it,
        before = [row[0] for row in cluster.query(running_on_victim, (victim_id,))]  # as the victim may claim more)
        shown = {e["pid"]: e["running"] for e in json.loads(cluster.cli("instances", "--json"))}
        return shown[victim.proc.pid] == before == [row[0] for row in cluster.query(running_on_victim, (victim_id,))]

    wait_until(listed_as_running, 30, "the victim's running jobs listed", cluster)
    orphans = [row[0] for row in cluster.query(running_on_victim, (victim_id,))]
    victim.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: not cluster.query(running_on_victim, (victim_id,)), 10, "the victim's jobs recovered")
    assert time.monotonic() - killed < 2.0
    events = cluster.query("SELECT job_id, source, old_state FROM events WHERE job_id = ANY(%s) AND source = 'recovery'",
                           (orphans,))  # fmt: skip
    assert sorted(e[0] for e in events) == sorted(orphans)
    # A survivor runs them again; the dead instance is no longer listed.
    survivor_pids = {s.proc.pid for s in survivors}
    wait_until(lambda: {j for k, p, j, *_ in cluster.records() if k == "start" and p in survivor_pids} >= set(orphans)
               or cluster.query("SELECT count(*) FROM jobs WHERE state = 'queued' AND id = ANY(%s)", (orphans,))[0][0] > 0,
               10, "the orphans requeued or restarted by a survivor")  # fmt: skip
    assert victim.proc.pid not in {e["pid"] for e in json.loads(cluster.cli("instances", "--json"))}


def test_postgres_queue_concurrency_of_2_holds_across_three_instances(cluster: Cluster) -> None:
    cluster.cli("concurrency", "limited", "2", "--create")
    for name in ("a", "b", "c"):
        cluster.start(name, "--workers", "1")  # 3 slots in all for a limit of 2: only the shared count holds it
    cluster.enqueue([{"type": "rec.sleep", "queue": "limited", "payload": {"seconds": 0.15}} for _ in range(30)])
    wait_until(lambda: cluster.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0] == 30, 120,
               "30 jobs succeeded", cluster)  # fmt: skip
    edges = sorted((t, 1 if kind == "start" else -1) for kind, _, _, _, t in cluster.records() if kind in ("start", "end"))
    edges.sort(key=lambda e: (e[0], e[1]))  # at one instant an end comes before a start
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak <= 2, peak
    assert peak == 2  # the limit was reached, so the check above meant something
    assert len({pid for kind, pid, *_ in cluster.records() if kind == "start"}) >= 2  # shared across instances


def test_postgres_partition_late_completion_does_not_overwrite_the_survivor(cluster: Cluster) -> None:
    lease = "2"
    frozen = cluster.start("a", "--lease", lease)
    frozen_id = cluster.instance_id(frozen)
    cluster.enqueue([{"type": "rec.sleep", "payload": {"seconds": 3}}])
    wait_until(lambda: any(k == "start" and p == frozen.proc.pid for k, p, *_ in cluster.records()), 30,
               "the first instance started the job")  # fmt: skip
    ((job_id,),) = cluster.query("SELECT id FROM jobs")
    survivor = cluster.start("b", "--lease", lease)
    frozen.proc.send_signal(signal.SIGSTOP)  # a silent partition: its connections stay open, its lock held
    try:
        wait_until(lambda: any(k == "start" and p == survivor.proc.pid and j == job_id for k, p, j, *_ in cluster.records()),
                   30, "the survivor took the job past the lease", cluster)  # fmt: skip
        wait_until(lambda: cluster.query("SELECT state FROM jobs WHERE id = %s", (job_id,)) == [("succeeded",)], 30,
                   "the survivor finished the job")  # fmt: skip
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    # The frozen instance wakes up, its handler ends and it tries to complete its (stale) run.
    wait_until(lambda: any(k == "end" and p == frozen.proc.pid for k, p, *_ in cluster.records()), 30,
               "the frozen instance's handler ended")  # fmt: skip
    ended = max(t for k, p, _, _, t in cluster.records() if k == "end" and p == frozen.proc.pid)
    # Its loop has run well past the handler's end (its completion is written within milliseconds)
    # once its heartbeat, written on that same loop, is half a second younger than that end.
    beat = "SELECT 1 FROM instances WHERE id = %s AND heartbeat_at > %s"
    wait_until(lambda: cluster.query(beat, (frozen_id, ended + 0.5)), 30, "the frozen instance beat after its end")
    wait_until(lambda: cluster.query("SELECT 1 FROM instances WHERE id = %s", (frozen_id,)), 30,
               "the frozen instance registered again with its next heartbeat")  # fmt: skip
    wait_until(lambda: "taken for dead" in frozen.log(), 30, "the frozen instance says it was taken for dead")
    row = cluster.query("SELECT state, result, attempts, instance_id FROM jobs WHERE id = %s", (job_id,))[0]
    assert row[0] == "succeeded" and json.loads(row[1]) == {"pid": survivor.proc.pid}, row
    ends = cluster.query("SELECT count(*) FROM events WHERE job_id = %s AND new_state = 'succeeded'", (job_id,))
    assert ends == [(1,)]
    recovered = cluster.query("SELECT count(*) FROM events WHERE job_id = %s AND source = 'recovery'", (job_id,))
    assert recovered == [(1,)]
    assert frozen.alive() and survivor.alive()


def with_password(url: str, password: str) -> str:
    """`url` with a password added (trust auth ignores it; what matters is that it is never shown)."""
    scheme, rest = url.split("://", 1)
    who, tail = rest.split("@", 1) if "@" in rest.split("/", 1)[0] else ("postgres", rest)
    return f"{scheme}://{who}:{password}@{tail}"


def test_postgres_cli_migrate_info_and_errors_never_show_the_password(cluster: Cluster) -> None:
    secret = "Sup3r-s3cret-pw"
    url = with_password(cluster.url, secret)
    box = cluster.sandbox("plain")
    migrated = box.cli("db", "migrate", "--database", url)
    assert migrated.returncode == 0 and "schema version" in migrated.stdout, migrated.stderr
    info = box.cli("info", "--json", env={**box.env, "ACACIA_DATABASE": url})
    assert info.returncode == 0 and json.loads(info.stdout)["database"].startswith("postgresql://"), info.stderr
    unreachable = box.cli("list", "--database", f"postgresql://postgres:{secret}@127.0.0.1:1/nowhere")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
    bad = box.cli("list", "--database", "postgresql://x:y@[::1/oops")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    listed = box.cli("instances", "--database", url)
    assert listed.returncode == 0 and "no live instance" in listed.stdout
    for done in (migrated, info, unreachable, bad, listed):
        assert secret not in done.stdout + done.stderr
    serve = cluster.start("s")
    assert secret not in serve.log()
    cluster.query("INSERT INTO schema_version (version, applied_at) VALUES (999, 0) RETURNING version")
    refused = box.cli("db", "migrate", "--database", url)
    assert refused.returncode == 1 and "999" in refused.stderr and secret not in refused.stderr, refused.stderr
    app = box.cli("serve", "--database", url, "--data-dir", str(box.data_dir.parent / "refused"))
    assert app.returncode == 1 and "schema 999" in app.stderr and secret not in app.stderr + app.stdout, app.stderr


def test_postgres_liveness_lock_and_lease_in_process(database_url: str) -> None:
    """The probes themselves: a lock held is alive, a lock let go (its connection closed) is dead,
    and a held lock whose heartbeat is older than the lease is dead too."""
    from acacia_gui.store.open import open_store

    mine, theirs = open_store(database_url, lease=5), open_store(database_url, lease=5)
    try:
        mine.register_instance("a-1")
        assert theirs.liveness.live_among(["a-1", "never"]) == {"a-1"}
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE instances SET heartbeat_at = heartbeat_at - 6 WHERE id = 'a-1'")
        assert theirs.liveness.live_among(["a-1"]) == set()  # past the lease, although the lock is held
        mine.heartbeat("a-1")
        assert theirs.liveness.live_among(["a-1"]) == {"a-1"}
        mine.liveness._conn.close()  # as if the process died: the server lets its lock go
        wait_until(lambda: theirs.liveness.live_among(["a-1"]) == set(), 5, "the lock let go")
        mine.heartbeat("a-1")  # the lock connection is made again, and the lock taken again
        assert theirs.liveness.live_among(["a-1"]) == {"a-1"}
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM instances WHERE id = 'a-1'")  # recovered by a survivor
        mine.heartbeat("a-1")
        assert [i["id"] for i in mine.instances()] == ["a-1"]  # registered again
    finally:
        mine.close()
        theirs.close()


def schedule_jobs(cluster: Cluster) -> list[tuple[int, float, str]]:
    """The schedule's jobs (id, slot, enqueue message), by slot."""
    return cluster.query(
        "SELECT j.id, j.scheduled_for, e.message FROM jobs j JOIN events e ON e.job_id = j.id AND e.new_state = 'queued'"
        " AND e.old_state IS NULL WHERE j.scheduled_for IS NOT NULL ORDER BY j.scheduled_for, j.id")  # fmt: skip


def assert_consecutive(slots: list[float], every: float = 1.0) -> None:
    """Each slot once, none missing between the first and the last."""
    assert len(set(slots)) == len(slots), [s for s, n in Counter(slots).items() if n > 1]
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(slots) if abs(b - a - every) > 1e-6]
    assert not gaps, gaps


def start_together(cluster: Cluster, names: tuple[str, ...]) -> list[ServeProcess]:
    """Start instances at the same moment (threads), so their first schedule ticks race."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(names)) as pool:
        return list(pool.map(cluster.start, names))


def test_postgres_schedule_every_1s_on_three_instances_enqueues_each_slot_once(cluster: Cluster) -> None:
    # catch-up "all": the slots between the add and the start are enqueued too, so any slot the cluster
    # skipped (not merely fired late) would be a gap.
    cluster.cli("schedule", "add", "tick", "rec.noop", "--every", "1s", "--catch-up", "all")
    servers = start_together(cluster, ("a", "b", "c"))
    up = time.time()
    wait_until(lambda: cluster.query("SELECT count(*) FROM jobs WHERE scheduled_for > %s", (up + 4,))[0][0] > 0, 30,
               "slots fired for 4 s with three instances up", cluster)  # fmt: skip
    for serve in servers:
        serve.stop()
    jobs = schedule_jobs(cluster)
    slots = [slot for _, slot, _ in jobs]
    assert len(slots) >= 5
    assert_consecutive(slots)
    assert cluster.query("SELECT count(*) FROM schedule_slots WHERE schedule = 'tick' AND job_id = 0") == [(0,)]
    assert sorted(j for j, in cluster.query("SELECT job_id FROM schedule_slots WHERE schedule = 'tick'")) == \
        sorted(j for j, _, _ in jobs)  # fmt: skip
    # Each job ran at most once (the last ones may not have run before the stop); which instance ran
    # which is the claim's business, not asserted (nothing promises an even spread of 1 job a second).
    runs = Counter(job_id for kind, _, job_id, _, _ in cluster.records() if kind == "run")
    assert set(runs.values()) <= {1}, runs
    ran_by = Counter(pid for kind, pid, *_ in cluster.records() if kind == "run")
    assert set(ran_by) <= {s.proc.pid for s in servers}, ran_by


def test_postgres_schedule_catch_up_once_after_all_instances_stopped(cluster: Cluster) -> None:
    cluster.cli("schedule", "add", "tick", "rec.noop", "--every", "1s", "--catch-up", "once")
    first = start_together(cluster, ("a", "b", "c"))
    up = time.time()
    wait_until(lambda: cluster.query("SELECT count(*) FROM jobs WHERE scheduled_for > %s", (up + 2,))[0][0] > 0, 30,
               "slots fired with three instances up", cluster)  # fmt: skip
    for serve in first:
        serve.stop()
    before = schedule_jobs(cluster)
    stopped = time.time()
    wait_until(lambda: time.time() > stopped + 4, 10, "four slots missed with every instance stopped")
    assert schedule_jobs(cluster) == before  # nothing fires with no instance running
    start_together(cluster, ("d", "e", "f"))
    back = time.time()
    wait_until(lambda: cluster.query("SELECT count(*) FROM jobs WHERE scheduled_for > %s", (back + 2,))[0][0] > 0, 30,
               "slots fired again after the restart", cluster)  # fmt: skip
    after = schedule_jobs(cluster)[len(before):]
    catch_ups = [(job_id, slot, message) for job_id, slot, message in after if "catch-up" in message]
    assert len(catch_ups) == 1, after  # one job for the missed slots, not one per instance
    assert "catch-up: one job for" in catch_ups[0][2] and after[0] == catch_ups[0], after
    assert catch_ups[0][1] - before[-1][1] >= 4  # the missed slots themselves were not enqueued
    assert_consecutive([slot for _, slot, _ in before])
    assert_consecutive([slot for _, slot, _ in after])  # on time again from the catch-up's slot on


def test_postgres_a_handler_writes_an_artifact_and_show_lists_it(cluster: Cluster) -> None:
    serve = cluster.start("a")
    cluster.enqueue([{"type": "rec.artifact"}])
    wait_until(lambda: cluster.query("SELECT state FROM jobs") == [("succeeded",)], 30, "the job succeeded", cluster)
    ((job_id,),) = cluster.query("SELECT id FROM jobs")
    folder = serve.sandbox.data_dir / "outputs" / str(job_id)  # the data dir of the machine that ran it
    assert (folder / "report.txt").read_text() == f"made by {serve.proc.pid}\n"
    shown = serve.sandbox.cli("show", str(job_id), "--json")  # through the local app's socket
    assert shown.returncode == 0, shown.stderr
    job = json.loads(shown.stdout)
    assert job["output_dir"] == str(folder)
    listed = [(a["name"], a["label"], a["path"]) for a in job["artifacts"]]
    assert listed == [("report.txt", "the report", str(folder / "report.txt"))]
    text = serve.sandbox.cli("show", str(job_id))
    assert "outputs (1):" in text.stdout and str(folder / "report.txt") in text.stdout, text.stdout
    direct = json.loads(cluster.cli("show", str(job_id), "--json"))  # the CLI on the database, no app
    assert [a["path"] for a in direct["artifacts"]] == [str(folder / "report.txt")]
    deleted = serve.sandbox.cli("delete", str(job_id), "--outputs", "--json")
    assert deleted.returncode == 0 and not folder.exists(), deleted.stdout + deleted.stderr


def test_postgres_show_and_get_name_the_instance_that_runs_a_job(cluster: Cluster) -> None:
    a, b = cluster.start("a", "--workers", "1"), cluster.start("b", "--workers", "1")
    cluster.enqueue([{"type": "rec.sleep", "payload": {"seconds": 60}} for _ in range(2)])
    wait_until(lambda: len({p for k, p, *_ in cluster.records() if k == "start"}) == 2, 30, "each instance runs one", cluster)
    host = cluster.query("SELECT DISTINCT hostname FROM instances")[0][0]
    runs = {job_id: pid for kind, pid, job_id, *_ in cluster.records() if kind == "start"}
    for job_id, pid in runs.items():
        for serve in (a, b):  # either machine's app answers for either job: the instances table is shared
            job = json.loads(serve.sandbox.cli("show", str(job_id), "--json").stdout)
            assert job["instance"] == f"{host}:{pid}" and job["instance_id"], job
            with serve.sandbox.client() as client:
                assert client.get(job_id)["instance"] == f"{host}:{pid}"
        text = a.sandbox.cli("show", str(job_id)).stdout
        assert f"instance  {host}:{pid} (instance " in text, text
    listed = json.loads(a.sandbox.cli("list", "--json").stdout)
    assert all("instance" not in job for job in (listed["jobs"] if isinstance(listed, dict) else listed))  # not for list
    queued = cluster.query("SELECT id FROM jobs WHERE state <> 'running'")
    assert not queued
    b.stop()  # its job is recovered (queued again) and the instance unregistered: nothing to name
    victim = next(job_id for job_id, pid in runs.items() if pid == b.proc.pid)
    assert cluster.query("SELECT count(*) FROM instances") == [(1,)]
    job = json.loads(a.sandbox.cli("show", str(victim), "--json").stdout)
    assert job["instance"] is None, job  # a's one worker is busy: the job runs nowhere now
    assert job["ran_on"] == f"{host}:{b.proc.pid}", job  # but the instance that ran it last is still named
    assert f"\n  ran on    {host}:{b.proc.pid}\n" in a.sandbox.cli("show", str(victim)).stdout
