"""ScheduleDialog: add a schedule, or edit one (Schedules ▸ Add…, Edit…).

Every field is checked as it is typed and each problem is shown under its field, as in the
New-job and Edit dialogs: the name, the rule (a duration parsed by core.durations, or a cron
expression), the time zone, the queue, and the payload (the handler's schema form, with a
JSON tab). The final word is `Schedule.validate()`, whose one-line message starts with the
field it is about ("cron: …"), so it is routed to that field too; Save stays disabled while
anything is wrong, and a refusal by the store (a name already taken) is shown the same way.
"""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.definitions import MAX_PRIORITY, Source
from ...core.errors import AcaciaError
from ...core.job import QUEUE_PATTERN
from ...core.queue import JobQueue
from ...core.schedules import (
    CATCH_UP_MODES,
    DEFAULT_MAX_BACKLOG,
    MAX_BACKLOG_LIMIT,
    SCHEDULE_NAME_PATTERN,
    Schedule,
    next_slot,
    validate_cron,
)
from ..dialogs.edit_job_dialog import error_label
from ..dialogs.schema_fields import ERROR_STYLE, highlight
from ..dialogs.schema_form import defaults_of
from ..formatting import format_table_time
from ..icons import icon
from .cells import CATCH_UP_WORDS
from .payload_editor import PayloadEditor
from .rule_field import RuleField

NAME_RULE = "use letters, digits and . _ - (at most 64 characters, not starting with . or -)"
EDITABLE_KEYS = ("type", "payload", "every", "cron", "timezone", "catch_up", "max_backlog", "queue", "priority")
PREVIEW_RUNS = 3


