"""The details pane's header shows a job's last checkpoint and when it was saved (a real pane on a
real store, a job run by the real worker), and says nothing about checkpoints for a job without one."""

from __future__ import annotations

import pytest

from acacia_gui.core.schedules import Schedule
from acacia_gui.gui.formatting import format_timestamp
from acacia_gui.gui.widgets.details_pane import DetailsPane


@pytest.fixture
def pane(harness, settings, qtbot):
    widget = DetailsPane(harness.store, harness.registry, settings=settings)
    qtbot.addWidget(widget)
    widget.resize(760, 360)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_the_header_shows_the_last_checkpoint_and_when_it_was_saved(harness, pane, qtbot, tmp_path):
    job_id = harness.enqueue("test.steps", {"steps": 1})
    qtbot.waitUntil(lambda: str(harness.job(job_id).state) == "succeeded", timeout=5000)
    pane.show_job(job_id)
    assert "Checkpoint" not in pane.header.text()
    attempt = harness.job(job_id).attempts
    assert harness.store.save_checkpoint(job_id, attempt, '{"next":50,"file":"b.txt"}') is not None
    pane.show_job(job_id)
    line = pane.header.text().splitlines()[-1]
    assert line.startswith('Checkpoint: {"next": 50, "file": "b.txt"} · saved ') and line.endswith(f"by attempt {attempt}")
    qtbot.waitUntil(lambda: pane.header.height() >= 2 * pane.header.fontMetrics().lineSpacing(), timeout=3000)
    pane.grab().save(str(tmp_path / "checkpoint.png"))


def test_the_header_shows_the_schedule_slot_of_a_job_a_schedule_enqueued(harness, pane, qtbot):
    harness.queue.add_schedule(Schedule("nightly", "test.steps", {"steps": 1}, every=3600.0))
    job_id = harness.queue.run_schedule_now("nightly")
    job = harness.job(job_id)
    assert job.scheduled_for is not None
    pane.show_job(job_id)
    assert f"schedule slot {format_timestamp(job.scheduled_for)}" in pane.header.text()
    plain = harness.enqueue("test.steps", {"steps": 1})
    pane.show_job(plain)
    assert "schedule slot" not in pane.header.text()
