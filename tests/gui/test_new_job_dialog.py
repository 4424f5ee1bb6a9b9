"""The New job dialog: a form from the schema, a JSON editor that validates as you type, no invalid submit."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit

from acacia_gui.gui.dialogs.new_job_dialog import FORM_TAB, JSON_TAB, NewJobDialog


def open_dialog(window, qtbot, job_type: str) -> NewJobDialog:
    window.job_actions.new_job.trigger()
    dialog = window.findChild(NewJobDialog, "newJobDialog")
    assert dialog is not None and dialog.isVisible()
    assert dialog.select_type(job_type)
    return dialog


def test_enqueue_from_the_generated_form(window, harness, qtbot):
    dialog = open_dialog(window, qtbot, "test.steps")
    assert dialog.payload_tabs.currentIndex() == FORM_TAB
    assert "Counts to" in dialog.description.text()
    form = dialog.form
    steps = form.fields["steps"].editor
    assert isinstance(steps, QLineEdit) and steps.text() == "5" and "at least 1" in steps.placeholderText()
    assert isinstance(form.fields["delay"].editor, QLineEdit)
    assert isinstance(form.fields["fail"].editor, QCheckBox)
    mode = form.fields["mode"].editor
    assert isinstance(mode, QComboBox) and mode.currentData() == "fast"
    steps.setText("3")
    qtbot.keyClicks(form.fields["label"].editor, "from the form")
    mode.setCurrentIndex(mode.findData("slow"))
    dialog.priority.setValue(7)
    assert dialog.enqueue_button.isEnabled(), dialog.problem
    qtbot.mouseClick(dialog.enqueue_button, Qt.MouseButton.LeftButton)
    assert dialog.job_id is not None
    job = harness.job(dialog.job_id)
    assert job.payload == {"steps": 3, "delay": 0.01, "fail": False, "label": "from the form", "mode": "slow"}
    assert job.priority == 7
    events = harness.store.get_events(dialog.job_id)
    assert events[0]["source"] == "gui"
    qtbot.waitUntil(lambda: window.model.row_of(dialog.job_id) >= 0, timeout=5000)


def test_required_path_blocks_enqueue_until_filled(window, harness, qtbot, tmp_path):
    dialog = open_dialog(window, qtbot, "test.file")
    field = dialog.form.fields["path"]
    assert field.kind == "path"
    assert not dialog.enqueue_button.isEnabled()
    assert "payload.path: 'path' is a required property" in dialog.problem_label.text()
    assert field.errors == ["'path' is a required property"]  # also under the field itself
    assert dialog.problem_label.isVisibleTo(dialog)
    qtbot.keyClicks(field.editor, str(tmp_path / "some.txt"))
    assert dialog.enqueue_button.isEnabled()
    assert not dialog.problem_label.isVisibleTo(dialog)
    dialog.accept()
    assert harness.job(dialog.job_id).payload == {"path": str(tmp_path / "some.txt")}


def test_json_editor_validates_as_you_type(window, harness, qtbot):
    dialog = open_dialog(window, qtbot, "test.nested")  # an array property: a form, but edited as JSON here
    assert dialog.form is not None
    dialog.payload_tabs.setCurrentIndex(JSON_TAB)
    editor = dialog.json_editor
    editor.setPlainText('{"items": [1, 2,')
    assert not dialog.enqueue_button.isEnabled()
    assert dialog.problem.startswith("Line 1, column")
    editor.setPlainText('{"items": [1, "two"]}')
    assert not dialog.enqueue_button.isEnabled()
    assert "payload.items[1]" in dialog.problem  # the schema's complaint, with where
    dialog.accept()  # refused: nothing is enqueued while invalid
    assert dialog.job_id is None and dialog.isVisible()
    editor.setPlainText('{"items": [1, 2, 3]}')
    assert dialog.enqueue_button.isEnabled()
    dialog.accept()
    job_id = dialog.job_id
    qtbot.waitUntil(lambda: harness.job(job_id).state == "succeeded", timeout=5000)
    assert harness.job(job_id).result == 6


def test_switching_between_form_and_json_keeps_the_payload(window, qtbot):
    dialog = open_dialog(window, qtbot, "test.steps")
    dialog.form.fields["steps"].editor.setText("9")
    dialog.payload_tabs.setCurrentIndex(JSON_TAB)
    assert '"steps": 9' in dialog.json_editor.toPlainText()
    dialog.json_editor.setPlainText('{"steps": 4, "label": "x"}')
    dialog.payload_tabs.setCurrentIndex(FORM_TAB)
    assert dialog.form.fields["steps"].editor.text() == "4"
    assert dialog.form.fields["label"].editor.text() == "x"
    dialog.payload_tabs.setCurrentIndex(JSON_TAB)
    dialog.json_editor.setPlainText('{"steps": 4, "unknown": 1}')
    dialog.payload_tabs.setCurrentIndex(FORM_TAB)  # the form cannot show it: stays on JSON, says why
    assert dialog.payload_tabs.currentIndex() == JSON_TAB
    assert "Additional properties" in dialog.problem or "cannot show" in dialog.problem


def test_bad_options_are_explained(window, qtbot):
    dialog = open_dialog(window, qtbot, "test.steps")
    dialog.queue_box.setCurrentText("no spaces allowed")
    assert not dialog.enqueue_button.isEnabled()
    assert "queue name" in dialog.problem
    dialog.queue_box.setCurrentText("fast-lane")
    assert dialog.enqueue_button.isEnabled()
    dialog.timeout.setValue(2.5)
    dialog.attempts.setValue(3)
    dialog.delay.setValue(60)
    dialog.accept()
    job = window.services.store.require_job(dialog.job_id)
    assert (job.queue, job.timeout, job.max_attempts, job.state) == ("fast-lane", 2.5, 3, "scheduled")


def test_dialog_is_keyboard_usable(window, qtbot):
    dialog = open_dialog(window, qtbot, "test.steps")
    assert dialog.type_box.hasFocus() or dialog.focusWidget() is dialog.type_box
    for name, widget in dialog.form.fields.items():
        assert widget.editor.accessibleName(), name
        assert widget.editor.focusPolicy() & Qt.FocusPolicy.TabFocus, name
    assert isinstance(dialog.form.fields["label"].editor, QLineEdit)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
