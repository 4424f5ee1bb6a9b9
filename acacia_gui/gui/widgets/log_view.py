"""LogView: a job's log you can work with — colours by level, a level filter, a search box,
"Show DEBUG" (remembered), follow-the-tail with a "new lines below" jump, Copy and Save as….

Also the small Copy / Save as… helpers the details pane puts on its payload and result boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QGuiApplication, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

SHOW_DEBUG_KEY = "log/showDebug"

# Rank of each level for the level filter; the worker processes' "stdout" reads like INFO and
# "stderr" like a warning (it is where tracebacks and warnings of child programs go).
LEVEL_RANK = {"DEBUG": 10, "INFO": 20, "STDOUT": 20, "WARNING": 30, "WARN": 30, "STDERR": 30,
              "ERROR": 40, "CRITICAL": 50, "FATAL": 50}  # fmt: skip
LEVEL_FILTERS = (("All", 0), ("Info and above", 20), ("Warnings and errors", 30))

# (colour on a light background, colour on a dark background); None: the palette's text colour.
_COLOURS: dict[str, tuple[str, str] | None] = {
    "ERROR": ("#c62828", "#ff7b72"),
    "CRITICAL": ("#c62828", "#ff7b72"),
    "FATAL": ("#c62828", "#ff7b72"),
    "WARNING": ("#a15c00", "#f0b54a"),
    "WARN": ("#a15c00", "#f0b54a"),
    "STDERR": ("#8d5a1c", "#e3a86b"),
    "INFO": None,
    "STDOUT": None,
}


def level_rank(level: str) -> int:
    return LEVEL_RANK.get(level.upper(), 20)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def level_colour(level: str, palette: QPalette) -> QColor | None:
    """The foreground of a line of `level` for `palette`; None keeps the palette's text colour."""
    level = level.upper()
    if level == "DEBUG":  # grey: 60 % of the way from the background to the text, readable on either
        text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
        mix = [round(base.redF() * 0.4 + text.redF() * 0.6, 4), round(base.greenF() * 0.4 + text.greenF() * 0.6, 4),
               round(base.blueF() * 0.4 + text.blueF() * 0.6, 4)]  # fmt: skip
        return QColor.fromRgbF(*mix)
    pair = _COLOURS.get(level)
    if pair is None:
        return None
    return QColor(pair[1] if is_dark(palette) else pair[0])


