"""The job table model: pages from the database, live row-precise updates, checked by QAbstractItemModelTester."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from acacia_gui.core.context import Context
from acacia_gui.core.definitions import STATE_RANK
from acacia_gui.core.job import Job
from acacia_gui.gui.live import LiveUpdates
from acacia_gui.gui.models.columns import JobColumn, JobRole
from acacia_gui.gui.models.job_filter import JobFilter
from acacia_gui.gui.models.job_table_model import JobTableModel


@pytest.fixture
def live_model(harness, qtbot):
    """A model kept live the way the window does it, with the model tester watching every change."""
    model = JobTableModel(harness.store, harness.registry, page_size=50)
    live = LiveUpdates(harness.services.bridge.event_received)
    live.batch_ready.connect(model.apply_batch)
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
    yield model, live
    live.close()
    del tester


def ids_in(model: JobTableModel) -> list[int]:
    return [model.index(r, JobColumn.ID).data(JobRole.JOB_ID) for r in range(model.rowCount())]


def model_failures(qtlog) -> list[str]:
    return [r.message for r in qtlog.records if "FAIL" in r.message or "QAbstractItemModelTester" in r.message]


def enqueue_paused(harness, n: int, job_type: str = "test.steps", queue: str = "default") -> list[int]:
    harness.queue.pause(queue)
    jobs = [Job(job_type, {"steps": 1}, queue=queue) for _ in range(n)]
    return harness.queue.enqueue_many(Context.background(), jobs)


def test_pages_are_fetched_on_demand(harness, live_model, qtlog):
    model, _live = live_model
    ids = enqueue_paused(harness, 120)
    model.reload()
    assert model.rowCount() == 50
    assert ids_in(model) == sorted(ids, reverse=True)[:50]  # newest first
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 120
    assert not model.canFetchMore(QModelIndex())
    assert ids_in(model) == sorted(ids, reverse=True)
    assert model_failures(qtlog) == []


def test_live_changes_update_rows_without_reset(harness, live_model, qtbot, qtlog):
    model, live = live_model
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    ids = [harness.enqueue("test.steps", {"steps": 3, "delay": 0.01}) for _ in range(20)]
    qtbot.waitUntil(lambda: all(harness.job(i).state == "succeeded" for i in ids), timeout=10_000)
    live.flush()
    qtbot.waitUntil(lambda: all(model.index(model.row_of(i), JobColumn.STATE).data(JobRole.STATE) == "succeeded"
                                for i in ids), timeout=5000)  # fmt: skip
    assert resets == []
    assert ids_in(model) == sorted(ids, reverse=True)
    assert model_failures(qtlog) == []


def test_selection_survives_inserts_moves_and_removals(harness, live_model, qtbot, qtlog):
    model, live = live_model
    ids = enqueue_paused(harness, 30)
    model.reload()
    model.sort(JobColumn.STATE, Qt.SortOrder.AscendingOrder)  # a state change now moves rows
    selection = QItemSelectionModel(model)
    chosen = ids[10]
    selection.select(model.index(model.row_of(chosen), 0),
                     QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)  # fmt: skip
    harness.queue.cancel(ids[3])  # queued → cancelled: moves below the queued ones (lifecycle order)
    harness.queue.delete([ids[5]])
    enqueue_paused(harness, 5)
    harness.queue.cancel(chosen)  # the selected row itself moves
    live.flush()
    qtbot.waitUntil(lambda: model.index(model.row_of(chosen), 0).data(JobRole.STATE) == "cancelled", timeout=5000)
    selected = [model.index(i.row(), 0).data(JobRole.JOB_ID) for i in selection.selectedRows()]
    assert selected == [chosen]
    assert model.row_of(ids[5]) == -1
    states = [model.index(r, 0).data(JobRole.STATE) for r in range(model.rowCount())]
    assert states == sorted(states, key=STATE_RANK.__getitem__)  # still in lifecycle order after the moves
    assert model_failures(qtlog) == []


def test_filter_membership_follows_state_changes(harness, live_model, qtbot, tmp_path, qtlog):
    model, _live = live_model
    marker = tmp_path / "marker"
    marker.write_text("x")
    model.set_filter(JobFilter(states=("failed",)))
    assert model.rowCount() == 0
    job_id = harness.enqueue("test.flaky", {"marker": str(marker)})
    qtbot.waitUntil(lambda: model.row_of(job_id) >= 0, timeout=5000)  # it failed: now it matches
    marker.unlink()
    harness.queue.retry(job_id)
    qtbot.waitUntil(lambda: model.row_of(job_id) == -1, timeout=5000)  # queued again: gone from "failed"
    qtbot.waitUntil(lambda: harness.job(job_id).state == "succeeded", timeout=5000)
    assert model_failures(qtlog) == []


def test_search_and_type_filters(harness, live_model):
    model, _live = live_model
    harness.queue.pause("default")
    harness.queue.pause("other")
    a = harness.enqueue("test.steps", {"steps": 1, "label": "apple"})
    b = harness.enqueue("test.steps", {"steps": 1, "label": "banana"}, queue="other")
    c = harness.enqueue("test.gate", {"fruit": "apple pie"})
    model.set_filter(JobFilter(search="apple"))
    assert sorted(ids_in(model)) == [a, c]
    model.set_filter(JobFilter(search="apple", type="test.steps"))
    assert ids_in(model) == [a]
    model.set_filter(JobFilter(queue="other"))
    assert ids_in(model) == [b]
    model.set_filter(JobFilter(search=str(c)))
    assert ids_in(model) == [c]


def test_progress_reaches_the_model(harness, live_model, qtbot):
    model, _live = live_model
    job_id = harness.enqueue("test.steps", {"steps": 30, "delay": 0.03})
    seen: set[float] = set()

    def moved() -> bool:
        row = model.row_of(job_id)
        value = model.index(row, JobColumn.PROGRESS).data(JobRole.PROGRESS) if row >= 0 else None
        if value is not None:
            seen.add(value)
        return len(seen) >= 3

    qtbot.waitUntil(moved, timeout=10_000)
    assert max(seen) <= 1.0
    message = model.index(model.row_of(job_id), JobColumn.PROGRESS).data(JobRole.MESSAGE)
    assert message.startswith("step ")


def test_unsortable_column_keeps_the_order(harness, live_model):
    model, _live = live_model
    enqueue_paused(harness, 5)
    model.reload()
    reported = []
    model.sort_changed.connect(lambda column, order: reported.append((column, order)))
    model.sort(JobColumn.CANCEL, Qt.SortOrder.AscendingOrder)
    assert model.sort_column == JobColumn.ID
    assert reported == [(JobColumn.ID, Qt.SortOrder.DescendingOrder)]
    model.sort(JobColumn.CREATED, Qt.SortOrder.AscendingOrder)
    assert ids_in(model) == sorted(ids_in(model))


def test_trim_drops_the_tail_and_fetch_more_brings_it_back(harness, live_model, qtlog):
    model, _live = live_model
    ids = enqueue_paused(harness, 120)
    model.reload()
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 100
    assert model.trim(30) == 70
    assert model.rowCount() == 30 and model.canFetchMore(QModelIndex())
    assert model.row_of(sorted(ids, reverse=True)[40]) == -1
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert ids_in(model) == sorted(ids, reverse=True)
    assert model_failures(qtlog) == []


def test_selection_survives_clearing_thousands_of_finished_jobs(harness, qtbot):
    """`acacia delete --finished` with the window open: rows go row-precisely, never a reset.

    No model tester here: it re-checks the whole model on every removal signal.
    """
    from PySide6.QtWidgets import QTableView

    ids = enqueue_paused(harness, 2600)
    finished = [job_id for n, job_id in enumerate(ids) if n % 10]  # 2340 finished, in runs between kept rows
    for job_id in finished:
        harness.queue.cancel(job_id)
    model = JobTableModel(harness.store, harness.registry, page_size=500)
    live = LiveUpdates(harness.services.bridge.event_received)
    live.batch_ready.connect(model.apply_batch)
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    chosen = ids[1200]  # a queued job, kept
    view.selectRow(model.row_of(chosen))
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    assert len(harness.queue.clear_finished()) == len(finished)
    live.flush()
    qtbot.waitUntil(lambda: model.rowCount() == len(ids) - len(finished), timeout=10_000)
    assert resets == []
    assert ids_in(model) == sorted(set(ids) - set(finished), reverse=True)
    assert [model.job_at(i.row()).id for i in view.selectionModel().selectedRows()] == [chosen]
    assert view.currentIndex().row() == model.row_of(chosen)
    live.close()
