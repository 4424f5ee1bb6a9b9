"""ScheduleActions: Add…, Edit…, Enable, Disable, Run now, Remove — one QAction each.

The same QActions drive the page's buttons and the table's context menu. Writes go
straight to JobQueue on the GUI thread, as the job actions do (each is one short
transaction), and outcomes and errors reach the status bar through `message(str)`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from ...core.definitions import Source
from ...core.errors import AcaciaError
from ...core.queue import JobQueue
from ...core.schedules import Schedule
from ..icons import icon
from ..questions import ask
from .dialog import ScheduleDialog


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class ScheduleActions(QObject):
    """Acts on `selected()` (the selected schedules) and `current()` (the one Edit opens)."""

    message = Signal(str)
    changed = Signal()  # something was written: the view re-reads at once
    dialog_opened = Signal(object)  # the ScheduleDialog, once shown

    def __init__(self, queue: JobQueue, window: QWidget, selected: Callable[[], list[Schedule]],
                 current: Callable[[], Schedule | None], queue_names: Callable[[], list[str]]) -> None:  # fmt: skip
        super().__init__(window)
        self._queue = queue
        self._window = window
        self._selected = selected
        self._current = current
        self._queue_names = queue_names
        self.add = self._action("new-job", "&Add…", "", "Add a schedule: a job enqueued at fixed times", self.open_add)
        self.edit = self._action("edit", "&Edit…", "", "Change the selected schedule (double-click or Enter)",
                                 self.open_edit)  # fmt: skip
        self.enable = self._action("resume", "E&nable", "", "Let the selected schedules enqueue jobs again",
                                   lambda: self.set_paused(False))  # fmt: skip
        self.disable = self._action("pause", "&Disable", "", "Pause the selected schedules: no jobs until enabled",
                                    lambda: self.set_paused(True))  # fmt: skip
        self.run_now = self._action("retry", "R&un now", "", "Enqueue one job of each selected schedule now "
                                    "(the next run stays as planned)", self.run_selected_now)  # fmt: skip
        self.remove = self._action("delete", "Re&move", "Delete", "Remove the selected schedules (their jobs stay)",
                                   self.remove_selected)  # fmt: skip
        self.remove.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.all = (self.add, self.edit, self.enable, self.disable, self.run_now, self.remove)
        self.update_enabled()

    def _action(self, icon_name: str, text: str, shortcut: str, tip: str, slot: Callable[[], object]) -> QAction:
        action = QAction(icon(icon_name, self._window.palette()), text, self)
        action.setObjectName(f"schedule-{text.replace('&', '').rstrip('…').lower().replace(' ', '-')}")
        action.setProperty("icon_name", icon_name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            tip = f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def refresh_icons(self) -> None:
        for action in self.all:
            action.setIcon(icon(action.property("icon_name"), self._window.palette()))

    def context_menu(self, parent: QWidget) -> QMenu:
        menu = QMenu(parent)
        menu.setObjectName("scheduleContextMenu")
        for action in (self.edit, self.enable, self.disable, self.run_now, self.remove):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.add)
        return menu

    def update_enabled(self) -> None:
        selected = self._selected()
        self.edit.setEnabled(self._current() is not None)
        self.enable.setEnabled(any(s.paused for s in selected))
        self.disable.setEnabled(any(not s.paused for s in selected))
        self.run_now.setEnabled(bool(selected))
        self.remove.setEnabled(bool(selected))

    # -- the actions --------------------------------------------------------------------------
    def open_add(self) -> ScheduleDialog:
        return self._open(None)

    def open_edit(self) -> ScheduleDialog | None:
        current = self._current()
        if current is None:
            self.message.emit("No schedule selected: select the schedule to edit.")
            return None
        try:
            fresh = self._queue.get_schedule(current.name)  # what is stored now, not what the table last read
        except AcaciaError as exc:
            self.message.emit(str(exc))
            self.changed.emit()
            return None
        return self._open(fresh)

    def _open(self, schedule: Schedule | None) -> ScheduleDialog:
        dialog = ScheduleDialog(self._queue, schedule, queue_names=self._queue_names(), parent=self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        verb = "Edited" if schedule is not None else "Added"
        dialog.saved.connect(lambda name: (self.message.emit(f"{verb} schedule {name}."), self.changed.emit()))
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def set_paused(self, paused: bool) -> int:
        """Disable (pause) or enable (resume) each selected schedule that is not so already."""
        names = [s.name for s in self._selected() if s.paused != paused]
        write = self._queue.pause_schedule if paused else self._queue.resume_schedule
        done = self._each(names, lambda name: write(name, source=Source.GUI))
        if done or not names:
            word = "Disabled" if paused else "Enabled"
            self.message.emit(f"{word} {_plural(done, 'schedule')}." if names else
                              f"No schedule to {word[:-1].lower()}: the selected ones already are.")  # fmt: skip
        return done

    def run_selected_now(self) -> list[int]:
        job_ids: list[int] = []
        problems: list[str] = []
        for schedule in self._selected():
            try:
                job_ids.append(int(self._queue.run_schedule_now(schedule.name, source=Source.GUI)))
            except AcaciaError as exc:
                problems.append(str(exc))
        self.changed.emit()
        if problems:
            self.message.emit(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        elif job_ids:
            self.message.emit(f"Enqueued job {job_ids[0]}." if len(job_ids) == 1 else
                              f"Enqueued {_plural(len(job_ids), 'job')}.")  # fmt: skip
        return job_ids

    def remove_selected(self) -> QMessageBox | None:
        names = [s.name for s in self._selected()]
        if not names:
            self.message.emit("No schedule selected: select the schedules to remove.")
            return None
        return ask(self._window, name="removeScheduleQuestion", title="Remove schedules", text=f"Remove {what_of(names)}?",
                   informative="It enqueues no more jobs. The jobs it already enqueued stay in the Jobs tab.",
                   buttons=[("yes", "Remove", QMessageBox.ButtonRole.DestructiveRole),
                            ("no", "Keep", QMessageBox.ButtonRole.RejectRole)],
                   default="no", on_answer=lambda key: key == "yes" and self.remove_names(names))  # fmt: skip

    def remove_names(self, names: list[str]) -> int:
        done = self._each(names, lambda name: self._queue.remove_schedule(name, source=Source.GUI))
        if done:
            self.message.emit(f"Removed {what_of(names) if done == len(names) else _plural(done, 'schedule')}.")
        return done

    def _each(self, names: list[str], write: Callable[[str], object]) -> int:
        done, problems = 0, []
        for name in names:
            try:
                write(name)
                done += 1
            except AcaciaError as exc:
                problems.append(str(exc))
        self.changed.emit()
        if problems:
            self.message.emit(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        return done


def what_of(names: list[str]) -> str:
    return f"schedule {names[0]}" if len(names) == 1 else _plural(len(names), "schedule")