# -- Copy / Save as… (shared with the payload and result boxes) -------------------------------
def copy_text(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def save_text_as(parent: QWidget, text: str, suggested_name: str, file_filter: str) -> Path | None:
    """Ask for a file name and write `text` there; returns the path written, or None if cancelled."""
    name, _ = QFileDialog.getSaveFileName(parent, "Save as", suggested_name, file_filter)
    if not name:
        return None
    path = Path(name)
    try:
        path.write_text(text if text.endswith("\n") or not text else text + "\n", encoding="utf-8")
    except OSError as exc:
        QMessageBox.warning(parent, "Could not save", f"Could not write {path}:\n{exc}")
        return None
    return path


def copy_save_buttons(parent: QWidget, what: str, text: Callable[[], str], suggested_name: Callable[[], str],
                      file_filter: str) -> tuple[QToolButton, QToolButton]:  # fmt: skip
    """A "Copy" and a "Save as…" button for the text `text()` (e.g. a job's payload)."""
    copy = QToolButton(parent)
    copy.setText("Copy")
    copy.setObjectName(f"copy{what.title()}Button")
    copy.setToolTip(f"Copy the {what} to the clipboard")
    copy.setAccessibleName(f"Copy the {what}")
    copy.clicked.connect(lambda: copy_text(text()))
    save = QToolButton(parent)
    save.setText("Save as…")
    save.setObjectName(f"save{what.title()}Button")
    save.setToolTip(f"Save the {what} to a file")
    save.setAccessibleName(f"Save the {what} as a file")
    save.clicked.connect(lambda: save_text_as(parent, text(), suggested_name(), file_filter))
    return copy, save


class LogView(QWidget):
    """Holds every line it was given (the store caps a job's log) and shows those that pass
    the level filter, "Show DEBUG" and the search. `settings` remembers "Show DEBUG"."""

    lines_changed = Signal(int)  # the number of lines held (all, not only those shown)

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None,
                 max_lines: int = 10_001) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("logView")
        self._settings = settings
        self._lines: list[tuple[str, str]] = []  # (level, text)
        self._shown = 0  # lines in the text box
        self._max_lines = max_lines
        self.suggested_name: Callable[[], str] = lambda: "log.txt"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        bar = QHBoxLayout()
        self.level_filter = QComboBox(self)
        self.level_filter.setObjectName("logLevelFilter")
        self.level_filter.setAccessibleName("Log level filter")
        for title, rank in LEVEL_FILTERS:
            self.level_filter.addItem(title, rank)
        self.show_debug = QCheckBox("Show DEBUG", self)
        self.show_debug.setObjectName("logShowDebug")
        self.show_debug.setChecked(self._read_show_debug())
        self.search = QLineEdit(self)
        self.search.setObjectName("logSearch")
        self.search.setAccessibleName("Search the log")
        self.search.setPlaceholderText("Search the log…")
        self.search.setClearButtonEnabled(True)
        self.copy_button, self.save_button = copy_save_buttons(
            self, "log", self.shown_text, self._suggested, "Text files (*.txt *.log);;All files (*)"
        )
        self.copy_button.setToolTip("Copy the log lines shown (the selection, if any) to the clipboard")
        self.copy_button.clicked.disconnect()
        self.copy_button.clicked.connect(self.copy)
        self.save_button.setToolTip("Save the log lines shown to a file")
        bar.addWidget(self.level_filter)
        bar.addWidget(self.show_debug)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.copy_button)
        bar.addWidget(self.save_button)
        layout.addLayout(bar)
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("logText")
        self.text.setAccessibleName("Log")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setTabChangesFocus(True)
        self.text.setMaximumBlockCount(max_lines)  # a safety net: the store caps the log already
        layout.addWidget(self.text, 1)
        self.jump_button = QPushButton("New lines below — jump", self)
        self.jump_button.setObjectName("logJumpButton")
        self.jump_button.setToolTip("Scroll to the newest lines and follow the log again")
        self.jump_button.hide()
        self.jump_button.clicked.connect(self.scroll_to_end)
        layout.addWidget(self.jump_button, 0, Qt.AlignmentFlag.AlignRight)
        self.level_filter.currentIndexChanged.connect(self._refilter)
        self.show_debug.toggled.connect(self._show_debug_toggled)
        self.search.textChanged.connect(self._refilter)
        self.text.verticalScrollBar().valueChanged.connect(self._scrolled)
        self._formats: dict[str, QTextCharFormat] = {}

    # -- public -------------------------------------------------------------------------
    def clear(self) -> None:
        self._lines.clear()
        self._shown = 0
        self.text.clear()
        self.jump_button.hide()
        self.lines_changed.emit(0)

    def line_count(self) -> int:
        return len(self._lines)

    def append_lines(self, lines: Iterable[tuple[str, str]]) -> None:
        """Add (level, text) lines; follows the tail unless the user has scrolled up."""
        new = list(lines)
        if not new:
            return
        self._lines.extend(new)
        if len(self._lines) > self._max_lines:
            del self._lines[: len(self._lines) - self._max_lines]
        shown = [line for line in new if self._passes(*line)]
        if shown:
            bar = self.text.verticalScrollBar()
            following = self._at_end()
            value = bar.value()
            self._insert(shown)
            if following:
                self.scroll_to_end()
            else:
                bar.setValue(value)
                self.jump_button.show()
        self.lines_changed.emit(len(self._lines))

    def shown_text(self) -> str:
        return self.text.toPlainText()

    def toPlainText(self) -> str:
        return self.shown_text()

    def copy(self) -> None:
        selected = self.text.textCursor().selectedText().replace("\u2029", "\n")
        copy_text(selected or self.shown_text())

    def save_as(self) -> Path | None:
        return save_text_as(self, self.shown_text(), self._suggested(), "Text files (*.txt *.log);;All files (*)")

    def scroll_to_end(self) -> None:
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.maximum())
        self.jump_button.hide()

    def is_following(self) -> bool:
        return self._at_end()

    # -- internals ------------------------------------------------------------------------
    def _suggested(self) -> str:
        return self.suggested_name()

    def _at_end(self) -> bool:
        bar = self.text.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _scrolled(self) -> None:
        if self._at_end():
            self.jump_button.hide()

    def _passes(self, level: str, text: str) -> bool:
        rank = level_rank(level)
        if rank <= LEVEL_RANK["DEBUG"] and not self.show_debug.isChecked():
            return False
        if rank < int(self.level_filter.currentData() or 0):
            return False
        needle = self.search.text().strip().lower()
        return not needle or needle in text.lower()

    def _format(self, level: str) -> QTextCharFormat:
        key = level.upper()
        fmt = self._formats.get(key)
        if fmt is None:
            fmt = QTextCharFormat()
            colour = level_colour(key, self.text.palette())
            if colour is not None:
                fmt.setForeground(colour)
            if key in ("ERROR", "CRITICAL", "FATAL"):
                fmt.setFontWeight(600)
            self._formats[key] = fmt
        return fmt

    def _insert(self, lines: list[tuple[str, str]]) -> None:
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        first = self._shown == 0
        self._shown += len(lines)
        for level, text in lines:
            if not first:
                cursor.insertBlock()
            first = False
            cursor.insertText(text, self._format(level))
        cursor.endEditBlock()

    def _refilter(self) -> None:
        bar = self.text.verticalScrollBar()
        following = self._at_end()
        value = bar.value()
        self.text.clear()
        self._shown = 0
        shown = [line for line in self._lines if self._passes(*line)]
        if shown:
            self._insert(shown)
        if following:
            self.scroll_to_end()
        else:
            bar.setValue(min(value, bar.maximum()))

    def _show_debug_toggled(self, checked: bool) -> None:
        if self._settings is not None:
            self._settings.setValue(SHOW_DEBUG_KEY, checked)
        self._refilter()

    def _read_show_debug(self) -> bool:
        if self._settings is None:
            return False
        value = self._settings.value(SHOW_DEBUG_KEY, False)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    def changeEvent(self, event: QEvent) -> None:
        """A palette (theme) change recolours the lines."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange) and self._formats:
            self._formats.clear()
            self._refilter()
        super().changeEvent(event)
