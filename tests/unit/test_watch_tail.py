"""JobTail (ipc/watch.py): a job watch's replay and follow, on a store double, page by page.

The integration tests (tests/integration/test_socket_watch_replay.py) run it in a real
app; these check the merge of the two tables across page boundaries, where a watch ends
and what waits until the replay has caught up.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from acacia_gui.core.definitions import WATCHABLE_EVENT_KINDS
from acacia_gui.ipc.watch import END, IDLE, MORE, JobTail


class Store:
    """Events and log lines of job 1, in id order, as the JobStore methods a tail uses return them."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.logs: list[dict] = []
        self.state = "queued"
        self._next = 0

    def event(self, old: str | None, new: str, at: float) -> int:
        self._next += 1
        self.events.append({"id": self._next, "at": at, "source": "worker", "old_state": old, "new_state": new,
                            "message": ""})  # fmt: skip
        self.state = new
        return self._next

    def log(self, message: str, at: float) -> int:
        self._next += 1
        self.logs.append({"id": self._next, "at": at, "level": "INFO", "message": message})
        return self._next

    def get_events_page(self, job_id, *, after=0, limit=1000, last=None):
        rows = [e for e in self.events if e["id"] > after]
        return rows[-last:] if last else rows[:limit]

    def get_logs(self, job_id, *, after=0, limit=1000, last=None):
        rows = [line for line in self.logs if line["id"] > after]
        return rows[-last:] if last else rows[:limit]

    def get_job(self, job_id):
        return SimpleNamespace(state=self.state, error="boom" if self.state == "failed" else None, attempts=1)


def tail_of(store: Store, *, since: int = 0, since_log: int = 0, page: int = 2, kinds=WATCHABLE_EVENT_KINDS,
            progress: float | None = None) -> JobTail:  # fmt: skip
    last = store.get_events_page(1, last=1)
    job = {"id": 1, "queue": "q", "type": "t", "state": store.state, "progress": progress, "progress_message": ""}
    return JobTail(store, job, frozenset(kinds), event_after=since, log_after=since_log,
                   horizon=last[0] if last else None, page=page)  # fmt: skip


def drain(tail: JobTail) -> tuple[list[dict], str]:
    sent: list[dict] = []
    while True:
        events, status = tail.next_batch()
        sent += events
        if status != MORE:
            return sent, status


def describe(events: list[dict]) -> list[str]:
    return [e["message"] if e["kind"] == "log" else f'{e["kind"]}:{e.get("state")}' for e in events]


def a_finished_job() -> Store:
    store = Store()
    store.event(None, "queued", 1.0)
    store.event("queued", "running", 2.0)
    for i in range(5):
        store.log(f"line {i}", 3.0 + i)
    store.event("running", "succeeded", 9.0)
    return store


def test_a_finished_job_is_replayed_in_time_order_across_pages_then_the_watch_ends():
    tail = tail_of(a_finished_job(), progress=1.0)
    sent, status = drain(tail)
    assert status == END and tail.finished_before_watch
    assert describe(sent) == ["enqueued:queued", "state:running", "line 0", "line 1", "line 2", "line 3", "line 4",
                              "progress:succeeded", "state:succeeded"]  # fmt: skip
    assert sent[-1]["error"] is None and sent[-1]["attempt"] == 1 and sent[0]["type"] == "t"
    assert [e["log_id"] for e in sent if e["kind"] == "log"] == [3, 4, 5, 6, 7]


def test_the_final_state_waits_for_every_line_even_one_stamped_later():
    store = a_finished_job()
    store.logs.append({"id": 99, "at": 50.0, "level": "INFO", "message": "late stamp"})
    sent, status = drain(tail_of(store, page=2))
    assert status == END and describe(sent)[-2:] == ["late stamp", "state:succeeded"]


def test_a_running_job_is_replayed_then_followed_without_duplicates():
    store = Store()
    store.event(None, "queued", 1.0)
    store.event("queued", "running", 2.0)
    store.log("early", 3.0)
    tail = tail_of(store)
    sent, status = drain(tail)
    assert status == IDLE and describe(sent) == ["enqueued:queued", "state:running", "early"]
    assert drain(tail) == ([], IDLE)  # nothing new: nothing again
    store.log("later", 4.0)
    tail.hold({"kind": "progress", "job_id": 1, "progress": 0.5})
    tail.hold({"kind": "progress", "job_id": 1, "progress": 0.6})  # only the latest progress is kept
    sent, status = drain(tail)
    assert status == IDLE and describe(sent) == ["later", "progress:None"] and sent[-1]["progress"] == 0.6
    store.event("running", "failed", 5.0)
    sent, status = drain(tail)
    assert status == END and describe(sent) == ["state:failed"] and sent[0]["error"] == "boom"
    assert not tail.finished_before_watch


def test_since_skips_what_the_client_saw_and_an_old_final_state_does_not_end_the_watch():
    store = Store()
    store.event(None, "queued", 1.0)
    store.event("queued", "running", 2.0)
    store.event("running", "failed", 3.0)
    retried = store.event("failed", "queued", 4.0)
    tail = tail_of(store, since=1)
    sent, status = drain(tail)
    assert status == IDLE and describe(sent) == ["state:running", "state:failed", "state:queued"]
    assert tail.event_after == retried
    now = tail_of(store, since=retried)
    assert drain(now) == ([], IDLE)


def test_since_now_on_a_finished_job_ends_at_once_with_only_new_lines():
    store = a_finished_job()
    last_line = store.logs[-1]["id"]
    tail = tail_of(store, since=store.events[-1]["id"], since_log=last_line)
    assert drain(tail) == ([], END)
    tail = tail_of(store, since=store.events[-1]["id"], since_log=store.logs[2]["id"])
    sent, status = drain(tail)
    assert status == END and describe(sent) == ["line 3", "line 4"]


@pytest.mark.parametrize("kinds", [["log"], ["state"], ["progress"]])
def test_kinds_filter_but_the_final_state_always_ends_the_stream(kinds):
    sent, status = drain(tail_of(a_finished_job(), kinds=kinds, progress=1.0))
    assert status == END and sent[-1]["kind"] == "state" and sent[-1]["state"] == "succeeded"
    assert {e["kind"] for e in sent[:-1]} <= set(kinds)
    if kinds == ["log"]:
        assert describe(sent)[:-1] == [f"line {i}" for i in range(5)]
