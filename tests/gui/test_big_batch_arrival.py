"""A 10,000-job batch arriving while the table is open: read and inserted a turn's worth at a time (issue 11).

No wall-clock figures (bench/gui_bench.py measures the stall): the test counts what makes it
fast — store reads and insert signals per turn — and checks the table ends up right.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel

from acacia_gui.core.context import Context
from acacia_gui.core.job import Job
from acacia_gui.gui.live import LiveUpdates
from acacia_gui.gui.models.columns import JobColumn, JobRole
from acacia_gui.gui.models.job_table_model import NEW_PER_TURN, JobTableModel

BATCH = 10_000


def test_a_big_batch_is_taken_in_a_turn_at_a_time(harness, qtbot, monkeypatch):
    harness.queue.pause("default")
    ctx = Context.background()
    old = harness.queue.enqueue_many(ctx, [Job("test.steps", {"steps": 1}) for _ in range(20)])
    model = JobTableModel(harness.store, harness.registry, page_size=50)
    live = LiveUpdates(harness.services.bridge.event_received)
    live.batch_ready.connect(model.apply_batch)
    selection = QItemSelectionModel(model)
    selection.select(model.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                     | QItemSelectionModel.SelectionFlag.Rows)  # fmt: skip
    selected_id = max(old)
    reads: list[int] = []
    store_list_jobs = harness.store.list_jobs

    def counting_list_jobs(*args, **kwargs):
        reads.append(len(kwargs.get("ids") or ()))
        return store_list_jobs(*args, **kwargs)

    monkeypatch.setattr(harness.store, "list_jobs", counting_list_jobs)
    inserts: list[int] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserts.append(last - first + 1))
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))

    new = harness.queue.enqueue_many(ctx, [Job("test.steps", {"steps": 1}) for _ in range(BATCH)])
    live.flush()  # all 10,000 'enqueued' events in one batch

    # The first turn reads and inserts only NEW_PER_TURN rows — the newest, so the top of the table is right at once.
    assert len(reads) == 1 and reads[0] == NEW_PER_TURN
    assert inserts == [NEW_PER_TURN]
    assert model.pending_count == BATCH - NEW_PER_TURN
    assert model.index(0, JobColumn.ID).data(JobRole.JOB_ID) == max(new)
    assert all(model.holds(job_id) for job_id in new)

    qtbot.waitUntil(lambda: model.pending_count == 0, timeout=10_000)
    turns = BATCH // NEW_PER_TURN
    assert len(reads) == turns and max(reads) == NEW_PER_TURN  # one read of NEW_PER_TURN ids a turn
    assert len(inserts) == turns and sum(inserts) == BATCH  # one contiguous insert a turn
    assert resets == []
    assert model.rowCount() == 20 + BATCH
    first_page = [model.index(r, JobColumn.ID).data(JobRole.JOB_ID) for r in range(50)]
    assert first_page == sorted(new, reverse=True)[:50]
    rows = selection.selectedRows()
    assert [model.index(i.row(), JobColumn.ID).data(JobRole.JOB_ID) for i in rows] == [selected_id]
    assert rows[0].row() == BATCH
    live.close()
