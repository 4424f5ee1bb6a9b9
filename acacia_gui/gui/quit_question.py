"""The one question every way of quitting asks while jobs run (closing the window, File ▸ Quit,
Ctrl+Q, the tray's Quit), so none of them stops running jobs without the user's say.

Its "Don't ask again" is the Settings' "ask before quitting while jobs run" (see
SettingsController.remember_close_answer).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from .questions import ask

QUESTION_NAME = "closeQuestion"


def ask_to_stop(parent: QWidget, running: int, *, offer_tray: bool,
                on_answer: Callable[[str | None, bool], None]) -> QMessageBox:  # fmt: skip
    """Ask "stop the running jobs and quit?"; `on_answer(key, dont_ask_again)` gets "stop", "tray",
    "cancel" or None. `offer_tray`: also offer to keep running in the tray (closing the window)."""
    buttons = [("stop", "Stop and quit", QMessageBox.ButtonRole.DestructiveRole),
               ("cancel", "Cancel", QMessageBox.ButtonRole.RejectRole)]  # fmt: skip
    jobs = f"{running} job{'s are' if running != 1 else ' is'} running."
    if offer_tray:
        buttons.insert(0, ("tray", "Keep running in the tray", QMessageBox.ButtonRole.AcceptRole))
        text = f"{jobs} Keep running in the tray, or stop?"
    else:
        text = f"{jobs} Stop {'them' if running != 1 else 'it'} and quit?"
    box = ask(parent, name=QUESTION_NAME, title="Jobs are running", checkbox="Don't ask again", text=text,
              informative="Stopping waits for running jobs to finish, up to the stop timeout; jobs that do not "
                          "finish go back to the queue. Nothing is lost.",
              buttons=buttons, default="tray" if offer_tray else "cancel",
              on_answer=lambda key: on_answer(key, box.checkBox().isChecked()))  # fmt: skip
    return box
