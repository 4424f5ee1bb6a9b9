"""Edit a waiting job (issue 11): Edit… (F2) and Move to front (Ctrl+T) from the window.

Waiting jobs sit in paused queues so the running worker leaves them alone until a test
resumes a queue on purpose; every outcome is checked in the store, not in the dialog.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit

from acacia_gui.gui.dialogs.edit_job_dialog import FORM_TAB, JSON_TAB, EditJobDialog


def _waiting(window, harness, qtbot, job_type: str = "test.steps", payload=None, queue: str = "hold",
             count: int = 1, **options) -> list[int]:  # fmt: skip
    harness.queue.pause(queue)
    ids = [harness.enqueue(job_type, {"steps": 2} if payload is None else payload, queue=queue, **options)
           for _ in range(count)]  # fmt: skip
    qtbot.waitUntil(lambda: all(window.model.row_of(i) >= 0 for i in ids), timeout=5000)
    return ids


def _open_editor(window, qtbot, job_id: int) -> EditJobDialog:
    assert window.table.select_job(job_id)
    window.job_actions.update_enabled()
    assert window.job_actions.edit.isEnabled()
    window.job_actions.edit.trigger()
    dialog = window.findChild(EditJobDialog)
    assert dialog is not None and dialog.job.id == job_id
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    return dialog


def _field_line(dialog: EditJobDialog, name: str) -> QLineEdit:
    assert dialog.form is not None
    return dialog.form.fields[name].line


def test_edit_changes_priority_and_queue(window, harness, qtbot):
    [job_id] = _waiting(window, harness, qtbot)
    harness.queue.pause("parked")
    dialog = _open_editor(window, qtbot, job_id)
    dialog.priority.setValue(7)
    dialog.queue_box.setCurrentText("parked")
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    job = harness.job(job_id)
    assert (job.priority, job.queue, job.state, job.payload) == (7, "parked", "queued", {"steps": 2})


def test_edit_changes_the_payload_through_the_schema_form(window, harness, qtbot):
    [job_id] = _waiting(window, harness, qtbot, payload={"steps": 2, "label": "old"})
    dialog = _open_editor(window, qtbot, job_id)
    assert dialog.payload_tabs.currentIndex() == FORM_TAB  # the New-job dialog's form, filled from the job
    assert _field_line(dialog, "label").text() == "old"
    _field_line(dialog, "steps").setText("3")
    _field_line(dialog, "label").setText("new")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: harness.job(job_id).payload.get("label") == "new", timeout=5000)
    assert harness.job(job_id).payload["steps"] == 3
    assert harness.job(job_id).priority == 0  # untouched


def test_schema_invalid_payload_is_refused_with_the_message_at_the_field(window, harness, qtbot):
    [job_id] = _waiting(window, harness, qtbot)
    dialog = _open_editor(window, qtbot, job_id)
    _field_line(dialog, "steps").setText("0")  # minimum 1
    field = dialog.form.fields["steps"]
    assert not dialog.ok_button.isEnabled()
    assert field.error_label.isVisibleTo(dialog) and "less than the minimum of 1" in field.error_label.text()
    assert field.line.property("invalid")
    dialog.accept()  # even forced, nothing is written
    assert dialog.isVisible() and harness.job(job_id).payload == {"steps": 2}
    # The JSON tab checks the same schema and says why under the editor.
    dialog.payload_tabs.setCurrentIndex(JSON_TAB)
    dialog.json_editor.setPlainText('{"steps": "many"}')
    error = dialog.findChild(QLabel, "jsonError")
    assert error.isVisibleTo(dialog) and "payload.steps" in error.text() and "'many'" in error.text()
    assert not dialog.ok_button.isEnabled()
    dialog.json_editor.setPlainText('{"steps": 4')
    assert "Line 1" in error.text() and not dialog.ok_button.isEnabled()
    dialog.json_editor.setPlainText('{"steps": 4}')
    assert not error.isVisibleTo(dialog) and dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: harness.job(job_id).payload == {"steps": 4}, timeout=5000)


def test_an_invalid_queue_name_is_refused_next_to_the_queue_box(window, harness, qtbot):
    [job_id] = _waiting(window, harness, qtbot)
    dialog = _open_editor(window, qtbot, job_id)
    dialog.queue_box.setCurrentText("no spaces please")
    assert dialog.queue_error.isVisibleTo(dialog) and "Invalid queue name" in dialog.queue_error.text()
    assert dialog.queue_error.parent() is dialog.queue_box.parent()  # under the box, not at the bottom
    assert not dialog.ok_button.isEnabled()
    dialog.queue_box.setCurrentText("fine.queue-1")
    assert not dialog.queue_error.isVisibleTo(dialog) and dialog.ok_button.isEnabled()


def test_a_job_that_started_meanwhile_is_not_edited_and_the_dialog_says_so(window, harness, qtbot):
    [job_id] = _waiting(window, harness, qtbot, job_type="test.gate", payload={})
    dialog = _open_editor(window, qtbot, job_id)
    assert dialog.payload_tabs.currentIndex() == JSON_TAB  # no schema: JSON, with the reason on the Form tab
    dialog.priority.setValue(9)
    harness.queue.resume("hold")
    qtbot.waitUntil(lambda: harness.job(job_id).state == "running", timeout=10000)
    dialog.ok_button.click()
    assert dialog.isVisible()  # not closed as if it had worked
    assert "started meanwhile" in dialog.problem_label.text() and "running" in dialog.problem_label.text()
    assert dialog.problem_label.isVisibleTo(dialog) and not dialog.ok_button.isEnabled()
    assert harness.job(job_id).priority == 0
    dialog.reject()
    harness.queue.cancel(job_id)


def test_move_to_front_changes_the_claim_order(window, harness, qtbot):
    ids = _waiting(window, harness, qtbot, job_type="test.gate", payload={}, count=3)
    harness.queue.set_concurrency("hold", 1)
    last = ids[-1]
    assert window.table.select_job(last)
    window.job_actions.update_enabled()
    assert window.job_actions.front.isEnabled()
    window.job_actions.front.trigger()
    assert harness.job(last).priority > harness.job(ids[0]).priority
    queued = harness.store.list_jobs(state=["queued"], queue="hold", order_by="priority", descending=True)
    assert queued[0].id == last  # listed first
    harness.queue.resume("hold")  # and claimed first: the queue runs one at a time
    qtbot.waitUntil(lambda: harness.job(last).state == "running", timeout=10000)
    assert [harness.job(i).state for i in ids[:2]] == ["queued", "queued"]
    for job_id in ids:
        harness.queue.cancel(job_id)


def test_edit_and_move_to_front_are_disabled_for_running_and_finished_jobs(window, harness, qtbot):
    running = harness.enqueue("test.gate", {})
    finished = harness.enqueue("test.steps", {"steps": 1})
    qtbot.waitUntil(lambda: harness.job(running).state == "running" and harness.job(finished).state == "succeeded",
                    timeout=10000)  # fmt: skip
    messages: list[str] = []
    window.job_actions.message.connect(messages.append)
    for job_id in (running, finished):
        qtbot.waitUntil(lambda job_id=job_id: window.model.row_of(job_id) >= 0, timeout=5000)
        qtbot.waitUntil(lambda job_id=job_id: window.table.select_job(job_id) and window.details.job_id == job_id,
                        timeout=5000)  # fmt: skip
        qtbot.waitUntil(lambda: not window.job_actions.edit.isEnabled() and not window.job_actions.front.isEnabled(),
                        timeout=5000)  # fmt: skip
        messages.clear()
        assert window.job_actions.edit_selected() is None  # the shortcut's stand-in lands on the same explanation
        window.job_actions.move_selected_to_front()
        only = "only queued or scheduled jobs can."
        assert messages == [f"None of the selected jobs can be edited: {only}",
                            f"None of the selected jobs can be moved to the front: {only}"]  # fmt: skip
    assert window.findChild(EditJobDialog) is None
    harness.queue.cancel(running)


def test_edit_and_move_to_front_are_in_the_menus_with_their_shortcuts(window):
    menu = window.job_actions.context_menu()
    assert window.job_actions.edit in menu.actions() and window.job_actions.front in menu.actions()
    assert window.job_actions.edit.shortcut().toString() == "F2"
    assert "(F2)" in window.job_actions.edit.toolTip() and "(Ctrl+T)" in window.job_actions.front.toolTip()
    menu.deleteLater()
