"""What the window remembers between runs (QSettings): geometry, splitters, columns, filters, tab.

Tests pass their own QSettings (an .ini file in a temporary folder); the app uses the
organisation/application names set in app.py. Every read tolerates a missing or
corrupt value: a bad settings file must never stop the window from opening.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from .models.job_filter import JobFilter

ORGANISATION = "Acacia"
APPLICATION = "Acacia"
KEYS = ("window/geometry", "window/state", "window/mainSplitter", "window/jobSplitter", "window/pluginSplitter",
        "jobs/header", "jobs/filter", "window/tab", "window/details")  # fmt: skip


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
