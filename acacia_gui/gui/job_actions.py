"""JobActions: New job, Cancel, Retry, Edit, Move to front, Duplicate, Delete, Clear finished — one QAction each.

The same QAction sits in the toolbar, the Jobs menu and the table's context menu, with
its shortcut, so all three stay consistent; `update_enabled` follows the selection.
Each action works on every selected job it applies to and skips the others, saying so.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from ..core.context import Context
from ..core.definitions import CANCELLABLE_STATES, EDITABLE_STATES, RETRYABLE_STATES, Source
from ..core.errors import AcaciaError, InvalidTransitionError
from ..core.job import Job
from ..core.outputs import output_dir_of, outputs_root_of, remove_output_dir
from ..core.queue import JobQueue
from ..core.stalls import extend_stall, kill_job
from ..store.sqlite import SqliteJobStore
from .dialogs.edit_job_dialog import EditJobDialog
from .dialogs.new_job_dialog import NewJobDialog
from .icons import icon
from .questions import ask
from .widgets.job_table_view import JobTableView

YES, NO = QMessageBox.ButtonRole.AcceptRole, QMessageBox.ButtonRole.RejectRole
# What each selection action applies to, for "nothing to do" messages: (verb, past participle, which jobs).
APPLIES_TO = {
    "cancel": ("cancel", "cancelled", "queued or running jobs"),
    "retry": ("retry", "retried", "failed, cancelled or interrupted jobs"),
    "retry-dependents": ("retry with dependents", "retried with dependents",
                         "failed, cancelled or interrupted jobs that other jobs run after"),
    "edit": ("edit", "edited", "queued or scheduled jobs"),
    "front": ("move to the front", "moved to the front", "queued or scheduled jobs"),
    "duplicate": ("duplicate", "duplicated", "jobs"),
    "delete": ("delete", "deleted", "jobs that are not running"),
    "kill": ("kill", "killed", "stalled jobs"),
    "extend": ("extend", "extended", "stalled jobs"),
}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class JobActions(QObject):
    """Owns the job actions of one window; reports outcomes through `message(str)`."""

    message = Signal(str)
    dialog_opened = Signal(object)  # the NewJobDialog or EditJobDialog, once shown

    def __init__(self, queue: JobQueue, store: SqliteJobStore, view: JobTableView, window: QWidget,
                 queue_names: Callable[[], list[str]], finished_count: Callable[[], int]) -> None:  # fmt: skip
        super().__init__(window)
        self._queue = queue
        self._store = store
        self._view = view
        self._window = window
        self._queue_names = queue_names
        self._finished_count = finished_count
        self.new_job = self._action("new-job", "&New job…", QKeySequence(QKeySequence.StandardKey.New),
                                    "Create a job", lambda: self.open_new_job_dialog())  # fmt: skip
        self.cancel = self._action("cancel", "&Cancel", QKeySequence("Ctrl+."), "Cancel the selected queued or running jobs",
                                   self.cancel_selected)  # fmt: skip
        self.retry = self._action("retry", "&Retry", QKeySequence("Ctrl+R"), "Run the selected failed, cancelled or "
                                  "interrupted jobs again", self.retry_selected)  # fmt: skip
        self.retry_dependents = self._action("retry-dependents", "Retry with &dependents", QKeySequence("Ctrl+Alt+R"),
                                             "Run the selected failed jobs again, and return the jobs their end "
                                             "cancelled to waiting", self.retry_selected_with_dependents)  # fmt: skip
        self.new_after = self._action("new-job", "New job &after this one…", QKeySequence("Ctrl+Alt+N"),
                                      "Create a job that waits for the selected jobs", self.new_job_after_selected)
        self.new_after.setObjectName("action-new-after")
        self.new_after.setProperty("icon_name", "new-job")
        self.edit = self._action("edit", "&Edit…", QKeySequence("F2"), "Change the selected queued or scheduled job's "
                                 "priority, queue or payload", self.edit_selected)  # fmt: skip
        self.front = self._action("move-to-front", "&Move to front", QKeySequence("Ctrl+T"),
                                  "Run the selected queued or scheduled jobs next in their queues",
                                  self.move_selected_to_front)  # fmt: skip
        self.duplicate = self._action("duplicate", "D&uplicate…", QKeySequence("Ctrl+D"),
                                      "Enqueue a copy of the selected job (editable)", self.duplicate_selected)  # fmt: skip
        self.delete = self._action("delete", "&Delete", QKeySequence(QKeySequence.StandardKey.Delete),
                                   "Delete the selected jobs that are not running", self.delete_selected)  # fmt: skip
        self.clear_finished = self._action("clear-finished", "C&lear finished", QKeySequence("Ctrl+Shift+Del"),
                                           "Delete every succeeded, failed, cancelled or interrupted job",
                                           self.clear_finished_jobs)  # fmt: skip
        self.delete.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        view.addAction(self.delete)  # Delete only acts while the table has focus
        self.kill = self._action("kill", "&Kill", QKeySequence("Ctrl+Shift+K"), "Kill the selected stalled jobs at once "
                                 "(a hard cancel: their worker process gets no grace period)", self.kill_selected)  # fmt: skip
        self.extend = self._action("extend", "E&xtend", QKeySequence("Ctrl+Shift+E"),
                                   "Clear the selected jobs' stalled flag and wait another stall_after before flagging "
                                   "them again", self.extend_selected)  # fmt: skip
        self.selection_actions = (self.cancel, self.kill, self.extend, self.retry, self.retry_dependents, self.edit,
                                  self.front, self.duplicate, self.delete)  # fmt: skip
        # A greyed-out action's shortcut would do nothing silently: a stand-in shortcut, enabled only
        # while the action is not, says why in the status bar.
        self._stand_ins: list[tuple[QAction, QShortcut]] = []
        for action in self.selection_actions:
            owner = view if action is self.delete else window
            stand_in = QShortcut(action.shortcut(), owner)
            stand_in.setContext(action.shortcutContext())
            stand_in.setObjectName(f"standIn-{action.property('icon_name')}")
            name = str(action.property("icon_name"))
            name = {"move-to-front": "front"}.get(name, name)
            stand_in.activated.connect(lambda name=name: self.explain_nothing_to_do(name))
            self._stand_ins.append((action, stand_in))
        self.update_enabled()

    def _action(self, icon_name: str, text: str, shortcut: QKeySequence, tip: str, slot: Callable[[], None]) -> QAction:
        action = QAction(icon(icon_name, self._window.palette()), text, self)
        action.setObjectName(f"action-{icon_name}")
        action.setShortcut(shortcut)
        action.setToolTip(f"{tip} ({shortcut.toString(QKeySequence.SequenceFormat.NativeText)})")
        action.setStatusTip(tip)
        action.setProperty("icon_name", icon_name)
        action.triggered.connect(slot)
        return action

    def all_actions(self) -> list[QAction]:
        return [self.new_job, self.new_after, *self.selection_actions, self.clear_finished]

    def refresh_icons(self) -> None:
        for action in self.all_actions():
            action.setIcon(icon(action.property("icon_name"), self._window.palette()))

    def context_menu(self) -> QMenu:
        menu = QMenu(self._view)
        menu.setObjectName("jobContextMenu")
        for action in self.selection_actions:
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.new_job)
        menu.addAction(self.new_after)
        menu.addAction(self.clear_finished)
        return menu

    def update_enabled(self) -> None:
        rows = self._view.job_model().rows_for(self._view.selectionModel().selectedRows()) if self._view.model() else []
        states = {row.state for row in rows}
        self.cancel.setEnabled(any(row.cancellable for row in rows))
        stalled = bool(rows) and any(self._view.job_model().is_stalled(row) for row in rows)
        self.kill.setEnabled(stalled)
        self.extend.setEnabled(stalled)
        self.retry.setEnabled(bool(states & RETRYABLE_STATES))
        self.retry_dependents.setEnabled(self._any_with_dependents(rows))
        self.new_after.setEnabled(bool(rows))
        shown = self._view.shown_job_id() if self._view.model() else None
        self.edit.setEnabled(any(row.id == shown and row.state in EDITABLE_STATES for row in rows))
        self.front.setEnabled(bool(states & EDITABLE_STATES))
        self.duplicate.setEnabled(bool(rows))
        self.delete.setEnabled(any(row.state != "running" for row in rows))
        for action, stand_in in getattr(self, "_stand_ins", ()):
            stand_in.setEnabled(not action.isEnabled())

    def explain_nothing_to_do(self, name: str) -> None:
        """Say in the status bar why the action `name` (cancel, retry, edit, front, duplicate, delete) did nothing."""
        verb, done, which = APPLIES_TO[name]
        if not self._selected_rows():
            self.message.emit(f"No job selected: select one of the {which} to {verb}.")
        else:
            self.message.emit(f"None of the selected jobs can be {done}: only {which} can.")

    # -- the actions ----------------------------------------------------------------------
    def open_new_job_dialog(self, prefill: Job | None = None, job_type: str | None = None,
                            after: list[int] | None = None) -> NewJobDialog:  # fmt: skip
        dialog = NewJobDialog(self._queue, queue_names=self._queue_names(), prefill=prefill, job_type=job_type,
                              after=after or (), parent=self._window)  # fmt: skip
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.enqueued.connect(lambda job_id: self.message.emit(f"Enqueued job {job_id}."))
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def cancel_ids(self, ids: list[int]) -> int:
        """Cancel these jobs (the painted row button lands here too); returns how many were asked to stop."""
        done, problems = 0, []
        for job_id in ids:
            try:
                self._queue.cancel(job_id, source=Source.GUI)
                done += 1
            except AcaciaError as exc:
                problems.append(str(exc))
        self._report(f"Cancelled {_plural(done, 'job')}.", problems)
        return done

    def cancel_selected(self) -> None:
        rows = self._selected_rows()
        ids = [row.id for row in rows if row.state in CANCELLABLE_STATES]
        if ids:
            self.cancel_ids(ids)
        else:
            self.explain_nothing_to_do("cancel")

    def kill_selected(self) -> None:
        """Kill each selected stalled job (core.stalls.kill_job); a thread handler's is refused, saying why."""
        self._act_on_stalled("kill", lambda job_id: kill_job(self._queue, job_id, Source.GUI), "Killed {}.")

    def extend_selected(self) -> None:
        """Postpone each selected stalled job's stall detection by its stall_after (clears the flag)."""
        self._act_on_stalled("extend", lambda job_id: extend_stall(self._queue, job_id, Source.GUI),
                             "Extended {}: flagged again after another stall_after without a sign of life.")  # fmt: skip

    def _act_on_stalled(self, name: str, act: Callable[[int], object], done_text: str) -> None:
        model = self._view.job_model()
        ids = [row.id for row in self._selected_rows() if model.is_stalled(row)]
        if not ids:
            self.explain_nothing_to_do(name)
            return
        done, problems = 0, []
        for job_id in ids:
            try:
                act(job_id)
                done += 1
            except AcaciaError as exc:
                problems.append(str(exc))
        self._report(done_text.format(_plural(done, "job")) if done else "", problems)

    def retry_selected(self) -> None:
        done, problems = 0, []
        for row in self._selected_rows():
            if row.state not in RETRYABLE_STATES:
                continue
            try:
                self._queue.retry(row.id, source=Source.GUI)
                done += 1
            except AcaciaError as exc:
                problems.append(str(exc))
        if not done and not problems:
            self.explain_nothing_to_do("retry")
            return
        self._report(f"Retrying {_plural(done, 'job')}.", problems)

    def retry_selected_with_dependents(self) -> None:
        """Retry each selected job that ended badly, and return the dependents its end cancelled to waiting."""
        done, problems = [], []
        for row in self._selected_rows():
            if row.state not in RETRYABLE_STATES:
                continue
            try:
                self._queue.retry(row.id, with_dependents=True, source=Source.GUI)
                done.append(row.id)
            except AcaciaError as exc:
                problems.append(str(exc))
        if not done and not problems:
            self.explain_nothing_to_do("retry-dependents")
            return
        self._report(f"Retrying {_plural(len(done), 'job')} with the jobs that run after them.", problems)

    def _any_with_dependents(self, rows: list, most: int = 20) -> bool:
        """A selected job that ended badly and that other jobs run after (at most `most` are looked up:
        one indexed read each, and this runs on every live batch)."""
        retryable = [row for row in rows if row.state in RETRYABLE_STATES]
        if len(retryable) > most:
            return True
        return any(self._store.get_dependencies(row.id)["downstream"] for row in retryable)

    def new_job_after_selected(self) -> NewJobDialog | None:
        """The New job dialog with "After" filled in with the selected jobs (the type of the first)."""
        rows = self._selected_rows()
        if not rows:
            self.message.emit("No job selected: select the jobs the new one should run after.")
            return None
        return self.open_new_job_dialog(job_type=rows[0].type, after=[row.id for row in rows])

    def edit_selected(self) -> EditJobDialog | None:
        """Edit the job the details pane shows (the current selected row), if it is still waiting."""
        job_id = self._view.shown_job_id()
        job = self._store.get_job(job_id) if job_id is not None else None
        if job is None or job.state not in EDITABLE_STATES:
            self.explain_nothing_to_do("edit")
            return None
        dialog = EditJobDialog(self._queue, job, queue_names=self._queue_names(), parent=self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.edited.connect(lambda edited_id: self.message.emit(f"Edited job {edited_id}."))
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def move_selected_to_front(self) -> None:
        """Each selected waiting job runs next in its queue; the topmost row ends up first."""
        rows = [row for row in self._selected_rows() if row.state in EDITABLE_STATES]
        if not rows:
            self.explain_nothing_to_do("front")
            return
        model = self._view.job_model()
        done, problems = 0, []
        for row in sorted(rows, key=lambda r: model.row_of(r.id), reverse=True):  # the top row last: it goes first
            try:
                self._queue.edit(row.id, front=True, source=Source.GUI)
                done += 1
            except InvalidTransitionError:
                problems.append(f"Job {row.id} started meanwhile, so it was not moved.")
            except AcaciaError as exc:
                problems.append(str(exc))
        self._report(f"Moved {_plural(done, 'job')} to the front." if done else "", problems)

    def duplicate_selected(self) -> None:
        rows = self._selected_rows()
        if len(rows) == 1:
            job = self._store.get_job(rows[0].id)
            if job is not None:
                self.open_new_job_dialog(prefill=job)
            return
        if not rows:
            self.explain_nothing_to_do("duplicate")
            return
        ids = [row.id for row in rows]
        ask(self._window, name="duplicateQuestion", title="Duplicate jobs",
            text=f"Enqueue a copy of each of the {len(ids):,} selected jobs?",
            buttons=[("yes", "Enqueue copies", YES), ("no", "Cancel", NO)], default="yes",
            on_answer=lambda key: key == "yes" and self._enqueue_copies(ids))  # fmt: skip

    def _enqueue_copies(self, ids: list[int]) -> None:
        copies = []
        for job_id in ids:
            job = self._store.get_job(job_id)
            if job is not None:
                copies.append(Job(job.type, job.payload, queue=job.queue, priority=job.priority,
                                  max_attempts=job.max_attempts, timeout=job.timeout))  # fmt: skip
        try:
            new_ids = self._queue.enqueue_many(Context.background(), copies, source=Source.GUI)
        except AcaciaError as exc:
            self._report("", [f"Nothing was duplicated: {exc}"])
            return
        self.message.emit(f"Enqueued {_plural(len(new_ids), 'copy')}." if len(new_ids) != 1 else "Enqueued 1 copy.")

    def delete_selected(self) -> None:
        rows = self._selected_rows()
        ids = [row.id for row in rows if row.state != "running"]
        running = len(rows) - len(ids)
        if not ids:
            if running:
                self.message.emit("Running jobs cannot be deleted; cancel them first.")
            else:
                self.explain_nothing_to_do("delete")
            return
        extra = f" ({_plural(running, 'running job')} will be kept: cancel them first.)" if running else ""
        root = outputs_root_of(self._store)
        with_outputs = [i for i in ids if root is not None and output_dir_of(root, i).is_dir()]
        informative = (f"{_plural(len(with_outputs), 'job')} of these {'has' if len(with_outputs) == 1 else 'have'} "
                       "an output folder. Its files are kept unless you tick the box.") if with_outputs else ""  # fmt: skip
        box: list[QMessageBox] = []
        box.append(ask(self._window, name="deleteQuestion", title="Delete jobs",
                       text=f"Delete {_plural(len(ids), 'job')} with their logs and history?{extra}",
                       buttons=[("yes", "Delete", QMessageBox.ButtonRole.DestructiveRole), ("no", "Keep", NO)],
                       default="no", informative=informative, checkbox="Delete outputs too" if with_outputs else "",
                       on_answer=lambda key: key == "yes" and self.delete_ids(
                           ids, outputs=bool(with_outputs) and box[0].checkBox().isChecked())))  # fmt: skip

    def delete_ids(self, ids: list[int], *, outputs: bool = False) -> int:
        """Delete the jobs; with `outputs`, their output folders too (never through a symlink)."""
        try:
            count = self._queue.delete(ids, source=Source.GUI)
        except AcaciaError as exc:  # one became running meanwhile: nothing was deleted
            self._report("", [f"Nothing was deleted: {exc}"])
            return 0
        removed, problems = 0, []
        root = outputs_root_of(self._store)
        for job_id in ids if outputs and root is not None else []:
            try:
                removed += remove_output_dir(root, job_id)
            except (AcaciaError, OSError) as exc:
                problems.append(f"The outputs of job {job_id} were kept: {exc}")
        folders = f" and {_plural(removed, 'output folder')}" if removed else ""
        self._report(f"Deleted {_plural(count, 'job')}{folders}.", problems)
        return count

    def clear_finished_jobs(self) -> None:
        count = self._finished_count()
        text = (f"Delete all {_plural(count, 'finished job')} (succeeded, failed, cancelled, interrupted)?" if count
                else "Delete every finished job (succeeded, failed, cancelled, interrupted)?")  # fmt: skip
        ask(self._window, name="clearQuestion", title="Clear finished jobs", text=text,
            buttons=[("yes", "Clear finished", QMessageBox.ButtonRole.DestructiveRole), ("no", "Keep", NO)],
            default="no", on_answer=lambda key: key == "yes" and self.clear_now())  # fmt: skip

    def clear_now(self) -> int:
        try:
            ids = self._queue.clear_finished(source=Source.GUI)
        except AcaciaError as exc:
            self._report("", [str(exc)])
            return 0
        self.message.emit(f"Cleared {_plural(len(ids), 'finished job')}.")
        return len(ids)

    # -- helpers ----------------------------------------------------------------------------
    def _selected_rows(self) -> list:
        return self._view.job_model().rows_for(self._view.selectionModel().selectedRows())

    def _report(self, done: str, problems: list[str]) -> None:
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            done = f"{done} {problems[0]}{more}".strip()
        if done:
            self.message.emit(done)
