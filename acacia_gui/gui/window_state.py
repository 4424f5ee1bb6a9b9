"""What the window remembers between runs (QSettings): geometry, splitters, columns, filters, tab,
the number of workers (applied to the worker at start).

Tests pass their own QSettings (an .ini file in a temporary folder); the app uses the
organisation/application names set in app.py. Every read tolerates a missing or
corrupt value: a bad settings file must never stop the window from opening.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from .models.job_filter import JobFilter

ORGANISATION = "Acacia"
APPLICATION = "Acacia"
KEYS = ("window/geometry", "window/state", "window/mainSplitter", "window/jobSplitter", "window/pluginSplitter",
        "jobs/header", "jobs/filter", "window/tab", "window/details", "queues/workers")  # fmt: skip


def default_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


def read_bytes(settings: QSettings, key: str) -> QByteArray | None:
    value = settings.value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def read_filter(settings: QSettings) -> JobFilter:
    raw = settings.value("jobs/filter")
    try:
        return JobFilter.from_settings(json.loads(raw) if isinstance(raw, str) else None)
    except ValueError:
        return JobFilter()


def write_filter(settings: QSettings, job_filter: JobFilter) -> None:
    settings.setValue("jobs/filter", json.dumps(job_filter.to_settings()))


def read_int(settings: QSettings, key: str, default: int) -> int:
    try:
        return int(settings.value(key, default))
    except (TypeError, ValueError):
        return default


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    value: Any = settings.value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def restore_window(window: QMainWindow, s: QSettings) -> None:
    """Geometry, toolbar/dock state, splitters, columns and sort, filter, tab, details pane (a MainWindow)."""
    w: Any = window
    for key, restore in (("window/geometry", w.restoreGeometry), ("window/state", w.restoreState),
                         ("window/mainSplitter", w.main_splitter.restoreState),
                         ("window/jobSplitter", w.job_splitter.restoreState),
                         ("window/pluginSplitter", w.plugins_view.splitter.restoreState),
                         ("jobs/header", w.table.horizontalHeader().restoreState)):  # fmt: skip
        value = read_bytes(s, key)
        if value is not None:
            restore(value)
    w.table.apply_resize_modes()
    header = w.table.horizontalHeader()
    w.model.sort(header.sortIndicatorSection(), header.sortIndicatorOrder())
    w.filter_bar.set_filter(read_filter(s))
    tab = read_int(s, "window/tab", 0)
    w.tabs.setCurrentIndex(tab if 0 <= tab < w.tabs.count() else 0)
    w.details_action.setChecked(read_bool(s, "window/details", True))
    workers = read_int(s, "queues/workers", 0)
    if workers > 0 and getattr(w, "workers_flag", None) is None:  # `--workers N` wins for its run
        w.queues_panel.set_workers(workers)


def save_window(window: QMainWindow, s: QSettings) -> None:
    w: Any = window
    s.setValue("window/geometry", w.saveGeometry())
    s.setValue("window/state", w.saveState())
    s.setValue("window/mainSplitter", w.main_splitter.saveState())
    s.setValue("window/jobSplitter", w.job_splitter.saveState())
    s.setValue("window/pluginSplitter", w.plugins_view.splitter.saveState())
    s.setValue("jobs/header", w.table.horizontalHeader().saveState())
    write_filter(s, w.filter_bar.current_filter())
    s.setValue("window/tab", w.tabs.currentIndex())
    s.setValue("window/details", w.details_action.isChecked())
    workers = w.queues_panel.workers_spin.value()
    if workers != getattr(w, "workers_flag", None):  # the flag's value is for one run; a change in the window stays
        s.setValue("queues/workers", workers)
    s.sync()
