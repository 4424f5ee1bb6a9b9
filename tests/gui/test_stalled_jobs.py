"""Stalled jobs in the window: a real worker flags a silent handler (stall_after=0.5), the State cell
shows the marker with a tooltip, the tray notifies (if the Settings ask), Kill and Extend are enabled
only for a stalled selection and listed in Help ▸ Actions, Extend clears the marker, and the marker
goes when the handler reports again."""

from __future__ import annotations

from PySide6.QtCore import Qt

from acacia_gui.gui.models.columns import JobColumn


def state_cell(window, job_id: int):
    return window.model.index(window.model.row_of(job_id), JobColumn.STATE)


def marked(window, job_id: int) -> bool:
    return window.model.row_of(job_id) >= 0 and state_cell(window, job_id).data() == "Stalled"


def test_a_stalled_job_is_marked_and_can_be_extended_or_killed(window, harness, qtbot, tmp_path):
    notes: list[tuple[str, str]] = []
    window.tray.notified.connect(lambda title, text: notes.append((title, text)))
    talk = tmp_path / "talk"
    quiet_id = harness.enqueue("test.steps", {"steps": 200, "delay": 0.05})  # reports often: never stalled
    job_id = harness.enqueue("test.silent", {"talk": str(talk)})
    qtbot.waitUntil(lambda: marked(window, job_id), timeout=10_000)
    assert state_cell(window, job_id).data() == "Stalled"
    assert state_cell(window, job_id).data(Qt.ItemDataRole.AccessibleTextRole) == "Running, stalled"
    assert not state_cell(window, job_id).data(Qt.ItemDataRole.DecorationRole).isNull()  # the warning icon
    tip = state_cell(window, job_id).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith(f"Job {job_id} is stalled: no progress or log line for ") and "Kill" in tip
    qtbot.waitUntil(lambda: (f"Job {job_id} stalled", "No progress or log line for a while. Cancel, Kill or Extend it.")
                    in notes, timeout=5000)  # fmt: skip
    assert not marked(window, quiet_id)
    window.grab().save(str(tmp_path / "stalled.png"))

    acts = window.job_actions
    assert window.table.select_job(quiet_id)
    acts.update_enabled()
    assert not acts.kill.isEnabled() and not acts.extend.isEnabled()  # not stalled
    assert window.table.select_job(job_id)
    qtbot.waitUntil(lambda: acts.kill.isEnabled() and acts.extend.isEnabled(), timeout=3000)
    assert acts.kill.shortcut().toString() == "Ctrl+Shift+K" and acts.extend.shortcut().toString() == "Ctrl+Shift+E"
    listed = window.show_actions()
    texts = [listed.table.item(r, c).text() for r in range(listed.table.rowCount()) for c in range(listed.table.columnCount())
             if listed.table.item(r, c) is not None]  # fmt: skip
    assert any("Kill" in t for t in texts) and any("Extend" in t for t in texts)
    listed.close()

    acts.extend.trigger()
    qtbot.waitUntil(lambda: not marked(window, job_id), timeout=3000)
    assert harness.store.get_stall(job_id) is None
    assert harness.store.get_events(job_id)[-1]["message"] == "stall extended by 0.5 s"
    qtbot.waitUntil(lambda: marked(window, job_id), timeout=10_000)  # silent past the extension: flagged again

    acts.kill.trigger()  # a thread handler: refused, saying why
    qtbot.waitUntil(lambda: "cannot be killed" in window.statusBar().currentMessage(), timeout=3000)
    assert str(harness.job(job_id).state) == "running"

    talk.touch()  # it reports progress again: the marker goes
    qtbot.waitUntil(lambda: not marked(window, job_id), timeout=5000)
    assert harness.store.get_events(job_id)[-1]["message"] == "resumed"
    acts.update_enabled()
    assert not acts.kill.isEnabled()
    harness.queue.cancel(job_id)
    harness.queue.cancel(quiet_id)
    qtbot.waitUntil(lambda: str(harness.job(job_id).state) == "cancelled", timeout=5000)


def test_no_tray_note_when_the_settings_say_no(window, harness, qtbot):
    window.tray.preferences.notify_stall = False
    notes: list[str] = []
    window.tray.notified.connect(lambda title, _text: notes.append(title))
    job_id = harness.enqueue("test.silent", {})
    qtbot.waitUntil(lambda: marked(window, job_id), timeout=10_000)
    assert not [n for n in notes if "stalled" in n]
    harness.queue.cancel(job_id)
    qtbot.waitUntil(lambda: state_cell(window, job_id).data() == "Cancelled", timeout=5000)  # the marker went with the run