class ScheduleDialog(QDialog):
    """Adds a schedule (`schedule` None) or edits `schedule` through `queue`; `saved(name)` after it worked."""

    saved = Signal(str)

    def __init__(self, queue: JobQueue, schedule: Schedule | None = None, *, queue_names: Iterable[str] = (),
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.original = schedule
        self.setObjectName("scheduleDialog")
        self.setWindowTitle(f"Edit schedule {schedule.name}" if schedule else "Add schedule")
        self.setWindowIcon(icon("schedule", self.palette()))
        self.setStyleSheet(ERROR_STYLE + 'QPlainTextEdit[invalid="true"] { border: 2px solid #d32f2f; }')
        self.resize(620, 640)
        self.queue = queue
        self.problem = ""
        self.problems: dict[str, str] = {}  # field → what is wrong with it (also shown under it)
        # Only a payload the user edited is written back: the form's reading of an untouched one may
        # differ in form only (an unset check box reads as false), as in the Edit-job dialog.
        self.payload_touched = schedule is None
        self._loading = True
        self._handlers = {h.job_type: h for h in queue.registry}
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_fields(queue_names))
        payload_group = QGroupBox("Payload", self)
        payload_layout = QVBoxLayout(payload_group)
        self.payload = PayloadEditor(payload_group)
        payload_layout.addWidget(self.payload)
        layout.addWidget(payload_group, 1)
        self.problem_label = error_label(self, "problemLabel")
        layout.addWidget(self.problem_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.save_button = self.buttons.addButton("&Save" if schedule else "&Add", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("saveButton")
        self.save_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._load(schedule)
        self._loading = False
        for signal in (self.name_edit.textChanged, self.rule.changed,
                       self.timezone_box.editTextChanged, self.catch_up_box.currentIndexChanged,
                       self.backlog_spin.valueChanged, self.queue_box.editTextChanged, self.priority.valueChanged,
                       self.payload.changed):  # fmt: skip
            signal.connect(self.validate)
        self.type_box.editTextChanged.connect(self._on_type_changed)
        self.payload.changed.connect(self._on_payload_edited)
        self.catch_up_box.currentIndexChanged.connect(self._on_catch_up)
        self.rule.changed.connect(self._on_rule_kind)
        self._on_catch_up()
        self._on_rule_kind()
        self.validate()
        (self.type_box if schedule else self.name_edit).setFocus()

    # -- layout ----------------------------------------------------------------------------
    def _build_fields(self, queue_names: Iterable[str]) -> QGroupBox:
        group = QGroupBox("Schedule", self)
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_edit = QLineEdit(group)
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setPlaceholderText("nightly-backup")
        self.name_error = error_label(group, "nameError")
        self.type_box = QComboBox(group)
        self.type_box.setObjectName("typeBox")
        self.type_box.setEditable(True)  # a type whose plugin is not loaded yet may be scheduled too
        self.type_box.addItems(sorted(self._handlers))
        for index in range(self.type_box.count()):
            handler = self._handlers[self.type_box.itemText(index)]
            self.type_box.setItemData(index, handler.title or handler.job_type, Qt.ItemDataRole.ToolTipRole)
        self.type_help = QLabel(group)
        self.type_help.setObjectName("typeHelp")
        self.type_help.setWordWrap(True)
        self.type_help.setTextFormat(Qt.TextFormat.PlainText)
        self.type_error = error_label(group, "typeError")
        self.rule = RuleField(group)
        self.timezone_box = QComboBox(group)
        self.timezone_box.setObjectName("timezoneBox")
        self.timezone_box.setEditable(True)
        self.timezone_box.addItem("")
        self.timezone_box.addItems(sorted(zoneinfo.available_timezones()))
        self.timezone_box.setMaxVisibleItems(15)
        local = datetime.now().astimezone().tzname() or "local"
        self.timezone_box.lineEdit().setPlaceholderText(f"Local time ({local})")
        completer = QCompleter(self.timezone_box.model(), self.timezone_box)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.timezone_box.setCompleter(completer)
        self.timezone_error = error_label(group, "timezoneError")
        self.catch_up_box = QComboBox(group)
        self.catch_up_box.setObjectName("catchUpBox")
        for mode in CATCH_UP_MODES:
            self.catch_up_box.addItem(mode, mode)
            self.catch_up_box.setItemData(self.catch_up_box.count() - 1, CATCH_UP_WORDS[mode], Qt.ItemDataRole.ToolTipRole)
        self.backlog_spin = QSpinBox(group)
        self.backlog_spin.setObjectName("backlogSpin")
        self.backlog_spin.setRange(1, MAX_BACKLOG_LIMIT)
        self.backlog_spin.setPrefix("at most ")
        self.backlog_spin.setSuffix(" jobs")
        self.backlog_spin.setToolTip("With “all”: the most missed runs enqueued at once; older ones are dropped")
        self.catch_up_help = QLabel(group)
        self.catch_up_help.setObjectName("catchUpHelp")
        self.catch_up_help.setWordWrap(True)
        self.catch_up_help.setEnabled(False)  # greyed: a hint
        self.queue_box = QComboBox(group)
        self.queue_box.setObjectName("queueBox")
        self.queue_box.setEditable(True)
        self.queue_box.addItems(["", *sorted(set(queue_names) | {"default"})])
        self.queue_box.lineEdit().setPlaceholderText("the type's own queue")
        self.queue_error = error_label(group, "queueError")
        self.priority = QSpinBox(group)
        self.priority.setObjectName("prioritySpin")
        self.priority.setRange(-MAX_PRIORITY, MAX_PRIORITY)
        self.priority.setToolTip("Higher runs first; equal priorities run in order of arrival")
        catch_up_row = _row(group, self.catch_up_box, self.backlog_spin)
        queue_row = _row(group, self.queue_box, QLabel("&Priority:", group), self.priority)
        queue_row.findChild(QLabel).setBuddy(self.priority)
        rows = (("&Name:", _column(group, self.name_edit, self.name_error), self.name_edit, "Name"),
                ("Job &type:", _column(group, self.type_box, self.type_help, self.type_error), self.type_box, "Job type"),
                ("Rule:", self.rule, self.rule.every_edit, ""),
                ("Time &zone:", _column(group, self.timezone_box, self.timezone_error), self.timezone_box, "Time zone"),
                ("&Missed runs:", _column(group, catch_up_row, self.catch_up_help), self.catch_up_box, "Missed runs"),
                ("&Queue:", _column(group, queue_row, self.queue_error), self.queue_box, "Queue"))  # fmt: skip
        for text, field, buddy, name in rows:
            label = QLabel(text, group)
            label.setBuddy(buddy)
            if name:
                buddy.setAccessibleName(name)
            form.addRow(label, field)
        return group

    def _load(self, schedule: Schedule | None) -> None:
        if schedule is None:
            first = self.type_box.itemText(0) if self.type_box.count() else ""
            self.type_box.setCurrentText(first)
            self.backlog_spin.setValue(DEFAULT_MAX_BACKLOG)
            self._on_type_changed()
            return
        self.name_edit.setText(schedule.name)
        self.name_edit.setReadOnly(True)  # a schedule's name is its key: remove and add to rename
        self.name_edit.setToolTip("A schedule's name cannot change")
        self.type_box.setCurrentText(schedule.type)
        self._show_type_help()
        handler = self._handlers.get(schedule.type)
        self.payload.set_schema(handler.schema if handler else None, schedule.type, schedule.payload)
        self.rule.set_rule(schedule.every, schedule.cron)
        self.timezone_box.setCurrentText(schedule.timezone or "")
        self.catch_up_box.setCurrentIndex(max(0, self.catch_up_box.findData(schedule.catch_up)))
        self.backlog_spin.setValue(schedule.max_backlog)
        self.queue_box.setCurrentText(schedule.queue or "")
        self.priority.setValue(schedule.priority)

    # -- reacting ------------------------------------------------------------------------------
    def _on_type_changed(self) -> None:
        """A known type: its schema's form, with its defaults (kept: the payload of an edited schedule)."""
        job_type = self.type_box.currentText().strip()
        self._show_type_help()
        if job_type == self.payload.job_type:
            self.validate()
            return
        handler = self._handlers.get(job_type)
        if self.original is not None and job_type == self.original.type:
            payload = self.original.payload
        else:
            payload = defaults_of(handler.schema) if handler is not None and handler.schema else {}
        was_loading, self._loading = self._loading, True
        self.payload.set_schema(handler.schema if handler else None, job_type, payload)
        self._loading = was_loading
        if self.original is not None and job_type != self.original.type:
            self.payload_touched = True  # another type's payload replaces the stored one
        if not self._loading:
            self.validate()

    def _on_payload_edited(self) -> None:
        if not self._loading:
            self.payload_touched = True

    def _show_type_help(self) -> None:
        handler = self._handlers.get(self.type_box.currentText().strip())
        if handler is not None:
            text = f"{handler.title or handler.job_type}: {handler.description}" if handler.description else \
                (handler.title or handler.job_type)  # fmt: skip
        else:
            text = "No loaded plugin handles this type: its jobs wait until one does." if self.type_box.currentText() \
                else ""  # fmt: skip
        self.type_help.setText(text)
        self.type_help.setVisible(bool(text))

    def _on_catch_up(self) -> None:
        mode = self.catch_up_box.currentData()
        self.catch_up_help.setText(f"{mode}: {CATCH_UP_WORDS[mode]}.")
        self.backlog_spin.setEnabled(mode == "all")

    def _on_rule_kind(self) -> None:
        """A time zone only moves cron times: an `every` rule counts seconds from its creation."""
        cron = self.rule.kind == "cron"
        self.timezone_box.setEnabled(cron)
        self.timezone_box.setToolTip("The zone the cron times are read in; empty: this machine's" if cron
                                     else "Only a cron rule uses a time zone")  # fmt: skip

    # -- checking --------------------------------------------------------------------------------
    def build_schedule(self) -> Schedule:
        """The schedule as entered (not checked); fields that do not read are left empty."""
        every, cron, _problem = self.rule.rule()
        payload, _problems = self.payload.value()
        timezone = self.timezone_box.currentText().strip() if cron is not None else ""
        return Schedule(
            name=self.name_edit.text().strip(),
            type=self.type_box.currentText().strip(),
            payload=payload,
            every=every,
            cron=cron,
            timezone=timezone or None,
            catch_up=self.catch_up_box.currentData(),
            max_backlog=self.backlog_spin.value(),
            queue=self.queue_box.currentText().strip() or None,
            priority=self.priority.value(),
            paused=self.original.paused if self.original is not None else False,
            created_at=self.original.created_at if self.original is not None else None,
        )

    def validate(self) -> list[str]:
        """Check every field, show each problem under it; Save is enabled only when there are none."""
        if self._loading:
            return []
        problems: dict[str, str] = {}
        name = self.name_edit.text().strip()
        if not name:
            problems["name"] = "Name: enter a name for the schedule."
        elif not SCHEDULE_NAME_PATTERN.fullmatch(name):
            problems["name"] = f"Name: {name!r} is not a schedule name: {NAME_RULE}."
        if not self.type_box.currentText().strip():
            problems["type"] = "Job type: choose a job type."
        every, cron, rule_problem = self.rule.rule()
        zone = self.timezone_box.currentText().strip()
        if cron is not None and zone and zone not in zoneinfo.available_timezones():
            problems["timezone"] = f"Time zone: unknown time zone {zone!r}; choose one from the list, such as Europe/Paris."
            zone = ""
        if cron is not None and not rule_problem:
            try:
                validate_cron(cron, zone or None)
            except AcaciaError as exc:
                rule_problem = route(str(exc))[1]
        if rule_problem:
            problems["rule"] = rule_problem
        self.rule.show_preview("" if rule_problem else preview_text(
            Schedule("preview", "preview", every=every, cron=cron, timezone=zone or None,
                     created_at=self.original.created_at if self.original is not None else None)))  # fmt: skip
        queue = self.queue_box.currentText().strip()
        if queue and not QUEUE_PATTERN.fullmatch(queue):
            problems["queue"] = f"Queue: {queue!r} is not a queue name: {NAME_RULE}."
        payload_problems = self.payload.value()[1]
        if not problems and not payload_problems:
            schedule = self.build_schedule()
            try:
                schedule.validate()
                self.queue.prepare_schedule_job(schedule)  # the job it will enqueue: as the queue checks one
            except AcaciaError as exc:
                field, text = route(str(exc))
                problems[field] = text
        self._show(problems, payload_problems)
        return list(problems.values()) + payload_problems

    def _show(self, problems: dict[str, str], payload_problems: list[str]) -> None:
        self.problems = problems
        for field, label, widget in (("name", self.name_error, self.name_edit), ("type", self.type_error, self.type_box),
                                     ("timezone", self.timezone_error, self.timezone_box),
                                     ("queue", self.queue_error, self.queue_box)):  # fmt: skip
            text = problems.get(field, "")
            label.setText(text)
            label.setVisible(bool(text))
            highlight(widget, bool(text))
        self.rule.show_problem(problems.get("rule", ""))
        other = problems.get("other", "")
        self.problem_label.setText(other)
        self.problem_label.setVisible(bool(other))
        self.problem = "\n".join([*problems.values(), *payload_problems])
        self.save_button.setEnabled(not self.problem)
        self.save_button.setToolTip(self.problem or ("Save the changes" if self.original else "Add the schedule"))

    # -- saving -----------------------------------------------------------------------------------
    def changes(self) -> dict[str, Any]:
        """What differs from the edited schedule: the `changes` for JobQueue.edit_schedule."""
        assert self.original is not None
        before, after = self.original.to_dict(), self.build_schedule().to_dict()
        if not self.payload_touched:
            after["payload"] = before["payload"]
        return {key: after[key] for key in EDITABLE_KEYS if after[key] != before[key]}

    def accept(self) -> None:
        if self.validate():
            return
        schedule = self.build_schedule()
        try:
            if self.original is None:
                self.queue.add_schedule(schedule, source=Source.GUI)
            else:
                changes = self.changes()
                if changes:
                    self.queue.edit_schedule(schedule.name, changes, source=Source.GUI)
        except AcaciaError as exc:
            field, text = route(str(exc))
            self._show({field: text}, [])
            return
        self.saved.emit(schedule.name)
        super().accept()


FIELD_OF = {"name": "name", "type": "type", "every": "rule", "cron": "rule", "every/cron": "rule",
            "timezone": "timezone", "queue": "queue"}  # fmt: skip
FIELD_TITLES = {"name": "Name", "type": "Job type", "rule": "Rule", "timezone": "Time zone", "queue": "Queue"}


def route(message: str) -> tuple[str, str]:
    """(field, text) for a message of Schedule.validate() or the store ("cron: …" → the rule's field)."""
    head, _sep, rest = message.partition(":")
    field = FIELD_OF.get(head.strip())
    if field is None:
        if "already exists" in message:
            return "name", f"Name: {message}."
        return "other", message
    title = {"every": "Every", "cron": "Cron"}.get(head.strip(), FIELD_TITLES[field])
    return field, f"{title}:{rest}"


def preview_text(schedule: Schedule, now: float | None = None) -> str:
    """'Next runs: 14:05, 14:15, 14:25' for a valid rule ('' if it cannot be worked out)."""
    now = time.time() if now is None else now
    probe = Schedule(**{**schedule.to_dict(), "created_at": schedule.created_at or now})
    runs: list[str] = []
    after = now
    try:
        for _ in range(PREVIEW_RUNS):
            after = next_slot(probe, after)
            runs.append(format_table_time(after, now))
    except (AcaciaError, StopIteration, ValueError, OverflowError):
        return ""
    mine = " (this machine's time)" if schedule.timezone else ""
    return f"Next runs{mine}: {', '.join(runs)}"


def _row(parent: QWidget, *widgets: QWidget) -> QWidget:
    holder = QWidget(parent)
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget, 1 if isinstance(widget, QComboBox) else 0)
    return holder


def _column(parent: QWidget, *widgets: QWidget) -> QWidget:
    holder = QWidget(parent)
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    for widget in widgets:
        column.addWidget(widget)
    return holder
