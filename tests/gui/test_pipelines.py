"""Pipelines in the window: the Dependencies and Pipeline tabs, the After field, the "why" line, retry with dependents."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from acacia_gui.gui.formatting import STATE_COLOURS
from acacia_gui.gui.models.columns import JobColumn
from acacia_gui.gui.why_line import WhyLine
from acacia_gui.gui.widgets.details_pane import DetailsPane
from acacia_gui.gui.widgets.pipeline_view import NodeItem, PipelineView, arrange, layer_of

from .helpers import state_in_table


def wait_state(qtbot, harness, job_id: int, *states: str, timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: str(harness.job(job_id).state) in states, timeout=timeout)


def dependency_rows(view, group: int) -> list[tuple[str, str, str]]:
    """(job, state, policy) of each row under group 0 ("Runs after") or 1 ("Runs before")."""
    top = view.tree.topLevelItem(group)
    return [(top.child(i).text(0), top.child(i).text(2), top.child(i).text(4)) for i in range(top.childCount())]


def test_the_dependencies_tab_lists_both_directions_live_and_enter_selects_the_job(window, harness, qtbot):
    first = harness.enqueue("test.gate", {})
    middle = harness.enqueue("test.steps", {"steps": 1}, after=[first])
    last = harness.enqueue("test.steps", {"steps": 1}, after=[middle], after_policy="finished")
    wait_state(qtbot, harness, first, "running")
    qtbot.waitUntil(lambda: window.table.select_job(middle), timeout=5000)
    details = window.details
    details.tabs.setCurrentWidget(details.dependencies)
    view = details.dependencies
    assert view.currentWidget() is view.tree
    assert dependency_rows(view, 0) == [(f"Job {first}", "Running", "success")]
    assert dependency_rows(view, 1) == [(f"Job {last}", "Waiting", "finished")]
    assert details.tabs.tabText(details.tabs.indexOf(view)) == "Dependencies (2)"

    harness.queue.cancel(first)  # live: the upstream row turns Cancelled, and so does this job
    qtbot.waitUntil(lambda: dependency_rows(view, 0)[0][1] == "Cancelled", timeout=10_000)
    wait_state(qtbot, harness, middle, "cancelled")

    item = view.tree.topLevelItem(1).child(0)
    view.tree.setFocus()
    view.tree.setCurrentItem(item)
    qtbot.keyClick(view.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.table.shown_job_id() == last and details.job_id == last, timeout=5000)


def test_a_job_without_dependencies_says_so(window, harness, qtbot):
    job_id = harness.enqueue("test.steps", {"steps": 1})
    qtbot.waitUntil(lambda: window.table.select_job(job_id), timeout=5000)
    details = window.details
    details.tabs.setCurrentWidget(details.dependencies)
    details.show_job(job_id)
    assert details.dependencies.currentWidget() is details.dependencies.empty
    assert details.pipeline.currentWidget() is details.pipeline.empty


def test_the_pipeline_view_draws_nodes_and_edges_and_recolours_in_place(window, harness, qtbot):
    top = harness.enqueue("test.gate", {})
    left = harness.enqueue("test.steps", {"steps": 1}, after=[top])
    right = harness.enqueue("test.steps", {"steps": 1}, after=[top], after_policy="finished")
    bottom = harness.enqueue("test.steps", {"steps": 1}, after=[left, right])
    wait_state(qtbot, harness, top, "running")
    qtbot.waitUntil(lambda: window.table.select_job(left), timeout=5000)
    details = window.details
    details.tabs.setCurrentWidget(details.pipeline)
    pipeline = details.pipeline
    qtbot.waitUntil(lambda: len(pipeline.nodes) == 4, timeout=5000)
    assert sorted((a, b) for a, b, _ in pipeline.edges) == sorted([(top, left), (top, right), (left, bottom),
                                                                   (right, bottom)])  # fmt: skip
    assert {job_id: pipeline.nodes[job_id].pos().x() for job_id in (top, left, right, bottom)} == {
        top: 0.0, left: pipeline.nodes[right].pos().x(), right: pipeline.nodes[left].pos().x(),
        bottom: 2 * pipeline.nodes[left].pos().x()}  # layered: every arrow points right
    node = pipeline.nodes[top]
    assert node.brush().color() == QColor(STATE_COLOURS["running"])
    assert pipeline.nodes[bottom].detail.text() == "Waiting"
    items_before = len(pipeline.scene.items())

    harness.queue.cancel(top)  # left is cancelled with it; right (policy finished) runs; bottom is cancelled
    qtbot.waitUntil(lambda: node.brush().color() == QColor(STATE_COLOURS["cancelled"]), timeout=10_000)
    qtbot.waitUntil(lambda: pipeline.nodes[right].state == "succeeded" and pipeline.nodes[bottom].state == "cancelled",
                    timeout=10_000)  # fmt: skip
    assert pipeline.nodes[top] is node and len(pipeline.scene.items()) == items_before  # not rebuilt

    target = pipeline.nodes[right]  # a click on a node selects its job
    point = pipeline.view.mapFromScene(target.sceneBoundingRect().center())
    qtbot.mouseClick(pipeline.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: window.table.shown_job_id() == right and details.job_id == right, timeout=5000)
    assert pipeline.nodes[right] is target  # the same graph: only the outline moved


def test_a_pipeline_bigger_than_the_limit_says_it_shows_part_of_it(harness, qtbot):
    ids = [harness.enqueue("test.gate", {})]
    for _ in range(5):
        ids.append(harness.enqueue("test.steps", {"steps": 1}, after=[ids[-1]]))
    view = PipelineView(harness.store, limit=3)
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.show()
    qtbot.waitExposed(view)
    view.show_job(ids[0])
    assert len(view.nodes) == 3 and view.truncated
    assert view.note.text().startswith("Showing 3 of more jobs")
    harness.queue.cancel(ids[0])


def test_layers_are_the_longest_path_from_a_root():
    edges = [(1, 2), (2, 3), (1, 3), (3, 4), (5, 4)]
    assert layer_of([1, 2, 3, 4, 5], edges) == {1: 0, 2: 1, 3: 2, 4: 3, 5: 0}
    places = arrange([1, 2, 3, 4, 5], edges)
    assert places[1] == (0, 0) and places[5] == (0, 1) and places[4] == (3, 0)


def test_the_after_field_is_checked_and_the_job_waits_with_its_edges(window, harness, qtbot):
    upstream = harness.enqueue("test.gate", {})
    wait_state(qtbot, harness, upstream, "running")
    qtbot.waitUntil(lambda: window.table.select_job(upstream), timeout=5000)
    dialog = window.job_actions.new_job_after_selected()  # "New job after this one…" pre-fills the field
    qtbot.addWidget(dialog)
    assert dialog.after.line.text() == str(upstream)
    dialog.select_type("test.steps")
    for text, words in (("12x", "is not a job id"), ("987654", "No job 987654")):
        dialog.after.line.setText(text)
        assert words in dialog.problem and not dialog.enqueue_button.isEnabled()
        assert dialog.after.error_label.isVisibleTo(dialog) and words in dialog.after.error_label.text()
    dialog.after.line.setText(f" {upstream}, ")
    assert not dialog.problem and not dialog.after.error_label.isVisibleTo(dialog)
    dialog.after.policy_box.setCurrentIndex(dialog.after.policy_box.findData("finished"))
    dialog.enqueue_button.click()
    assert dialog.job_id is not None
    job = harness.job(dialog.job_id)
    assert str(job.state) == "waiting"
    assert [(d["id"], d["policy"]) for d in harness.store.get_dependencies(dialog.job_id)["upstream"]] == [
        (upstream, "finished")]
    harness.queue.cancel(upstream)  # finished: it runs anyway
    wait_state(qtbot, harness, dialog.job_id, "succeeded")


def test_why_tooltip_and_header_line_for_a_waiting_job_and_a_paused_queue(window, harness, qtbot):
    upstream = harness.enqueue("test.gate", {})
    waiting = harness.enqueue("test.steps", {"steps": 1}, after=[upstream])
    harness.queue.pause("slow")
    paused = harness.enqueue("test.steps", {"steps": 1}, queue="slow")
    wait_state(qtbot, harness, upstream, "running")

    def tooltip(job_id: int) -> str:
        row = window.model.row_of(job_id)
        return window.model.index(row, JobColumn.STATE).data(Qt.ItemDataRole.ToolTipRole) if row >= 0 else ""

    qtbot.waitUntil(lambda: state_in_table(window, waiting) == "waiting", timeout=5000)
    assert tooltip(waiting) == f"waiting on dependency {upstream} (running)"
    qtbot.waitUntil(lambda: state_in_table(window, paused) == "queued", timeout=5000)
    assert tooltip(paused) == "queue `slow` is paused"
    assert window.table.select_job(paused)
    assert "Not running: queue `slow` is paused" in window.details.header.text()
    assert window.table.select_job(upstream)
    assert "Not running" not in window.details.header.text()  # it is running
    harness.queue.cancel(upstream)


def test_retry_with_dependents_from_the_window(window, harness, qtbot, tmp_path):
    marker = tmp_path / "fail-now"
    marker.write_text("x")
    flaky = harness.enqueue("test.flaky", {"marker": str(marker)})
    after = harness.enqueue("test.steps", {"steps": 1}, after=[flaky])
    wait_state(qtbot, harness, flaky, "failed")
    wait_state(qtbot, harness, after, "cancelled")
    alone = harness.enqueue("test.flaky", {"marker": str(marker)})
    wait_state(qtbot, harness, alone, "failed")
    qtbot.waitUntil(lambda: window.table.select_job(alone), timeout=5000)
    window.job_actions.update_enabled()
    assert window.job_actions.retry.isEnabled() and not window.job_actions.retry_dependents.isEnabled()
    assert window.table.select_job(flaky)
    window.job_actions.update_enabled()
    assert window.job_actions.retry_dependents.isEnabled()
    assert window.job_actions.retry_dependents.shortcut().toString() == "Ctrl+Alt+R"
    assert window.job_actions.retry_dependents in window.job_actions.context_menu().actions()
    marker.unlink()
    window.job_actions.retry_dependents.trigger()
    wait_state(qtbot, harness, flaky, "succeeded")
    wait_state(qtbot, harness, after, "succeeded")
    qtbot.waitUntil(lambda: state_in_table(window, after) == "succeeded", timeout=5000)


def test_the_node_of_every_state_has_its_colour(harness):
    for state, colour in STATE_COLOURS.items():
        node = NodeItem({"id": 1, "type": "x", "state": state, "progress": 0.5, "queue": "default"})
        assert node.brush().color() == QColor(colour)


MEDIA_PLUGIN = '''
from acacia_gui.jobs import handler

@handler("media.download", title="Download")
def download(ctx, job):
    return {"bytes": 7_340_032}

@handler("media.convert", title="Convert video")
def convert(ctx, job):
    while job.payload.get("hold") and not ctx.wait(0.05):
        job.report_progress(0.42, "frame 433 of 1,030")
    ctx.check()
    return {"file": job.payload["to"]}

@handler("media.upload", title="Upload")
def upload(ctx, job):
    return None
'''


def media_pipeline(harness, qtbot) -> dict[str, int]:
    """download → convert (3 sizes) → upload → notify: two succeeded, one running, one queued, two waiting."""
    (harness.config.plugins_dir / "media.py").write_text(MEDIA_PLUGIN, encoding="utf-8")
    harness.services.reload_plugins()
    harness.queue.set_concurrency("convert", 1)  # the held conversion keeps the last one queued
    ids = {"download": harness.enqueue("media.download", {"url": "https://example.org/talk.mov"})}
    for name, hold in (("720p", False), ("1080p", True), ("4k", False)):
        ids[name] = harness.enqueue("media.convert", {"to": f"talk-{name}.mp4", "hold": hold}, queue="convert",
                                    after=[ids["download"]])  # fmt: skip
    ids["upload"] = harness.enqueue("media.upload", {"to": "s3://talks/2026/"}, after=[ids[n] for n in ("720p", "1080p", "4k")])
    ids["notify"] = harness.enqueue("media.upload", {"to": "mailto:team"}, after=[ids["upload"]], after_policy="finished")
    qtbot.waitUntil(lambda: harness.store.get_job(ids["1080p"]).progress is not None, timeout=10_000)
    return ids


def test_screenshots_of_the_dependencies_tab_and_the_pipeline_view(harness, settings, qtbot, tmp_path):
    """ACACIA_UPDATE_SCREENSHOTS=1 writes them to docs/screenshots for the README."""
    ids = media_pipeline(harness, qtbot)
    pane = DetailsPane(harness.store, harness.registry, settings=settings)
    pane.why = WhyLine(harness.store, harness.registry, harness.worker).line
    qtbot.addWidget(pane)
    pane.resize(1000, 340)
    pane.show()
    qtbot.waitExposed(pane)
    docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    update = os.environ.get("ACACIA_UPDATE_SCREENSHOTS") == "1"
    pane.show_job(ids["upload"])
    pane.tabs.setCurrentWidget(pane.dependencies)
    QApplication.processEvents()
    assert pane.dependencies.count == 4 and "waiting on dependencies" in pane.header.text()
    assert pane.grab().save(str(docs / "dependencies-tab.png" if update else tmp_path / "dependencies-tab.png"))
    pane.show_job(ids["1080p"])
    pane.tabs.setCurrentWidget(pane.pipeline)
    qtbot.waitUntil(lambda: len(pane.pipeline.nodes) == 6, timeout=5000)
    QApplication.processEvents()
    assert pane.grab().save(str(docs / "pipeline-view.png" if update else tmp_path / "pipeline-view.png"))
    harness.queue.cancel(ids["1080p"])
