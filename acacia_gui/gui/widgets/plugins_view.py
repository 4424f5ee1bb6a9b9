"""PluginsView: every plugin with its handlers, every plugin error with its traceback, reload and open folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.limits import format_bytes
from ...core.registry import RegisteredHandler
from ..formatting import format_duration, pretty_json
from ..icons import icon

DETAILS_ROLE = Qt.ItemDataRole.UserRole + 1


def handler_text(handler: RegisteredHandler) -> str:
    lines = [handler.title or handler.job_type, f"Job type: {handler.job_type}"]
    if handler.description:
        lines += ["", handler.description, ""]
    lines.append(f"Queue: {handler.queue}")
    lines.append(f"Timeout: {format_duration(handler.timeout) if handler.timeout else 'none'}")
    lines.append(f"Attempts: {handler.max_attempts}")
    lines.append(f"If the app dies mid-run: {'mark interrupted' if handler.on_interrupt == 'fail' else 'run again'}"
                 + ("" if handler.on_interrupt == "fail" else f" (at most {handler.max_interruptions} times)"))
    if handler.runs_in == "process":
        limits = [f"memory {format_bytes(handler.memory_limit)}" if handler.memory_limit else "",
                  f"CPU time {format_duration(handler.cpu_time_limit)}" if handler.cpu_time_limit else "",
                  f"nice {handler.nice}" if handler.nice else ""]  # fmt: skip
        shown = ", ".join(limit for limit in limits if limit) or "none"
        lines.append(f"Runs in: a supervised worker process (a crash or a hard cancel stops only this job); "
                     f"killed {format_duration(handler.cancel_grace)} after a cancel it ignores; limits: {shown}")
    else:
        note = handler.isolation_note()
        lines.append("Runs in: a thread of the app" + (f" ({note})" if note else " (isolation='thread')"))
    lines += ["", "Payload schema:", pretty_json(handler.schema) if handler.schema is not None else "(any JSON)"]
    return "\n".join(lines)


class PluginsView(QWidget):
    """Shows a LoadReport; Reload calls `reload()`, which answers with a new report via `show_report`."""

    reload_requested = Signal()
    message = Signal(str)

    def __init__(self, plugins_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pluginsView")
        self.setAccessibleName("Plugins")
        self.plugins_dir = Path(plugins_dir)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.folder_label = QLabel(f"Plugin folder: {self.plugins_dir}", self)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setToolTip(str(self.plugins_dir))
        # A long path must not set the window's minimum width (at 800 px it is cut, the tooltip has it whole)
        self.folder_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.open_button = QPushButton(icon("folder", self.palette()), "&Open plugin folder", self)
        self.open_button.setObjectName("openPluginFolder")
        self.reload_button = QPushButton(icon("reload", self.palette()), "&Reload plugins", self)
        self.reload_button.setObjectName("reloadPlugins")
        self.reload_button.setToolTip("Load the plugin folder again; running jobs keep the code they started with")
        self.open_button.clicked.connect(self.open_folder)
        self.reload_button.clicked.connect(self.reload_requested)
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.open_button)
        top.addWidget(self.reload_button)
        layout.addLayout(top)
        self.banner = QLabel(self)
        self.banner.setObjectName("problemBanner")
        self.banner.setWordWrap(True)
        layout.addWidget(self.banner)
        self.loaded_label = QLabel(self)
        self.loaded_label.setObjectName("loadedAt")
        layout.addWidget(self.loaded_label)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.tree = QTreeWidget(split)
        self.tree.setObjectName("pluginTree")
        self.tree.setAccessibleName("Plugins, handlers and problems")
        self.tree.setHeaderLabels(["Plugin / handler", "Job type", "Queue", "Runs in"])
        self.tree.setColumnWidth(0, 260)
        self.tree.setColumnWidth(1, 150)
        self.details = QPlainTextEdit(split)
        self.details.setObjectName("pluginDetails")
        self.details.setAccessibleName("Plugin details")
        self.details.setReadOnly(True)
        self.details.setTabChangesFocus(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        split.addWidget(self.tree)
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        self.splitter = split
        layout.addWidget(split, 1)
        self.tree.currentItemChanged.connect(self._show_item)
        self.problems_root: QTreeWidgetItem | None = None

    def show_report(self, report: Any, automatic: bool = False) -> None:
        """Rebuild the tree from a LoadReport (plugins, handlers, problems)."""
        self.tree.clear()
        self.details.clear()
        self.problems_root = None
        warning = icon("warning", self.palette())
        plugin_icon = icon("plugin", self.palette())
        for plugin in report.plugins:
            item = QTreeWidgetItem([plugin.name, "", ""])
            item.setIcon(0, plugin_icon)
            item.setToolTip(0, plugin.path)
            item.setData(0, DETAILS_ROLE, f"{plugin.name}\n{plugin.path}\nSource: {plugin.source}\n"
                                           f"Handlers: {', '.join(plugin.handlers) or 'none'}")  # fmt: skip
            for job_type in plugin.handlers:
                handler = report.handlers.get(job_type)
                if handler is None:
                    continue
                child = QTreeWidgetItem([handler.title or job_type, job_type, handler.queue, handler.runs_in])
                child.setToolTip(0, handler.description or job_type)
                child.setData(0, DETAILS_ROLE, handler_text(handler))
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
        if report.problems:
            root = QTreeWidgetItem([f"Problems ({len(report.problems)})", "", ""])
            root.setIcon(0, warning)
            root.setData(0, DETAILS_ROLE, "Plugins that could not be loaded. Select one to see why.")
            for problem in report.problems:
                child = QTreeWidgetItem([problem.plugin, problem.message, ""])
                child.setIcon(0, warning)
                child.setToolTip(1, problem.message)
                text = f"{problem.plugin}\n{problem.path}\n\n{problem.message}"
                if problem.traceback:
                    text += f"\n\n{problem.traceback}"
                child.setData(0, DETAILS_ROLE, text)
                root.addChild(child)
            self.tree.addTopLevelItem(root)
            root.setExpanded(True)
            self.problems_root = root
        self._show_banner(report)
        how = "automatically, after a change in the folder" if automatic else ""
        self.loaded_label.setText(f"Loaded at {time.strftime('%H:%M:%S')} {how}".rstrip())
        if self.problems_root is not None:
            self.tree.setCurrentItem(self.problems_root.child(0))
        elif self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))

    def _show_banner(self, report: Any) -> None:
        n_handlers, n_problems = len(report.handlers), len(report.problems)
        text = f"{len(report.plugins)} plugin(s), {n_handlers} handler(s)."
        if n_problems:
            text += f" {n_problems} plugin(s) could not be loaded — select one under Problems to see why."
        self.banner.setText(text)
        self.banner.setAccessibleName(text)

    def problem_count(self) -> int:
        return self.problems_root.childCount() if self.problems_root is not None else 0

    def _show_item(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None) -> None:
        self.details.setPlainText(item.data(0, DETAILS_ROLE) or "" if item is not None else "")

    def open_folder(self) -> None:
        """Open the plugin folder in the desktop's file manager (created if missing)."""
        self.plugins_dir.mkdir(parents=True, exist_ok=True)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.plugins_dir))):
            self.message.emit(f"Could not open a file manager; the plugin folder is {self.plugins_dir}")
