"""The Plugins tab: plugins and handlers, errors with tracebacks, manual and automatic reload."""

from __future__ import annotations

import textwrap

from PySide6.QtCore import Qt

from acacia_gui.gui.main_window import PLUGINS_TAB

BROKEN = "import nothing_by_this_name_exists\n"
EXTRA = textwrap.dedent('''
    from acacia_gui.jobs import handler

    @handler("test.extra", title="Extra handler", description="Added while the app runs.")
    def extra(ctx, job):
        return "extra"
''')


def tree_texts(view) -> list[str]:
    texts = []
    for i in range(view.tree.topLevelItemCount()):
        item = view.tree.topLevelItem(i)
        texts.append(item.text(0))
        texts.extend(item.child(j).text(0) for j in range(item.childCount()))
    return texts


def test_plugins_and_handlers_are_listed(window):
    view = window.plugins_view
    texts = tree_texts(view)
    assert "testing.py" in texts
    assert {"Count steps", "Wait for cancel", "Use a file"} <= set(texts)
    assert view.problem_count() == 0
    assert window.tabs.tabText(PLUGINS_TAB) == "Plugins"


def test_plugin_error_is_shown_with_its_traceback(window, harness, qtbot):
    (harness.config.plugins_dir / "broken.py").write_text(BROKEN, encoding="utf-8")
    view = window.plugins_view
    qtbot.mouseClick(view.reload_button, Qt.MouseButton.LeftButton)
    assert view.problem_count() == 1
    assert window.tabs.tabText(PLUGINS_TAB) == "Plugins (1 problem)"
    assert view.tree.currentItem().text(0) == "broken.py"  # the first problem is selected
    details = view.details.toPlainText()
    assert "ModuleNotFoundError" in details and "Traceback" in details
    assert "could not be loaded" in view.banner.text()
    assert harness.registry.get_handler("test.steps") is not None  # the good plugin still loads


def test_adding_a_plugin_file_reloads_automatically(window, harness, qtbot):
    assert harness.registry.get_handler("test.extra") is None
    (harness.config.plugins_dir / "extra.py").write_text(EXTRA, encoding="utf-8")
    qtbot.waitUntil(lambda: harness.registry.get_handler("test.extra") is not None, timeout=10_000)
    view = window.plugins_view
    qtbot.waitUntil(lambda: "Extra handler" in tree_texts(view), timeout=5000)
    assert "automatically" in view.loaded_label.text()
    assert window.filter_bar.type_box.findData("test.extra") >= 0
    job_id = harness.enqueue("test.extra")
    qtbot.waitUntil(lambda: harness.job(job_id).state == "succeeded", timeout=5000)


def test_reload_does_not_disturb_running_jobs(window, harness, qtbot):
    job_id = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: harness.job(job_id).state == "running", timeout=5000)
    window.reload_action.trigger()
    assert harness.job(job_id).state == "running"
    harness.queue.cancel(job_id)
    qtbot.waitUntil(lambda: harness.job(job_id).state == "cancelled", timeout=5000)
