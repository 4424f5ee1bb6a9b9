"""Help ▸ User guide, Writing plugins, Protocol reference, Folders, About.

The guides are the project's Markdown files (README.md, docs/protocol.md) rendered by
QTextBrowser.setMarkdown: from the source tree next to the package, else the installed
distribution's metadata (the README is its long description); when neither is there the
dialog says where to read them online instead of showing nothing.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,  # fmt: skip
    QWidget,
)

from ... import __version__
from ...config import Config

DISTRIBUTION = "acacia-gui"
SOURCE_ROOT = Path(__file__).resolve().parents[3]  # the checkout: acacia_gui/gui/dialogs/ → ../../..
MISSING = ("# {title}\n\n`{name}` is not installed with this copy of Acacia. Read it in the project's "
           "source tree, or run `acacia help` for the command line.")  # fmt: skip
PLUGIN_FALLBACK = """# Writing plugins

Put a `.py` file in the plugin folder (Help ▸ Folders shows it) and decorate a function:

```python
from acacia_gui.jobs import handler

@handler("image.resize", title="Resize an image",
         schema={"type": "object", "properties": {"path": {"type": "string", "format": "path"}},
                 "required": ["path"]})
def resize(ctx, job):
    for i in range(10):
        ctx.check()                      # raises if the job was cancelled
        job.report_progress((i + 1) / 10, f"step {i + 1}")
    return {"done": job.payload["path"]}
```

Save the file and the Plugins tab reloads it; a broken plugin is listed there with its traceback.
"""


def read_doc(name: str) -> str | None:
    """The text of `name` (e.g. "README.md", "docs/protocol.md"), or None when it is nowhere to be found."""
    path = SOURCE_ROOT / name
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            pass
    if name == "README.md":
        try:
            description = metadata.metadata(DISTRIBUTION).json.get("description")
        except metadata.PackageNotFoundError:
            return None
        return description if isinstance(description, str) and description.strip() else None
    return None


def doc_or_message(name: str, title: str) -> str:
    return read_doc(name) or MISSING.format(title=title, name=name)


def plugin_section(readme: str | None) -> str:
    """The README's "Writing a handler plugin" section (up to the next heading of its level), or a short text."""
    if readme:
        match = re.search(r"^(#+) Writing a handler plugin.*?$(.*?)(?=^#{1,3} (?!#))", readme + "\n# end", re.M | re.S)
        if match:
            return "# Writing a handler plugin\n" + match.group(2)
    return PLUGIN_FALLBACK


class MarkdownDialog(QDialog):
    """A non-modal reader for one Markdown text; links open in the browser."""

    def __init__(self, title: str, markdown: str, parent: QWidget | None = None, name: str = "markdownDialog") -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("helpBrowser")
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(markdown)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(820, 640)


def config_folders(config: Config) -> list[tuple[str, Path]]:
    """(label, folder) for Help ▸ Folders: data (with the database), plugins, instance locks, the socket's."""
    return [("Data (database)", config.data_dir), ("Plugins", config.plugins_dir),
            ("Instances (locks)", config.instances_dir), ("Socket", Path(config.socket_address).parent)]  # fmt: skip


class FoldersDialog(QDialog):
    """The folders in use, each with an Open button (`opener` is QDesktopServices.openUrl unless a test passes one)."""

    def __init__(self, config: Config, parent: QWidget | None = None,
                 opener: Callable[[QUrl], object] = QDesktopServices.openUrl) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("foldersDialog")
        self.setWindowTitle("Acacia — Folders")
        self._opener = opener
        grid = QGridLayout()
        self.paths: dict[str, Path] = {}
        for row, (label, folder) in enumerate(config_folders(config)):
            field = QLineEdit(str(folder), self)
            field.setReadOnly(True)
            field.setAccessibleName(f"{label} folder")
            button = QPushButton("Open", self)
            button.setObjectName(f"open{row}")
            button.setEnabled(folder.is_dir())
            button.setToolTip(str(folder) if folder.is_dir() else "This folder does not exist yet.")
            button.clicked.connect(lambda _checked=False, f=folder: self.open_folder(f))
            grid.addWidget(QLabel(label + ":", self), row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(button, row, 2)
            self.paths[label] = folder
        note = QLabel(f"Socket file: {config.socket_address}\nLogs: each job's log is in the database "
                      "(the Log tab, `acacia logs ID`).", self)  # fmt: skip
        note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(640, 0)

    def open_folder(self, folder: Path) -> None:
        self._opener(QUrl.fromLocalFile(str(folder)))


def about_text() -> str:
    return (f"<h3>Acacia {__version__}</h3><p>A desktop job manager for the long tasks you run on your own "
            f"machine.</p><p>Qt {qVersion()} · PySide6 {pyside_version} · Python {platform.python_version()}"
            f"<br>{platform.platform()}</p><p>License: MIT</p>")  # fmt: skip


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About Acacia")
        self.label = QLabel(about_text(), self)
        self.label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
