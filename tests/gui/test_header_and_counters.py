"""The table header's column chooser (remembered across windows) and the status bar's clickable counts."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from acacia_gui.gui.main_window import MainWindow
from acacia_gui.gui.models.columns import JobColumn
from acacia_gui.gui.widgets.column_chooser import ESSENTIAL_COLUMNS


def chooser_action(window, column: JobColumn):
    menu = window.table.column_chooser.menu()
    return menu, menu.findChild(type(menu.actions()[0]), f"column-{column.name.lower()}")


def test_header_right_click_opens_the_column_chooser(window, qtbot):
    header = window.table.horizontalHeader()
    pos = header.sectionViewportPosition(JobColumn.TYPE) + 5
    header.customContextMenuRequested.emit(QPoint(pos, 5))
    menu = window.table.column_chooser.last_menu
    assert menu is not None and menu.isVisible()
    names = [a.text() for a in menu.actions() if a.isCheckable()]
    assert {"ID", "Type", "State", "Progress", "Duration"} <= set(names)
    menu.close()


def test_chooser_hides_and_shows_a_column_and_it_persists_in_a_new_window(window, harness, settings, qtbot):
    header = window.table.horizontalHeader()
    _menu, action = chooser_action(window, JobColumn.QUEUE)
    assert action.isChecked()
    action.trigger()  # untick Queue
    assert header.isSectionHidden(JobColumn.QUEUE)
    header.moveSection(header.visualIndex(JobColumn.DURATION), 1)
    window.dispose()
    second = MainWindow(harness.services, on_quit=lambda: None, settings=settings)
    qtbot.addWidget(second)
    try:
        header2 = second.table.horizontalHeader()
        assert header2.isSectionHidden(JobColumn.QUEUE)
        assert header2.visualIndex(JobColumn.DURATION) == 1
        _menu, again = chooser_action(second, JobColumn.QUEUE)
        assert not again.isChecked()
        again.trigger()  # tick it again
        assert not header2.isSectionHidden(JobColumn.QUEUE)
        assert header2.sectionSize(JobColumn.QUEUE) >= 30
    finally:
        second.dispose()


def test_the_last_essential_column_cannot_be_hidden(window):
    chooser = window.table.column_chooser
    header = window.table.horizontalHeader()
    for column in ESSENTIAL_COLUMNS[:-1]:
        assert chooser.set_shown(column, False)
    last = ESSENTIAL_COLUMNS[-1]
    assert not chooser.set_shown(last, False)
    assert not header.isSectionHidden(last)
    _menu, action = chooser_action(window, last)
    assert action.isChecked() and not action.isEnabled()


def test_clicking_a_state_count_filters_the_table_and_again_clears(window, harness, qtbot):
    failed = [harness.enqueue("test.steps", {"steps": 1, "fail": True}) for _ in range(2)]
    ok = harness.enqueue("test.steps", {"steps": 1})
    for job_id in (*failed, ok):
        qtbot.waitUntil(lambda job_id=job_id: harness.job(job_id).state in ("failed", "succeeded"), timeout=10_000)
    window.stats.request()
    button = window.summary.labels["failed"]
    qtbot.waitUntil(lambda: button.text() == "2", timeout=5000)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.filter_bar.state_box.currentData() == "failed"
    assert button.isChecked()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    assert {window.model.job_at(r).id for r in range(2)} == set(failed)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.filter_bar.state_box.currentData() == ""
    assert not button.isChecked()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)


def test_choosing_a_state_in_the_filter_bar_checks_its_count(window):
    box = window.filter_bar.state_box
    box.setCurrentIndex(box.findData("queued"))
    assert window.summary.labels["queued"].isChecked()
    box.setCurrentIndex(box.findData("active"))  # a group: no single count is checked
    assert not any(b.isChecked() for b in window.summary.labels.values())
