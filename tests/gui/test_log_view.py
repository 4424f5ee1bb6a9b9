"""The details pane's log view: colours by level, level filter, "Show DEBUG", search, follow the tail,
Copy and Save as… (also on the payload and the result)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QToolButton

from acacia_gui.gui.widgets.details_pane import DetailsPane
from acacia_gui.gui.widgets.log_view import SHOW_DEBUG_KEY, LogView, level_colour

SAMPLE = [("DEBUG", "debug: connecting"), ("INFO", "info: started"), ("WARNING", "warning: slow disk"),
          ("ERROR", "error: it broke"), ("CRITICAL", "critical: gave up"), ("stdout", "stdout: hello"),
          ("stderr", "stderr: careful")]  # fmt: skip


@pytest.fixture
def view(qtbot, settings):
    widget = LogView(settings=settings)
    qtbot.addWidget(widget)
    widget.resize(500, 200)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def shown_lines(view: LogView) -> list[str]:
    return view.shown_text().splitlines()


def colour_of(view: LogView, needle: str) -> QColor | None:
    block = view.text.document().begin()
    while block.isValid():
        if needle in block.text():
            fmt = block.begin().fragment().charFormat()
            return fmt.foreground().color() if fmt.hasProperty(fmt.Property.ForegroundBrush) else None
        block = block.next()
    raise AssertionError(f"{needle!r} is not shown")


def test_lines_are_coloured_by_level(view):
    view.show_debug.setChecked(True)
    view.append_lines(SAMPLE)
    palette = view.text.palette()
    red, amber = level_colour("ERROR", palette), level_colour("WARNING", palette)
    assert colour_of(view, "error: it broke") == red
    assert colour_of(view, "critical: gave up") == red
    assert colour_of(view, "warning: slow disk") == amber
    assert colour_of(view, "stderr: careful") == level_colour("stderr", palette) != level_colour("stdout", palette)
    assert colour_of(view, "info: started") is None  # the palette's text colour
    assert colour_of(view, "stdout: hello") is None
    grey = colour_of(view, "debug: connecting")
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    assert grey is not None and grey not in (text, base)


def test_colours_stay_readable_on_a_dark_palette():
    dark = QPalette()
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e0e0e0"))
    light = QPalette()
    light.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    light.setColor(QPalette.ColorRole.Text, QColor("#000000"))
    for level in ("ERROR", "WARNING", "stderr", "DEBUG"):
        on_dark, on_light = level_colour(level, dark), level_colour(level, light)
        assert on_dark is not None and on_light is not None
        assert on_dark.lightness() > on_light.lightness(), level
        assert abs(on_dark.lightness() - dark.color(QPalette.ColorRole.Base).lightness()) > 80, level


def test_debug_is_hidden_by_default_and_shown_when_asked(view, settings):
    assert not view.show_debug.isChecked()
    view.append_lines(SAMPLE)
    assert "debug: connecting" not in view.shown_text()
    assert len(shown_lines(view)) == len(SAMPLE) - 1
    view.show_debug.setChecked(True)
    assert shown_lines(view)[0] == "debug: connecting"
    assert view.line_count() == len(SAMPLE)
    settings.sync()
    again = LogView(settings=settings)  # remembered
    assert again.show_debug.isChecked()
    assert str(settings.value(SHOW_DEBUG_KEY)).lower() == "true"


def test_the_level_filter_keeps_warnings_and_errors(view):
    view.show_debug.setChecked(True)
    view.append_lines(SAMPLE)
    view.level_filter.setCurrentText("Info and above")
    assert "debug: connecting" not in view.shown_text() and "stdout: hello" in view.shown_text()
    view.level_filter.setCurrentText("Warnings and errors")
    assert shown_lines(view) == ["warning: slow disk", "error: it broke", "critical: gave up", "stderr: careful"]
    view.append_lines([("INFO", "info: later"), ("ERROR", "error: later")])  # new lines obey the filter too
    assert shown_lines(view)[-1] == "error: later" and "info: later" not in view.shown_text()
    view.level_filter.setCurrentText("All")
    assert len(shown_lines(view)) == len(SAMPLE) + 2


def test_search_narrows_to_matching_lines(view):
    view.append_lines(SAMPLE)
    view.search.setText("BROKE")
    assert shown_lines(view) == ["error: it broke"]
    view.append_lines([("INFO", "nothing to see"), ("INFO", "broke again")])
    assert shown_lines(view) == ["error: it broke", "broke again"]
    assert colour_of(view, "error: it broke") == level_colour("ERROR", view.text.palette())
    view.search.clear()
    assert len(shown_lines(view)) == len(SAMPLE) - 1 + 2


def test_follows_the_tail_unless_the_user_scrolled_up(view, qtbot):
    bar = view.text.verticalScrollBar()
    view.append_lines([("INFO", f"line {i}") for i in range(200)])
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    view.append_lines([("INFO", f"more {i}") for i in range(50)])
    assert bar.value() == bar.maximum()  # followed
    assert view.jump_button.isHidden()
    bar.setValue(10)  # the user scrolls up to read
    view.append_lines([("INFO", f"later {i}") for i in range(50)])
    assert bar.value() == 10  # kept their place
    assert view.jump_button.isVisible()
    qtbot.mouseClick(view.jump_button, Qt.MouseButton.LeftButton)
    assert bar.value() == bar.maximum() and view.jump_button.isHidden()
    view.append_lines([("INFO", "and follows again")])
    assert bar.value() == bar.maximum()


def test_scrolling_back_to_the_end_hides_the_jump_button(view):
    bar = view.text.verticalScrollBar()
    view.append_lines([("INFO", f"line {i}") for i in range(200)])
    bar.setValue(0)
    view.append_lines([("INFO", "new")])
    assert view.jump_button.isVisible()
    bar.setValue(bar.maximum())
    assert view.jump_button.isHidden()


def test_copy_puts_the_shown_log_on_the_clipboard(view):
    view.append_lines(SAMPLE)
    view.copy_button.click()
    assert QGuiApplication.clipboard().text() == view.shown_text()
    assert "error: it broke" in QGuiApplication.clipboard().text()


def test_save_as_writes_the_shown_log(view, tmp_path, monkeypatch):
    target = tmp_path / "saved.log"
    asked: list[str] = []

    def fake_dialog(parent, caption, name, file_filter):
        asked.append(name)
        return str(target), file_filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    view.suggested_name = lambda: "job-7-log.txt"
    view.append_lines(SAMPLE)
    view.save_button.click()
    assert asked == ["job-7-log.txt"]
    assert target.read_text(encoding="utf-8") == view.shown_text() + "\n"


def test_cancelling_save_as_writes_nothing(view, tmp_path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: ("", ""))
    view.append_lines(SAMPLE)
    assert view.save_as() is None
    assert list(tmp_path.glob("*.log")) == []


# -- in the details pane -----------------------------------------------------------------
@pytest.fixture
def pane(harness, settings, qtbot):
    widget = DetailsPane(harness.store, harness.registry, settings=settings)
    qtbot.addWidget(widget)
    widget.resize(760, 360)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def finished_job(harness, qtbot) -> int:
    job_id = harness.enqueue("test.steps", {"steps": 2, "label": "colours"})
    qtbot.waitUntil(lambda: str(harness.job(job_id).state) == "succeeded", timeout=5000)
    return job_id


def test_the_pane_shows_the_stores_log_in_colour_and_appends_new_lines(harness, pane, qtbot):
    job_id = finished_job(harness, qtbot)
    now = time.time()
    harness.store.append_logs([(job_id, now, "INFO", "starting the copy"), (job_id, now, "WARNING", "disk is slow"),
                               (job_id, now, "DEBUG", "chunk 1"), (job_id, now, "ERROR", "checksum mismatch")])  # fmt: skip
    pane.show_job(job_id)
    text = pane.log.shown_text()
    assert "disk is slow" in text and "checksum mismatch" in text and "chunk 1" not in text
    assert colour_of(pane.log, "checksum mismatch") == level_colour("ERROR", pane.log.text.palette())
    assert pane.tabs.tabText(2).startswith("Log (")
    harness.store.append_logs([(job_id, now + 1, "stderr", "a late line")])
    pane._append_new_logs()
    assert pane.log.shown_text().splitlines()[-1].endswith("a late line")
    assert colour_of(pane.log, "a late line") == level_colour("stderr", pane.log.text.palette())


def test_payload_and_result_have_copy_and_save_as(harness, pane, qtbot, tmp_path, monkeypatch):
    job_id = finished_job(harness, qtbot)
    pane.show_job(job_id)
    pane.findChild(QToolButton, "copyPayloadButton").click()
    assert json.loads(QGuiApplication.clipboard().text()) == {"steps": 2, "label": "colours"}
    saved: list[Path] = []

    def fake_dialog(parent, caption, name, file_filter):
        saved.append(tmp_path / name)
        return str(saved[-1]), file_filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    pane.findChild(QToolButton, "saveResultButton").click()
    assert saved == [tmp_path / f"job-{job_id}-result.json"]
    assert json.loads(saved[0].read_text(encoding="utf-8")) == {"steps": 2}


def test_screenshot_of_a_coloured_log(harness, pane, qtbot, tmp_path):
    """Renders the log; ACACIA_UPDATE_SCREENSHOTS=1 writes it to docs/screenshots for the README."""
    job_id = finished_job(harness, qtbot)
    now = time.time()
    lines = [("INFO", "copying 3 files to /srv/backup"), ("DEBUG", "opened /srv/backup/a.bin"),
             ("stdout", "a.bin 100%"), ("WARNING", "b.bin: disk is slow (12 MB/s)"), ("stdout", "b.bin 100%"),
             ("stderr", "rsync: some files vanished before they could be transferred"),
             ("ERROR", "c.bin: checksum mismatch"), ("CRITICAL", "giving up after 3 attempts"),
             ("INFO", "copied 2 of 3 files")]  # fmt: skip
    harness.store.append_logs([(job_id, now + i, level, message) for i, (level, message) in enumerate(lines)])
    pane.log.show_debug.setChecked(True)
    pane.show_job(job_id)
    pane.tabs.setCurrentWidget(pane.log)
    QApplication.processEvents()
    docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    out = docs / "log-view.png" if os.environ.get("ACACIA_UPDATE_SCREENSHOTS") == "1" else tmp_path / "log-view.png"
    assert pane.grab().save(str(out))
