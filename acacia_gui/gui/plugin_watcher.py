"""PluginWatcher: reload plugins when the plugin folder changes (QFileSystemWatcher, debounced).

Editors save by writing a temp file and renaming it, which fires several change
signals in a row and can drop the watched file; the watch list is rebuilt after
every reload and the reload itself waits for a quiet `delay_ms`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal


class PluginWatcher(QObject):
    """Calls `reload()` `delay_ms` after the last change under `folder`."""

    change_seen = Signal()

    def __init__(self, folder: Path, reload: Callable[[], object], *, delay_ms: int = 600,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.folder = Path(folder)
        self._reload = reload
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._changed)
        self._watcher.fileChanged.connect(self._changed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._fire)
        self.enabled = True
        self.rewatch()

    def rewatch(self) -> None:
        """Watch the folder, its package sub-folders and every .py file in them."""
        wanted: set[str] = set()
        if self.folder.is_dir():
            wanted.add(str(self.folder))
            for path in self.folder.rglob("*"):
                if "__pycache__" in path.parts:
                    continue
                if path.is_dir() or path.suffix == ".py":
                    wanted.add(str(path))
        current = set(self._watcher.files()) | set(self._watcher.directories())
        stale = sorted(current - wanted)
        if stale:
            self._watcher.removePaths(stale)
        new = sorted(wanted - current)
        if new:
            self._watcher.addPaths(new)

    def watched(self) -> list[str]:
        return sorted(set(self._watcher.files()) | set(self._watcher.directories()))

    def _changed(self, _path: str) -> None:
        if not self.enabled:
            return
        self.change_seen.emit()
        self._timer.start()

    def _fire(self) -> None:
        self._reload()
        self.rewatch()

    def stop(self) -> None:
        self.enabled = False
        self._timer.stop()
