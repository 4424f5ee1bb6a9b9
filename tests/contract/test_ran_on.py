"""WorkerStore contract: a claim records the instance that ran the job (job.ran_on, "host:pid" of the
claiming process), and nothing after it clears it: completion, recovery and a user's retry keep it,
so a finished job still names where it ran; the next claim overwrites it.

"Another instance" is another process: a child Python that opens the test's database (the SQLite
file, or the PostgreSQL database whose connection string the backend wrote for the test) with the
backend's store class and claims through the WorkerStore Protocol, so its label has another pid.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from acacia_gui.core.job import JobState
from acacia_gui.core.recovery import RecoveryPolicy

from .conftest import POSTGRES_URL_FILE
from .helpers import DEAD, ME, OTHER, add, claim, finish

HERE = f"{socket.gethostname()}:{os.getpid()}"

CLAIM_IN_ANOTHER_PROCESS = """
import json, os, sys
if sys.argv[1] == "postgres":
    from acacia_gui.store.postgres.store import PostgresJobStore
    store = PostgresJobStore(sys.argv[2], min_size=1, max_size=2)
else:
    from acacia_gui.store.sqlite import SqliteJobStore
    store = SqliteJobStore(sys.argv[2])
try:
    applied, jobs = store.complete_and_claim([], sys.argv[3], 1)
    print(json.dumps({"pid": os.getpid(), "claimed": [[job.id, job.ran_on] for job in jobs]}))
finally:
    store.close()
"""


def claim_in_another_process(tmp_path: Path, instance: str) -> tuple[int, list[list]]:
    """One claim by a second process on the test's database: (its pid, [[job id, ran_on], ...])."""
    url_file = tmp_path / POSTGRES_URL_FILE  # written by the postgres backend only (a libpq key=value string)
    backend, database = ("postgres", url_file.read_text(encoding="utf-8")) if url_file.exists() else (
        "sqlite", str(tmp_path / "contract.db"))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", CLAIM_IN_ANOTHER_PROCESS, backend, database, instance],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    return reply["pid"], reply["claimed"]


def test_a_job_never_claimed_ran_nowhere(store):
    (job_id,) = add(store)
    assert store.get_job(job_id).ran_on is None and store.get_job(job_id).to_dict()["ran_on"] is None


def test_a_claimed_then_completed_job_keeps_the_instance_that_ran_it(store):
    done_id, failed_id = add(store, 2)
    claimed = claim(store, 2)
    assert [job.ran_on for job in claimed] == [HERE, HERE]  # the claim's RETURNING row has it
    assert store.get_job(done_id).ran_on == HERE and store.get_job(done_id).instance_id == ME
    finish(store, claimed[0])
    finish(store, claimed[1], JobState.FAILED, error="boom")
    for job_id, state in ((done_id, JobState.SUCCEEDED), (failed_id, JobState.FAILED)):
        job = store.get_job(job_id)
        assert (job.state, job.instance_id, job.ran_on) == (state, None, HERE)  # the owner goes, ran_on stays
        assert job.to_dict()["ran_on"] == HERE
    assert {job.id: job.ran_on for job in store.list_jobs()} == {done_id: HERE, failed_id: HERE}


def test_recovery_keeps_ran_on(store):
    fragile, requeued = add(store, 1, "fragile", max_attempts=3) + add(store, 1)
    claim(store, 2, DEAD)
    changed = store.recover_instance(DEAD, RecoveryPolicy(not_repeatable=frozenset({"fragile"})))
    assert sorted(changed) == [(fragile, "interrupted"), (requeued, "queued")]
    for job_id in (fragile, requeued):
        job = store.get_job(job_id)
        assert (job.instance_id, job.ran_on) == (None, HERE)


def test_a_retried_job_names_its_last_claimer(store, tmp_path):
    (job_id,) = add(store, max_attempts=1)
    (job,) = claim(store)
    finish(store, job, JobState.FAILED, error="boom")
    retried = store.retry_job(job_id, "cli")
    assert (retried.state, retried.ran_on) == (JobState.QUEUED, HERE)  # the retry clears nothing of it
    pid, claimed = claim_in_another_process(tmp_path, OTHER)
    elsewhere = f"{socket.gethostname()}:{pid}"
    assert pid != os.getpid() and claimed == [[job_id, elsewhere]]
    assert store.get_job(job_id).ran_on == elsewhere
    finish(store, store.get_job(job_id), JobState.FAILED, OTHER, error="boom")  # completed from here: still the claimer's
    assert (store.get_job(job_id).state, store.get_job(job_id).ran_on) == (JobState.FAILED, elsewhere)
    store.retry_job(job_id, "cli")
    (again,) = claim(store)
    assert again.ran_on == HERE == store.get_job(job_id).ran_on
