"""The Settings dialog's Database field: which database this machine's app opens at its next start.

Empty: the SQLite file in the data folder (the default). A `postgresql://` URL: that shared
PostgreSQL database (README, "Several machines"). A plain path: another SQLite file. The text
is checked as `--database` is (config.load_config: a URL psycopg parses, no key=value pairs),
plus one rule of the field's own: something that looks like a URL of another scheme is refused
rather than taken for a file name.

Stored in QSettings under DATABASE_KEY; `stored_database` reads it back for app.py, where
`--database` and $ACACIA_DATABASE win over it. The URL is stored as typed, since the app
connects with it; the field shows it back without its password (config.redact_url), and a
password kept in the settings file is flagged there: ~/.pgpass is the better place for it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget

from ...config import is_postgres_url, load_config, redact_url
from ...core.errors import InvalidOptionError

DATABASE_KEY = "database/setting"
PLACEHOLDER = "Empty: the SQLite file in the data folder — or postgresql://user@host/acacia"
APPLIES = "Applies at the next start; --database and ACACIA_DATABASE win over it."
PASSWORD_HINT = "A password is saved with it (not shown). ~/.pgpass is a safer place for it."
TYPED_PASSWORD_HINT = "The password would be saved in clear in the settings file: ~/.pgpass is safer."


def check_database(text: str) -> str | None:
    """Why `text` cannot be the database setting, or None when it can (empty included)."""
    text = text.strip()
    if not text:
        return None
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if not is_postgres_url(text) and ("://" in text or scheme in ("postgresql", "postgres")):
        return "Not a PostgreSQL URL: write postgresql://user@host[:port]/dbname, or leave the field empty."
    try:
        load_config(Path.home(), Path.home(), database=text, lease=30.0)  # as --database is checked
    except InvalidOptionError as exc:
        text = str(exc).removeprefix("--database: ")
        return text[:1].upper() + text[1:]
    return None


def has_password(url: str) -> bool:
    if not is_postgres_url(url):
        return False
    from psycopg import ProgrammingError, conninfo

    try:
        return bool(conninfo.conninfo_to_dict(url).get("password"))
    except ProgrammingError:
        return False


def shown_setting(value: str) -> str:
    """What the field shows for a stored value: a URL without its password."""
    if not is_postgres_url(value):
        return value
    try:
        return redact_url(value)
    except InvalidOptionError:
        return ""


def stored_database(settings: QSettings) -> str | None:
    """The stored setting if it is one `--database` would take, else None (the default SQLite file)."""
    value = settings.value(DATABASE_KEY, "")
    text = value.strip() if isinstance(value, str) else ""
    return text if text and check_database(text) is None else None


class DatabaseField(QWidget):
    """The line edit, what is wrong with its text (shown under it, in the field's tooltip) and the notes.
    `validity_changed(bool)`; `value()` is what to store (the stored URL, password included, while the
    text still shows it unchanged)."""

    validity_changed = Signal(bool)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        stored = settings.value(DATABASE_KEY, "")
        self._stored = stored.strip() if isinstance(stored, str) else ""
        self._shown = shown_setting(self._stored)
        if not self._shown:  # a value that does not parse (edited by hand) counts as none: the default file
            self._stored = ""
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self._shown, self)
        self.edit.setObjectName("databaseEdit")
        self.edit.setPlaceholderText(PLACEHOLDER)
        self.edit.setClearButtonEnabled(True)
        self.edit.setCursorPosition(0)  # the URL's start: scheme, user and host
        self.edit.setMinimumWidth(self.edit.fontMetrics().horizontalAdvance("x" * 52))  # a whole URL, most of the time
        self.edit.setAccessibleName("Database: empty for the SQLite file in the data folder, or a PostgreSQL URL")
        self.problem = QLabel(self)
        self.problem.setObjectName("databaseProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c0392b")
        self.note = QLabel(self)
        self.note.setObjectName("databaseNote")
        self.note.setWordWrap(True)
        self.note.setEnabled(False)  # greyed: a hint
        layout.addRow("&Database:", self.edit)
        layout.addRow(self.problem)  # under the field, the whole width
        layout.addRow(self.note)
        self.valid = True
        self.edit.textChanged.connect(self._check)
        self._check(self.edit.text())

    def value(self) -> str:
        text = self.edit.text().strip()
        return self._stored if text == self._shown else text

    def _check(self, text: str) -> None:
        problem = check_database(text)
        self.problem.setText(problem or "")
        self.problem.setVisible(problem is not None)
        self.edit.setToolTip(problem or "")
        notes = [APPLIES]
        if problem is None and has_password(self.value()):
            notes.append(PASSWORD_HINT if self.value() == self._stored else TYPED_PASSWORD_HINT)
        self.note.setText(" ".join(notes))
        if (problem is None) != self.valid:
            self.valid = problem is None
            self.validity_changed.emit(self.valid)

    def save(self, settings: QSettings) -> bool:
        """Store the field's value; True when it changed."""
        value = self.value()
        if value == self._stored:
            return False
        if value:
            settings.setValue(DATABASE_KEY, value)
        else:
            settings.remove(DATABASE_KEY)
        self._stored, self._shown = value, shown_setting(value)
        return True
