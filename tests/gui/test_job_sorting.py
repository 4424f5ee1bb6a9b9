"""Sorting the job table: states by lifecycle (not alphabetically), Duration, and the selection kept across a re-sort."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from acacia_gui.core.definitions import STATE_RANK, SortField
from acacia_gui.gui.models.columns import JobColumn, JobRole
from acacia_gui.gui.models.job_row import JobRow, RowOrder
from acacia_gui.gui.models.job_table_model import JobTableModel


@pytest.fixture
def mixed(harness, qtbot, tmp_path):
    """Jobs in six states with different durations: {state: [ids]}; one job keeps running."""
    marker = tmp_path / "fail-while-here"
    marker.write_text("x")
    jobs: dict[str, list[int]] = {}
    jobs["succeeded"] = [harness.enqueue("test.steps", {"steps": 2, "delay": d}) for d in (0.01, 0.15, 0.05)]
    jobs["failed"] = [harness.enqueue("test.flaky", {"marker": str(marker)}) for _ in range(2)]
    done = jobs["succeeded"] + jobs["failed"]
    qtbot.waitUntil(lambda: all(harness.job(i).state in ("succeeded", "failed") for i in done), timeout=10_000)
    jobs["running"] = [harness.enqueue("test.gate", {})]
    qtbot.waitUntil(lambda: harness.job(jobs["running"][0]).started_at is not None, timeout=5000)
    harness.queue.pause("other")
    jobs["queued"] = [harness.enqueue("test.steps", {"steps": 1}, queue="other") for _ in range(3)]
    jobs["scheduled"] = [harness.enqueue("test.steps", {"steps": 1}, delay=3600) for _ in range(2)]
    jobs["cancelled"] = [harness.enqueue("test.steps", {"steps": 1}, queue="other")]
    harness.queue.cancel(jobs["cancelled"][0])
    for state, ids in jobs.items():
        assert {harness.job(i).state for i in ids} == {state}, state
    yield jobs
    harness.queue.cancel(jobs["running"][0])


def all_rows(model: JobTableModel) -> list[JobRow]:
    while model.canFetchMore():
        model.fetchMore()
    return [model.index(r, 0).data(JobRole.ROW) for r in range(model.rowCount())]


def test_states_sort_by_lifecycle_across_pages(harness, mixed):
    model = JobTableModel(harness.store, harness.registry, page_size=3)  # many pages
    model.sort(JobColumn.STATE, Qt.SortOrder.AscendingOrder)
    states = [row.state for row in all_rows(model)]
    expected = ["running", "queued", "scheduled", "failed", "cancelled", "succeeded"]
    assert list(dict.fromkeys(states)) == expected  # grouped, in lifecycle order, not alphabetical
    assert [STATE_RANK[s] for s in states] == sorted(STATE_RANK[s] for s in states)
    model.sort(JobColumn.STATE, Qt.SortOrder.DescendingOrder)
    assert list(dict.fromkeys(row.state for row in all_rows(model))) == expected[::-1]
    # The store, the socket and the CLI order the same way.
    listed = [job.state for job in harness.store.list_jobs(order_by="state", limit=4, offset=2)]
    assert listed == states[2:6]


def test_duration_is_sortable_and_matches_the_store(harness, mixed):
    model = JobTableModel(harness.store, harness.registry, page_size=4)
    model.sort(JobColumn.DURATION, Qt.SortOrder.DescendingOrder)
    assert model.sort_column == JobColumn.DURATION
    rows = all_rows(model)
    assert [row.id for row in rows] == [job.id for job in harness.store.list_jobs(order_by="duration", descending=True)]
    assert rows[0].id == mixed["running"][0]  # still going: longer than any finished job
    finished = [row for row in rows if row.finished_at is not None and row.started_at is not None]
    lengths = [row.finished_at - row.started_at for row in finished]
    assert lengths == sorted(lengths, reverse=True) and len(finished) >= 5
    assert rows[-1].started_at is None  # never started: no duration, last when descending
    order = RowOrder(SortField.DURATION, descending=True)
    assert [order.key(r) for r in rows] == sorted((order.key(r) for r in rows), reverse=True)


def test_the_selection_is_kept_when_the_sort_changes(window, harness, mixed, qtbot):
    chosen = [mixed["queued"][1], mixed["succeeded"][2]]
    qtbot.waitUntil(lambda: all(window.model.row_of(i) >= 0 for i in chosen), timeout=5000)
    table = window.table
    assert table.select_job(chosen[0])
    table.selectionModel().select(window.model.index(window.model.row_of(chosen[1]), 0),
                                  table.selectionModel().SelectionFlag.Select | table.selectionModel().SelectionFlag.Rows)
    assert sorted(table.selected_job_ids()) == sorted(chosen)
    table.horizontalHeader().setSortIndicator(JobColumn.STATE, Qt.SortOrder.AscendingOrder)  # a header click
    assert window.model.sort_column == JobColumn.STATE
    assert sorted(table.selected_job_ids()) == sorted(chosen)
    assert table.current_job_id() == chosen[0]
    assert window.details.job_id == chosen[0]
    table.sortByColumn(JobColumn.DURATION, Qt.SortOrder.DescendingOrder)
    assert sorted(table.selected_job_ids()) == sorted(chosen)
    assert window.details.job_id == chosen[0]
