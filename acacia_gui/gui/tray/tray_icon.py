"""TrayIcon: counts in the tooltip, a menu, and notifications when jobs fail or a queue drains.

Notifications are rate-limited (a thousand failures make one message, not a thousand)
and always emitted as `notified(title, text)`, so the window can show them in its status
bar on desktops without a tray.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ...core.definitions import ACTIVE_STATES
from ..formatting import format_count
from ..live import ChangeBatch
from ..preferences import Preferences
from ..stalls import stall_notification
from ..stats import Stats

MIN_GAP = 3.0  # seconds between two failure notifications


class TrayIcon(QObject):
    notified = Signal(str, str)
    show_requested = Signal()
    new_job_requested = Signal()
    quit_requested = Signal()

    def __init__(self, icon: QIcon, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray = QSystemTrayIcon(icon, self)
        self.tray.setToolTip("Acacia")
        menu = QMenu()
        menu.addAction("Show Acacia", self.show_requested)
        menu.addAction("New job…", self.new_job_requested)
        menu.addSeparator()
        menu.addAction("Quit", self.quit_requested)
        self._menu = menu
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(self._activated)
        self.preferences = Preferences()  # which notifications to show (Settings ▸ Notifications)
        self._active_by_queue: dict[str, int] | None = None
        self._pending_failures: list[tuple[int | None, str]] = []
        self._last_failure_note = 0.0
        self._failure_timer = QTimer(self)
        self._failure_timer.setSingleShot(True)
        self._failure_timer.timeout.connect(self._notify_failures)
        if self.available:
            self.tray.show()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_requested.emit()

    def update_stats(self, stats: Stats) -> None:
        """Tooltip counts; a queue whose active count falls to zero has drained."""
        counts = stats.counts
        parts = [f"{format_count(counts.get(s, 0))} {s}" for s in ("running", "queued", "scheduled", "waiting", "failed")
                 if counts.get(s)]  # fmt: skip
        self.tray.setToolTip("Acacia — " + (", ".join(parts) if parts else "idle"))
        active = {q.name: sum(q.counts.get(s, 0) for s in ACTIVE_STATES) for q in stats.queues}
        previous, self._active_by_queue = self._active_by_queue, active
        if previous is None or not self.preferences.notify_queue_empty:
            return
        for name, now in active.items():
            if now == 0 and previous.get(name, 0) > 0:
                queue = next(q for q in stats.queues if q.name == name)
                done = queue.counts.get("succeeded", 0)
                failed = queue.counts.get("failed", 0)
                self.notify(f"Queue “{name}” is done", f"No jobs left to run ({done:,} succeeded, {failed:,} failed).")

    def on_batch(self, batch: ChangeBatch) -> None:
        stalled = [job_id for job_id, flagged in batch.stalls.items() if flagged]
        if stalled and self.preferences.notify_stall:
            self.notify(*stall_notification(stalled), failed=True)
        if not batch.failed or not self.preferences.notify_failure:
            return
        self._pending_failures.extend((e.job_id, str(e.data.get("error") or "")) for e in batch.failed)
        wait = MIN_GAP - (time.monotonic() - self._last_failure_note)
        if wait <= 0:
            self._notify_failures()
        elif not self._failure_timer.isActive():
            self._failure_timer.start(int(wait * 1000))

    def _notify_failures(self) -> None:
        failures, self._pending_failures = self._pending_failures, []
        if not failures:
            return
        self._last_failure_note = time.monotonic()
        if len(failures) == 1:
            job_id, error = failures[0]
            self.notify(f"Job {job_id} failed", error.splitlines()[0][:200] if error else "See its details.", failed=True)
        else:
            self.notify(f"{len(failures):,} jobs failed", "Filter the table by “Failed” to see them.", failed=True)

    def notify_long_successes(self, jobs: list, now: float | None = None) -> None:
        """One message for the succeeded `jobs` (core Job objects) that ran longer than the setting."""
        prefs = self.preferences
        if not prefs.notify_long_success:
            return
        limit = prefs.long_success_minutes * 60
        long = [j for j in jobs if j.started_at is not None and j.finished_at is not None
                and j.finished_at - j.started_at >= limit]  # fmt: skip
        if len(long) == 1:
            job = long[0]
            minutes = (job.finished_at - job.started_at) / 60
            self.notify(f"Job {job.id} succeeded", f"{job.type} finished after {minutes:,.0f} min.")
        elif long:
            self.notify(f"{len(long):,} long jobs succeeded", f"Each ran longer than {prefs.long_success_minutes} min.")

    def notify(self, title: str, text: str, failed: bool = False) -> None:
        self.notified.emit(title, text)
        if self.available and self.tray.isVisible() and QSystemTrayIcon.supportsMessages():
            kind = QSystemTrayIcon.MessageIcon.Warning if failed else QSystemTrayIcon.MessageIcon.Information
            self.tray.showMessage(title, text, kind, 8000)

    def hide(self) -> None:
        self._failure_timer.stop()
        self.tray.hide()
