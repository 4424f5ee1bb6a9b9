"""Batches larger than one request (ipc/batch.py) and the CLI's record of a batch stopped part-way (cli/batch.py)."""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

import pytest

from acacia_gui.cli.batch import enqueue_batch
from acacia_gui.core.errors import InvalidPayloadError, StoreError
from acacia_gui.ipc.batch import REQUEST_OVERHEAD, enqueue_in_chunks, plan_chunks
from acacia_gui.ipc.protocol import ConnectionLostError, LineTooLongError, error_details, with_details


def jobs(n: int, pad: int = 50) -> list[dict]:
    return [{"type": "t", "payload": {"i": i, "pad": "x" * pad}} for i in range(n)]


class App:
    """A stand-in for the app's `enqueue`: records each request; fails as told."""

    def __init__(self, *, max_bytes: int = 10**9, fail_write_at: int | None = None, bad: int | None = None,
                 lost_at: int | None = None) -> None:  # fmt: skip
        self.requests: list[tuple[bool, int, int]] = []  # (validate_only, first job's i, count)
        self.max_bytes, self.fail_write_at, self.bad, self.lost_at = max_bytes, fail_write_at, bad, lost_at
        self.written: list[int] = []

    def __call__(self, params: dict) -> dict:
        batch = params["jobs"]
        if len(json.dumps(params)) > self.max_bytes:
            raise LineTooLongError("request line longer than N bytes; it was skipped")
        first = batch[0]["payload"]["i"]
        self.requests.append((bool(params.get("validate_only")), first, len(batch)))
        for index, job in enumerate(batch):
            if job["payload"]["i"] == self.bad:
                raise with_details(InvalidPayloadError("bad"), f"jobs[{index}]: bad payload", index=index)
        if params.get("validate_only"):
            return {"valid": len(batch)}
        if self.lost_at is not None and first <= self.lost_at < first + len(batch):
            raise ConnectionLostError("the app closed the connection")
        if self.fail_write_at is not None and first <= self.fail_write_at < first + len(batch):
            raise StoreError("disk full")
        ids = [1000 + job["payload"]["i"] for job in batch]
        self.written += ids
        return {"ids": ids}


def test_chunks_fit_the_request_size_and_cover_every_job_in_order():
    batch = jobs(1000)
    sizes = [len(json.dumps(job, separators=(",", ":"))) + 1 for job in batch]
    budget = 100 * sizes[-1]
    chunks = plan_chunks(batch, max_bytes=REQUEST_OVERHEAD + budget)
    assert chunks[0][0] == 0 and chunks[-1][1] == 1000 and len(chunks) > 5
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    for start, end in chunks:  # each as full as the budget allows
        assert sum(sizes[start:end]) <= budget and (end == 1000 or sum(sizes[start:end + 1]) > budget)
    assert plan_chunks(batch, max_bytes=10**9, max_jobs=300) == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert plan_chunks(jobs(1, pad=10_000), max_bytes=100) == [(0, 1)]  # one job too big: the app says so


def test_a_batch_that_fits_is_one_request():
    app = App()
    assert enqueue_in_chunks(app, jobs(10), {}) == [1000 + i for i in range(10)]
    assert app.requests == [(False, 0, 10)]


def test_a_large_batch_is_checked_whole_before_any_chunk_is_written():
    app = App()
    ids = enqueue_in_chunks(app, jobs(1000), {"allow_unknown": True}, max_bytes=REQUEST_OVERHEAD + 20_000)
    assert ids == [1000 + i for i in range(1000)]
    checks = [r for r in app.requests if r[0]]
    writes = [r for r in app.requests if not r[0]]
    assert app.requests == checks + writes and len(writes) > 1
    assert sum(count for _, _, count in checks) == sum(count for _, _, count in writes) == 1000


def test_a_bad_job_anywhere_fails_the_batch_before_anything_is_written():
    app = App(bad=750)
    with pytest.raises(InvalidPayloadError) as caught:
        enqueue_in_chunks(app, jobs(1000), {}, max_bytes=REQUEST_OVERHEAD + 20_000)
    assert app.written == [] and error_details(caught.value)["index"] == 750
    assert str(caught.value) == "jobs[750]: bad payload"


def test_a_write_failing_part_way_says_which_jobs_were_enqueued():
    app = App(fail_write_at=600)
    with pytest.raises(Exception) as caught:
        enqueue_in_chunks(app, jobs(1000), {}, max_bytes=REQUEST_OVERHEAD + 20_000)
    details = error_details(caught.value)
    assert details["enqueued"] == app.written and 0 < len(app.written) <= 600
    assert details["index"] == len(app.written) and "unconfirmed" not in details
    assert f"{len(app.written)} of 1000 jobs were enqueued" in str(caught.value)


def test_a_lost_answer_names_the_chunk_that_may_or_may_not_be_written():
    app = App(lost_at=500)
    with pytest.raises(ConnectionLostError) as caught:
        enqueue_in_chunks(app, jobs(1000), {}, max_bytes=REQUEST_OVERHEAD + 20_000)
    details = error_details(caught.value)
    start, end = details["unconfirmed"]
    assert start == len(app.written) <= 500 < end and details["enqueued"] == app.written


def test_a_chunk_the_app_finds_too_long_is_halved():
    app = App(max_bytes=30_000)
    assert enqueue_in_chunks(app, jobs(1000), {}, max_bytes=10**6) == [1000 + i for i in range(1000)]
    assert max(count for _, _, count in app.requests) < 1000


# -- the CLI's record -------------------------------------------------------------------------

class Backend:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.direct = False
        self.ops = SimpleNamespace(enqueue_many=self.enqueue_many)

    def enqueue_many(self, jobs, allow_unknown=False):
        raise self.error

    def notice(self, what: str) -> None:
        pass


def test_the_cli_prints_the_ids_enqueued_and_names_the_lines_when_a_batch_stops_part_way(capsys):
    error = with_details(ConnectionLostError("lost"), "lost", index=2, enqueued=[7, 8], unconfirmed=[2, 3])
    numbers = [1, 2, 4, 5, 6]  # line 3 was blank
    status = enqueue_batch(Backend(error), jobs(5), numbers, allow_unknown=False, as_json=False)
    out, err = capsys.readouterr()
    assert status == 1 and out == "7\n8\n"
    assert "batch line 4: lost" in err and "lines 1-2 (2 jobs) were enqueued" in err
    assert "lines 4-6 not" in err and "answer for line 4 never came" in err
    status = enqueue_batch(Backend(error), jobs(5), numbers, allow_unknown=False, as_json=True)
    record = json.loads(capsys.readouterr().out)
    assert status == 1 and record["ids"] == [7, 8] and record["failed_line"] == 4 and record["unconfirmed_lines"] == [4, 4]


def test_the_cli_raises_when_nothing_was_written():
    error = with_details(InvalidPayloadError("x"), "jobs[1]: x", index=1)
    with pytest.raises(InvalidPayloadError, match=r"^batch line 3: x$"):
        enqueue_batch(Backend(error), jobs(3), [1, 3, 4], allow_unknown=False, as_json=False)
