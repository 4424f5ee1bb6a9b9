"""DetailsPane: one job in full — payload and result as JSON, error and traceback, live log, history."""

from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.definitions import LOG_LINES_PER_JOB, PROBLEM_STATES, WAITING_STATES, state_names
from ...core.job import Job
from ...core.outputs import output_dir_of, outputs_root_of
from ...core.registry import Registry
from ...store.sqlite import SqliteJobStore
from ..formatting import eta_text, format_duration, format_timestamp, job_duration, pretty_json, state_label
from ..instances.places import instance_place
from ..live import ChangeBatch
from .dependencies_view import DependenciesView
from .log_view import LogView, copy_save_buttons
from .outputs_view import OutputsView
from .pipeline_view import PipelineView

SHOWN_LOG_LINES = LOG_LINES_PER_JOB + 1  # what the store keeps, plus its "limit reached" line
JSON_FILES = "JSON files (*.json);;All files (*)"


def _text_box(name: str, accessible: str, parent: QWidget) -> QPlainTextEdit:
    box = QPlainTextEdit(parent)
    box.setObjectName(name)
    box.setAccessibleName(accessible)
    box.setReadOnly(True)
    box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    box.setTabChangesFocus(True)  # keyboard users can leave the box with Tab
    return box


class DetailsPane(QWidget):
    """Shows the job given to `show_job`; `apply_batch` keeps it live while it runs."""

    job_activated = Signal(int)  # a job chosen in the Dependencies or Pipeline tab: the window selects it

    def __init__(self, store: SqliteJobStore, registry: Registry, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("detailsPane")
        self.setAccessibleName("Job details")
        self._store = store
        self._registry = registry
        self.job_id: int | None = None
        self.job: Job | None = None
        self._last_log_id = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Select a job to see its details.", self)
        self.title.setObjectName("detailsTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.header = QLabel(self)
        self.header.setObjectName("detailsHeader")
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.header.setWordWrap(True)
        for label in (self.title, self.header):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("detailsTabs")
        self.tabs.setAccessibleName("Job details tabs")
        layout.addWidget(self.tabs, 1)
        data = QSplitter(Qt.Orientation.Horizontal, self.tabs)
        self.payload = _text_box("payloadText", "Payload", data)
        self.result = _text_box("resultText", "Result", data)
        for title, box in (("Payload", self.payload), ("Result", self.result)):
            holder = QWidget(data)
            box_layout = QVBoxLayout(holder)
            box_layout.setContentsMargins(0, 4, 0, 0)
            label = QLabel(title, holder)
            label.setBuddy(box)
            box.setParent(holder)
            top = QHBoxLayout()
            top.addWidget(label, 1)
            what = title.lower()
            name = lambda w=what: self._file_name(w, "json")  # noqa: E731
            for button in copy_save_buttons(holder, what, box.toPlainText, name, JSON_FILES):
                top.addWidget(button)
            box_layout.addLayout(top)
            box_layout.addWidget(box)
            data.addWidget(holder)
        self.error = _text_box("errorText", "Error and traceback", self.tabs)
        self.log = LogView(self.tabs, settings=settings, max_lines=SHOWN_LOG_LINES)
        self.log.suggested_name = lambda: self._file_name("log", "txt")
        self.history = QTreeWidget(self.tabs)
        self.history.setObjectName("historyTree")
        self.history.setAccessibleName("Event history")
        self.history.setHeaderLabels(["When", "Who", "Change", "Message"])
        self.history.setRootIsDecorated(False)
        self.history.setUniformRowHeights(True)
        self.history.setColumnWidth(0, 160)
        self.history.setColumnWidth(1, 70)
        self.history.setColumnWidth(2, 190)
        self.tabs.addTab(data, "Payload && result")
        self.tabs.addTab(self.error, "Error")
        self.tabs.addTab(self.log, "Log")
        self.tabs.addTab(self.history, "History")
        self.outputs = OutputsView(self.tabs)
        self.tabs.addTab(self.outputs, "Outputs")
        self.why: Callable[[Job], str] | None = None  # why a job is not running (the window's WhyLine.line)
        self.dependencies = DependenciesView(store, self.tabs)
        self.tabs.addTab(self.dependencies, "Dependencies")
        self.pipeline = PipelineView(store, self.tabs)
        self.tabs.addTab(self.pipeline, "Pipeline")
        self.dependencies.job_activated.connect(self.job_activated)
        self.pipeline.job_activated.connect(self.job_activated)
        self.show_job(None)

    # -- public -----------------------------------------------------------------------
    def show_job(self, job_id: int | None) -> None:
        """Show `job_id` (None: nothing selected). Re-reads everything from the database."""
        self.job_id = job_id
        self._history_of: int | None = None  # which job the history tree shows
        self._last_log_id = 0
        self.log.clear()
        self.job = self._store.get_job(job_id) if job_id is not None else None
        if self.job is None:
            self.title.setText("Select a job to see its details." if job_id is None else f"Job {job_id} was deleted.")
            self.header.clear()
            for box in (self.payload, self.result, self.error):
                box.clear()
            self.history.clear()
            self._show_outputs()
            self._show_links(None)
            self._set_tab_titles(0)
            self.setEnabled(job_id is None)
            return
        self.setEnabled(True)
        self._show_links(job_id)
        self._show_job_fields()
        self._append_new_logs()
        self._show_history()
        self._show_outputs()
        self._avoid_empty_tab()

    def _avoid_empty_tab(self) -> None:
        """A newly selected job opens on a tab with something in it (not an empty Error tab);
        a failed or interrupted job opens on its Error (what the user wants to read first)."""
        if self.job is not None and str(self.job.state) in state_names(PROBLEM_STATES) and self.error.toPlainText():
            self.tabs.setCurrentWidget(self.error)
            return
        current = self.tabs.currentWidget()
        if (current is self.error and not self.error.toPlainText()) or (current is self.log and not self._last_log_id):
            self.tabs.setCurrentIndex(0)
        elif current in (self.dependencies, self.pipeline) and not self.dependencies.count:
            self.tabs.setCurrentIndex(0)

    def apply_batch(self, batch: ChangeBatch) -> None:
        job_id = self.job_id
        if job_id is None:
            return
        if job_id in batch.deleted:
            self.show_job(job_id)
            return
        if self.dependencies.apply_batch(batch):
            self._set_links_title()
            if job_id not in batch.changed:
                self._show_header()  # "waiting on dependency 12 (running, 40 %)" moves on with job 12
        pipeline_of = job_id if self.dependencies.count else None
        if self.pipeline.job_id != pipeline_of:  # it just gained (or lost) its first dependency
            self.pipeline.show_job(pipeline_of)
        else:
            self.pipeline.apply_batch(batch)
        if job_id in batch.changed or job_id in batch.enqueued:
            self.job = self._store.get_job(job_id)
            if self.job is not None:
                self._show_job_fields()
                self._show_history()
                self._show_outputs()
        elif job_id in batch.progress and self.job is not None:
            self.job.progress, self.job.progress_message = batch.progress[job_id]
            self._show_header()
        if job_id in batch.logs:
            self._append_new_logs()

    def tick(self) -> None:
        """Durations and ETA of a running job move on."""
        if self.job is not None and str(self.job.state) == "running":
            self._show_header()
            self._show_outputs()  # artifacts are recorded as the handler adds them

    # -- filling in -----------------------------------------------------------------------
    def _show_job_fields(self) -> None:
        job = self.job
        assert job is not None
        self._show_header()
        self._set_if_changed(self.payload, pretty_json(job.payload))
        self._set_if_changed(self.result, pretty_json(job.result) if job.result is not None else "")
        error = job.error or ""
        if job.traceback:
            error = f"{error}\n\n{job.traceback}" if error else job.traceback
        self._set_if_changed(self.error, error)
        self._set_tab_titles(self.log.line_count() if self._last_log_id else 0)

    def _show_header(self) -> None:
        job = self.job
        if job is None:
            return
        handler = self._registry.get_handler(job.type)
        title = handler.title if handler is not None and handler.title else job.type
        state = str(job.state)
        self.title.setText(f"Job {job.id} · {title} ({job.type}) · queue {job.queue} · {state_label(state)}")
        lines = []
        facts = [f"attempt {job.attempts} of {job.max_attempts}", f"priority {job.priority}",
                 f"created {format_timestamp(job.created_at)}"]  # fmt: skip
        if job.scheduled_for is not None:
            facts.append(f"schedule slot {format_timestamp(job.scheduled_for)}")
        if job.started_at:
            facts.append(f"started {format_timestamp(job.started_at)}")
        duration = job_duration(job.started_at, job.finished_at)
        if duration is not None:
            facts.append(f"ran {format_duration(duration)}")
        if job.timeout:
            facts.append(f"timeout {format_duration(job.timeout)}")
        if handler is not None:
            facts.append("runs in a worker process" if handler.runs_in == "process" else "runs on a thread of the app")
        if job.interruptions:
            facts.append(f"cut short {job.interruptions} time(s) by an app crash")
        if (where := instance_place(self._store, job.instance_id)) is not None:  # the instance (host:pid) running it
            facts.append(f"on {where}")
        elif job.ran_on and state != "running":  # the instance that ran it last (kept once it ends)
            facts.append(f"ran on {job.ran_on}")
        if state == "running":
            if job.progress is not None:
                facts.append(f"{job.progress * 100:.0f} %")
            if job.progress_message:
                facts.append(job.progress_message)
            eta = eta_text(job.progress, job.started_at, message=job.progress_message)
            if eta:
                facts.append(eta)
        if state == "scheduled" and job.run_at:
            facts.append(f"runs at {format_timestamp(job.run_at)}")
        lines.append(" · ".join(facts))
        if self.why is not None and state in state_names(WAITING_STATES):
            lines.append(f"Not running: {self.why(job)}")
        if job.error:
            lines.append(job.error.splitlines()[0][:300])
        checkpoint = self._store.get_checkpoint(job.id)  # one indexed read; it moves on while the job runs
        if checkpoint is not None:
            lines.append(checkpoint_line(checkpoint))
        self.header.setText("\n".join(lines))

    def _append_new_logs(self) -> None:
        if self.job_id is None:
            return
        lines = self._store.get_logs(self.job_id, after=self._last_log_id)
        if not lines:
            return
        self._last_log_id = lines[-1]["id"]
        self.log.append_lines((str(line["level"]), f"{format_timestamp(line['at'])} {line['level']:<7} {line['message']}")
                              for line in lines)  # fmt: skip
        self._set_tab_titles(self.log.line_count())

    def _show_history(self) -> None:
        if self.job_id is None:
            return
        events = self._store.get_events(self.job_id)
        if self._history_of == self.job_id and self.history.topLevelItemCount() == len(events):
            return  # the same job, nothing new
        self._history_of = self.job_id
        self.history.clear()
        for event in events:
            change = f"{event['old_state'] or '—'} → {event['new_state']}"
            item = QTreeWidgetItem([format_timestamp(event["at"]), event["source"], change, event["message"] or ""])
            item.setToolTip(0, f"{event['at']:.3f}")
            self.history.addTopLevelItem(item)
        self.tabs.setTabText(3, f"History ({len(events)})")

    def _show_outputs(self) -> None:
        """The Outputs tab: the job's artifacts, read from the store (few rows, one indexed read)."""
        job_id = self.job_id if self.job is not None else None
        artifacts = self._store.get_artifacts(job_id) if job_id is not None else []
        root = outputs_root_of(self._store)
        self.outputs.show_artifacts(artifacts, str(output_dir_of(root, job_id)) if root and job_id is not None else None)
        index = self.tabs.indexOf(self.outputs)
        self.tabs.setTabText(index, f"Outputs ({len(artifacts):,})" if artifacts else "Outputs")

    def _show_links(self, job_id: int | None) -> None:
        """The Dependencies and Pipeline tabs: the job's neighbours (one indexed read) and its graph."""
        self.dependencies.show_job(job_id)
        self.pipeline.show_job(job_id if self.dependencies.count else None)
        self._set_links_title()

    def _set_links_title(self) -> None:
        count = self.dependencies.count
        self.tabs.setTabText(self.tabs.indexOf(self.dependencies), f"Dependencies ({count:,})" if count else "Dependencies")

    def _set_tab_titles(self, log_lines: int) -> None:
        has_error = bool(self.error.toPlainText())
        self.tabs.setTabText(1, "Error ⚠" if has_error else "Error")
        self.tabs.setTabText(2, f"Log ({log_lines:,})" if log_lines else "Log")
        if not self.history.topLevelItemCount():
            self.tabs.setTabText(3, "History")

    def _file_name(self, what: str, suffix: str) -> str:
        return f"job-{self.job_id}-{what}.{suffix}" if self.job_id is not None else f"{what}.{suffix}"

    @staticmethod
    def _set_if_changed(box: QPlainTextEdit, text: str) -> None:
        if box.toPlainText() != text:
            box.setPlainText(text)


def checkpoint_line(checkpoint: dict) -> str:
    """The header's line saying where a retry would resume: `Checkpoint: {"next": 50} · saved 14:05:03 by attempt 2`."""
    text = json.dumps(checkpoint["data"], ensure_ascii=False)
    text = text if len(text) <= 160 else text[:159] + "…"
    return f"Checkpoint: {text} · saved {format_timestamp(checkpoint['saved_at'])} by attempt {checkpoint['attempt']}"
