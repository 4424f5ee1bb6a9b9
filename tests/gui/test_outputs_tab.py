"""The details pane's Outputs tab (job.add_artifact): the list, Open and Show in folder through
QDesktopServices (observed with Qt's own URL-handler hook), live refresh, and Delete asking
whether to delete the outputs too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QCheckBox, QMessageBox

from acacia_gui.core.outputs import describe_artifact, ensure_output_dir, outputs_root_of
from acacia_gui.gui.widgets.details_pane import DetailsPane
from acacia_gui.gui.widgets.outputs_view import EMPTY_TEXT

from .helpers import answer


class UrlRecorder(QObject):
    """What QDesktopServices.openUrl was asked to open (instead of starting a file manager)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def handle(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def opened():
    recorder = UrlRecorder()
    QDesktopServices.setUrlHandler("file", recorder, "handle")
    yield recorder.urls
    QDesktopServices.unsetUrlHandler("file")


@pytest.fixture
def pane(harness, settings, qtbot):
    widget = DetailsPane(harness.store, harness.registry, settings=settings)
    qtbot.addWidget(widget)
    widget.resize(760, 360)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def finished_job(harness, qtbot) -> int:
    job_id = harness.enqueue("test.steps", {"steps": 1})
    qtbot.waitUntil(lambda: str(harness.job(job_id).state) == "succeeded", timeout=5000)
    return job_id


def add_output(harness, job_id: int, name: str, data: bytes, label: str | None = None) -> Path:
    """A file in the job's output folder, registered as the engine does it (measured, then stored)."""
    path = ensure_output_dir(outputs_root_of(harness.store), job_id) / name
    path.write_bytes(data)
    assert harness.store.add_artifact(job_id, describe_artifact(path, label))
    return path


def test_a_job_without_outputs_says_so(harness, pane, qtbot):
    pane.show_job(finished_job(harness, qtbot))
    pane.tabs.setCurrentWidget(pane.outputs)
    assert pane.outputs.stack.currentWidget() is pane.outputs.empty and pane.outputs.empty.text() == EMPTY_TEXT
    assert pane.tabs.tabText(pane.tabs.indexOf(pane.outputs)) == "Outputs"
    assert not pane.outputs.open_button.isEnabled() and not pane.outputs.show_button.isEnabled()


def test_outputs_are_listed_and_open_and_show_in_folder_ask_the_desktop(harness, pane, qtbot, opened):
    job_id = finished_job(harness, qtbot)
    checksum = add_output(harness, job_id, "photos.tar.sha256", b"0" * 64 + b"  photos.tar\n", "sha256 of photos.tar")
    report = add_output(harness, job_id, "report.txt", b"x" * 12_345)
    pane.show_job(job_id)
    tree = pane.outputs.tree
    assert pane.tabs.tabText(pane.tabs.indexOf(pane.outputs)) == "Outputs (2)"
    rows = [[tree.topLevelItem(i).text(c) for c in range(4)] for i in range(tree.topLevelItemCount())]
    assert rows == [["photos.tar.sha256", "77 bytes", "sha256", "sha256 of photos.tar"],
                    ["report.txt", "12.3 kB", "txt", ""]]  # fmt: skip
    tree.setCurrentItem(tree.topLevelItem(1))
    pane.outputs.open_button.click()
    pane.outputs.show_button.click()
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=5000)
    assert [url.toLocalFile() for url in opened] == [str(report), str(report.parent)]
    assert report.parent == checksum.parent and report.parent.name == str(job_id)


def test_an_output_added_while_the_job_runs_appears(harness, pane, qtbot):
    job_id = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: str(harness.job(job_id).state) == "running", timeout=5000)
    pane.show_job(job_id)
    assert pane.outputs.count() == 0
    add_output(harness, job_id, "partial.log", b"line\n")
    pane.tick()  # the window's 1 s timer
    assert pane.outputs.count() == 1 and pane.outputs.tree.topLevelItem(0).text(0) == "partial.log"
    harness.queue.cancel(job_id)


def tick_delete_outputs(qtbot) -> None:
    def box() -> QMessageBox | None:
        found = [w for top in QApplication.topLevelWidgets() for w in [top, *top.findChildren(QMessageBox)]
                 if isinstance(w, QMessageBox) and w.objectName() == "deleteQuestion" and w.isVisible()]  # fmt: skip
        return found[0] if found else None

    qtbot.waitUntil(lambda: box() is not None, timeout=5000)
    check = box().findChild(QCheckBox, "questionCheckBox")
    assert check is not None and check.text() == "Delete outputs too" and not check.isChecked()
    check.setChecked(True)


def test_delete_asks_whether_to_delete_the_outputs_too(window, harness, qtbot):
    kept, removed = finished_job(harness, qtbot), finished_job(harness, qtbot)
    kept_file = add_output(harness, kept, "a.txt", b"a")
    removed_file = add_output(harness, removed, "b.txt", b"b")
    qtbot.waitUntil(lambda: window.model.row_of(removed) >= 0, timeout=5000)
    window.table.select_job(kept)
    window.job_actions.delete.trigger()
    answer(qtbot, "deleteQuestion", "yes")  # the box left unticked: the files stay
    qtbot.waitUntil(lambda: harness.store.get_job(kept) is None, timeout=5000)
    assert kept_file.exists() and harness.store.get_artifacts(kept) == []
    window.table.select_job(removed)
    window.job_actions.delete.trigger()
    tick_delete_outputs(qtbot)
    answer(qtbot, "deleteQuestion", "yes")
    qtbot.waitUntil(lambda: harness.store.get_job(removed) is None, timeout=5000)
    assert not removed_file.parent.exists()


def test_screenshot_of_the_outputs_tab(harness, settings, qtbot, tmp_path):
    """ACACIA_UPDATE_SCREENSHOTS=1 writes it to docs/screenshots for the README."""
    pane = DetailsPane(harness.store, harness.registry, settings=settings)
    qtbot.addWidget(pane)
    pane.resize(760, 300)
    pane.show()
    qtbot.waitExposed(pane)
    job_id = finished_job(harness, qtbot)
    add_output(harness, job_id, "holiday-photos.tar.sha256", b"9f86d081884c7d65" * 4 + b"  holiday-photos.tar\n",
               "sha256 of holiday-photos.tar")  # fmt: skip
    add_output(harness, job_id, "stdout.txt", b"copied file\n" * 2_000, "the command's full output")
    thumbnails = ensure_output_dir(outputs_root_of(harness.store), job_id) / "thumbnails"
    thumbnails.mkdir()
    for i in range(3):
        (thumbnails / f"img-{i}.png").write_bytes(b"\x89PNG" + b"\0" * 40_000)
    harness.store.add_artifact(job_id, describe_artifact(thumbnails, "3 thumbnails"))
    pane.show_job(job_id)
    pane.tabs.setCurrentWidget(pane.outputs)
    pane.outputs.tree.setCurrentItem(pane.outputs.tree.topLevelItem(0))
    pane.outputs.tree.setFocus(Qt.FocusReason.OtherFocusReason)
    QApplication.processEvents()
    docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    out = docs / "outputs-tab.png" if os.environ.get("ACACIA_UPDATE_SCREENSHOTS") == "1" else tmp_path / "outputs-tab.png"
    assert pane.grab().save(str(out))
