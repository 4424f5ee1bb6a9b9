"""The real app on a real X server, driven by real input: run by tests/integration/test_window_xcb.py.

    python -m tests.integration.xcb_scenarios SCENARIO --data-dir D --plugins-dir P --out DIR

starts the app as `acacia` does (app.run: store, worker, socket, MainWindow) on Qt's xcb
platform and, from its event loop, drives it with `xdotool`: XTEST mouse and key events that
go through the X server like a user's, never QTest's synthetic events. Widget positions come
from the window (mapToGlobal). Every wait polls a condition with a deadline; the event loop
never blocks (xdotool runs as a child process that is polled). The outcome is written to
DIR/verdict.json (`ok`, `error`, and what the scenario saw) before the app is asked to quit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QTimer
from PySide6.QtGui import QCursor, QMouseEvent, QPalette
from PySide6.QtWidgets import QApplication, QWidget

STEP_TIMEOUT = float(os.environ.get("XCB_STEP_TIMEOUT", "30"))  # seconds one condition may take on a loaded CI machine
SCENARIO_TIMEOUT = 150.0


class Wait:
    """Yielded by a scenario: resume it with the condition's value once that is truthy."""

    def __init__(self, condition: Callable[[], Any], what: str | Callable[[], str], timeout: float = STEP_TIMEOUT) -> None:
        self.condition, self.what, self.deadline = condition, what, time.monotonic() + timeout


Steps = Generator[Wait, Any, None]


def until(condition: Callable[[], Any], what: str | Callable[[], str], timeout: float = STEP_TIMEOUT) -> Wait:
    return Wait(condition, what, timeout)


def xdotool(*args: object) -> Generator[Wait, Any, str]:
    """Run `xdotool ARGS` without blocking the event loop; its events reach us through the X server."""
    proc = subprocess.Popen(["xdotool", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield until(lambda: proc.poll() is not None, f"xdotool {' '.join(map(str, args))}")
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"xdotool {args} failed ({proc.returncode}): {err.strip()}")
    return out


class MouseLog(QObject):
    """Records the mouse events a widget receives (an event filter: it observes, never consumes)."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.events: list[tuple[str, QPoint]] = []
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        names = {QEvent.Type.MouseButtonPress: "press", QEvent.Type.MouseButtonRelease: "release",
                 QEvent.Type.MouseMove: "move"}  # fmt: skip
        if event.type() in names and isinstance(event, QMouseEvent):
            self.events.append((names[event.type()], event.position().toPoint()))
        return False

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.events if k == kind)

    def last(self, kind: str) -> QPoint | None:
        return next((p for k, p in reversed(self.events) if k == kind), None)


def global_center(widget: QWidget, rect: QRect | None = None) -> QPoint:
    return widget.mapToGlobal((rect if rect is not None else widget.rect()).center())


def hover(widget: QWidget, rect: QRect | None = None) -> Steps:
    """Move the real pointer over `widget` (or `rect` in it) and wait until Qt says it is there."""
    where = global_center(widget, rect)
    yield from xdotool("mousemove", where.x(), where.y())
    yield until(
        lambda: widget.underMouse(),
        lambda: (
            f"the pointer over {widget.objectName() or type(widget).__name__}"
            f" at {where.toTuple()} (the pointer is at {QCursor.pos().toTuple()}, over "
            f"{type(QApplication.widgetAt(where)).__name__}; the window at {widget.window().geometry().getRect()})"
        ),
    )


def click(widget: QWidget, rect: QRect | None = None) -> Steps:
    yield from hover(widget, rect)
    yield from xdotool("click", "1")


def find_window() -> Steps:
    from acacia_gui.gui.main_window import MainWindow

    def shown():
        for widget in QApplication.topLevelWidgets():
            handle = widget.windowHandle() if isinstance(widget, MainWindow) else None
            if handle is not None and widget.isVisible() and handle.isExposed():
                return widget
        return None

    window = yield until(shown, "the main window to be exposed on the X screen")
    return window


def focus_window(window) -> Steps:
    """Give the window the keyboard as a user would: a real click, on the table's bottom edge (no row there)."""
    viewport = window.table.viewport()
    yield from click(viewport, QRect(viewport.width() - 12, viewport.height() - 8, 4, 4))
    yield until(lambda: window.isActiveWindow(), "the window to be active")


def closed(widget: QWidget) -> bool:
    """Hidden, or deleted already (the app's dialogs delete themselves on close)."""
    return not shiboken6.isValid(widget) or not widget.isVisible()


def grab(window, path: Path) -> Any:
    """A screenshot from the X screen itself (what the server shows, not what Qt would render)."""
    geometry = window.geometry()
    image = window.screen().grabWindow(0, geometry.x(), geometry.y(), geometry.width(), geometry.height())
    image.save(str(path))
    return image.toImage()


def distinct_colours(image, rect: QRect, step: int = 2) -> int:
    colours = set()
    for x in range(rect.left(), rect.right(), step):
        for y in range(rect.top(), rect.bottom(), step):
            colours.add(image.pixel(x, y))
    return len(colours)


# -- scenarios ----------------------------------------------------------------------------------------
def enqueue(window, job_type: str, payload: dict, count: int = 1, queue: str = "default") -> list[int]:
    from acacia_gui.core.context import Context
    from acacia_gui.core.job import Job

    jobs = [Job(job_type, payload, queue=queue) for _ in range(count)]
    return window.services.queue.enqueue_many(Context.background(), jobs)


def states(window) -> dict[int, str]:
    return {job.id: job.state for job in window.services.store.list_jobs(limit=1000)}


def cancel_under_churn(verdict: dict, out: Path) -> Steps:
    """(a) press and release on a row's cancel button: that job is cancelled; (b) press, rows are
    inserted above, release: nothing is cancelled; (c) pressed and released again where it now is: it is."""
    from acacia_gui.gui.delegates.cancel_delegate import CancelButtonDelegate
    from acacia_gui.gui.models.columns import JobColumn

    window = yield from find_window()
    table, model = window.table, window.model
    window.services.queue.pause("default")  # the jobs stay queued (cancellable) while the user clicks
    ids = enqueue(window, "demo.sleep", {"seconds": 1}, count=12)
    yield until(lambda: all(model.row_of(i) >= 0 for i in ids), "the 12 jobs in the table")
    viewport = table.viewport()
    log = MouseLog(viewport)

    def button(job_id: int) -> QRect:
        return CancelButtonDelegate.button_rect(table.visualRect(model.index(model.row_of(job_id), JobColumn.CANCEL)))

    def settled() -> bool:  # the view's row layout has caught up with the model
        return table.verticalHeader().count() == model.rowCount()

    def press_release(job_id: int, between: Callable[[], Steps] | None = None) -> Steps:
        rect = button(job_id)
        yield from hover(viewport, rect)
        yield until(lambda: log.last("move") == rect.center() or QCursor.pos() == viewport.mapToGlobal(rect.center()),
                    f"the pointer on job {job_id}'s cancel button")  # fmt: skip
        presses, releases = log.count("press"), log.count("release")
        yield from xdotool("mousedown", "1")
        yield until(lambda: log.count("press") > presses, "the press to reach the table")
        verdict.setdefault("presses", []).append({"job": job_id, "at": [log.last("press").x(), log.last("press").y()],
                                                  "button": [rect.x(), rect.y(), rect.width(), rect.height()]})  # fmt: skip
        if between is not None:
            yield from between()
        yield from xdotool("mouseup", "1")
        yield until(lambda: log.count("release") > releases, "the release to reach the table")
        # the delegate acted (or not) inside that release's dispatch, which has returned by now

    # At the default size (1280 x 800, sidebar shown) every column is in view, the cancel buttons
    # too: the user clicks them without scrolling right first (and without losing the ID column).
    verdict["default_size"] = {"window": [window.width(), window.height()], "viewport": viewport.width(),
                               "cancel_column_x": table.columnViewportPosition(JobColumn.CANCEL),
                               "cancel_column_width": table.columnWidth(JobColumn.CANCEL),
                               "scrolled_right": table.horizontalScrollBar().value(),
                               "sidebar_shown": window.queues_panel.isVisible()}  # fmt: skip
    a = ids[10]  # the second row from the top (newest first): job 11 in a fresh database
    verdict["a"] = a
    yield from press_release(a)
    yield until(lambda: window.services.store.require_job(a).state == "cancelled", f"job {a} to be cancelled")
    verdict["after_a"] = states(window)

    b = ids[7]
    verdict["b"] = b
    row_before = model.row_of(b)
    pointer_y = button(b).center().y()

    def insert_rows() -> Steps:
        new = enqueue(window, "demo.sleep", {"seconds": 1}, count=2)
        verdict["inserted"] = new
        yield until(lambda: model.row_of(b) == row_before + 2 and settled(), f"job {b}'s row to move down by 2")
        under = model.job_at(table.rowAt(pointer_y))
        verdict["under_cursor_at_release"] = under.id if under is not None else None

    yield from press_release(b, insert_rows)
    verdict["after_churn"] = states(window)
    yield from press_release(b)  # where it is now, pressed and released on it: cancelled
    yield until(lambda: window.services.store.require_job(b).state == "cancelled", f"job {b} to be cancelled")
    verdict["final"] = states(window)
    grab(window, out / "churn.png")


def small_window(verdict: dict, out: Path) -> Steps:
    """The X server resizes the window to 800 x 500: the sidebar collapses, Progress shows its ETA,
    the toolbar fits; Ctrl+B shows the sidebar, and a real click on a queue's Pause pauses it."""
    from acacia_gui.gui.delegates.progress_delegate import LABEL_MARGIN, fit_label
    from acacia_gui.gui.formatting import progress_label
    from acacia_gui.gui.models.columns import JobColumn
    from acacia_gui.gui.widgets.job_table_view import PROGRESS_MIN_WIDTH

    window = yield from find_window()
    table, model = window.table, window.model
    running = enqueue(window, "demo.sleep", {"seconds": 120})[0]
    other = enqueue(window, "demo.sleep", {"seconds": 120}, queue="other")[0]
    verdict["running"], verdict["other"] = running, other

    def row():
        r = model.row_of(running)
        return model.job_at(r) if r >= 0 else None

    yield until(lambda: row() is not None and row().state == "running" and row().progress is not None,
                "a running row with progress")  # fmt: skip
    yield from xdotool("windowsize", int(window.winId()), 800, 500)  # the X server resizes it; Qt follows
    yield until(lambda: (window.width(), window.height()) == (800, 500), "the window at 800 x 500")
    yield until(lambda: not window.queues_panel.isVisible(), "the sidebar to collapse")
    yield until(lambda: table.viewport().width() > 700, "the table to take the sidebar's room")
    verdict["minimum_width"] = window.minimumSizeHint().width()
    x, width = table.columnViewportPosition(JobColumn.PROGRESS), table.columnWidth(JobColumn.PROGRESS)
    verdict["progress"] = {"x": x, "width": width, "viewport": table.viewport().width(), "min": PROGRESS_MIN_WIDTH}
    current = row()
    label = fit_label(table.fontMetrics(), width - 2 * LABEL_MARGIN, current.state, current.progress, current.message,
                      model.eta(current), current.error or "")  # fmt: skip
    verdict["progress_label"] = label  # what the delegate paints at this width
    verdict["progress_full_label"] = progress_label(current.state, current.progress, current.message,
                                                    model.eta(current), current.error or "")  # fmt: skip
    image = grab(window, out / "800x500.png")
    cell = table.visualRect(model.index(model.row_of(running), JobColumn.PROGRESS))
    cell_in_window = QRect(table.viewport().mapTo(window, cell.topLeft()), cell.size())
    verdict["progress_cell_colours"] = distinct_colours(image, cell_in_window.intersected(image.rect()))
    verdict["screenshot_colours"] = distinct_colours(image, image.rect(), step=7)

    def whole_in_window(widget: QWidget | None) -> bool:
        return widget is not None and widget.isVisible() and window.rect().contains(
            QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()))  # fmt: skip

    shown, overflow = [], []
    for action in window.toolbar.actions():
        if not action.isSeparator() and action.isVisible():
            (shown if whole_in_window(window.toolbar.widgetForAction(action)) else overflow).append(action.text())
    extension = window.toolbar.findChild(QWidget, "qt_toolbar_ext_button")  # Qt's » button for what did not fit
    verdict["toolbar"] = {"shown": shown, "overflow": overflow, "extension_reachable": whole_in_window(extension)}
    # The user brings the sidebar back with the keyboard and pauses a queue with the mouse.
    yield from focus_window(window)
    yield from xdotool("key", "ctrl+b")
    panel = window.queues_panel
    yield until(lambda: panel.isVisible() and "other" in panel.cards, "the sidebar with the queue 'other'")
    card = panel.cards["other"]
    yield until(lambda: card.pause_button.isVisible() and card.pause_button.text() == "Pause", "other's Pause button")
    viewport = panel._scroll.viewport()
    button = card.pause_button

    def on_screen() -> QRect:  # the part of the Pause button the sidebar shows, in the button's coordinates
        shown = QRect(button.mapTo(viewport, QPoint(0, 0)), button.size()).intersected(viewport.rect())
        return shown.translated(-button.mapTo(viewport, QPoint(0, 0)))

    def clipping() -> dict:
        return {"sidebar": panel.width(), "button_shown": on_screen().width(), "button": button.width(),
                "window": window.width()}  # fmt: skip

    splitter = window.main_splitter  # measured once the splitter has laid the shown sidebar out
    yield until(lambda: splitter.sizes()[0] == panel.width() > 0
                and sum(splitter.sizes()) + splitter.handleWidth() == splitter.width(), "the sidebar laid out")  # fmt: skip
    verdict["pause_at_800"] = clipping()
    grab(window, out / "800x500-sidebar.png")
    yield until(lambda: on_screen().width() >= 8, "some of the Pause button on screen")
    yield from click(button, on_screen())  # where the user can see it
    yield until(lambda: any(q.name == "other" and q.paused for q in window.services.store.list_queues()),
                "the store to say 'other' is paused")  # fmt: skip
    yield until(lambda: button.text() == "Resume", "the button to say Resume")
    # Back at the default size, with the sidebar the user showed: is the card whole now?
    yield from xdotool("windowsize", int(window.winId()), 1280, 800)
    yield until(lambda: (window.width(), window.height()) == (1280, 800), "the window at 1280 x 800")
    yield until(lambda: panel.isVisible(), "the sidebar still shown")
    verdict["pause_at_1280"] = clipping()
    grab(window, out / "1280x800-sidebar.png")
    verdict["queues"] = {q.name: q.paused for q in window.services.store.list_queues()}
    for job_id in (running, other):
        window.services.queue.cancel(job_id)


def settings_change(verdict: dict, out: Path) -> Steps:
    """Ctrl+, opens Settings; real clicks pick the dark theme and tick 'when a queue empties', the
    keyboard sets 5 workers, Return presses OK; Ctrl+Q quits the app."""
    window = yield from find_window()
    yield from focus_window(window)
    yield from xdotool("key", "ctrl+comma")
    dialog = yield until(lambda: (d := window.settings_controller.dialog) is not None and d.isVisible()
                         and d.windowHandle() is not None and d.windowHandle().isExposed() and d,
                         "the Settings dialog")  # fmt: skip
    combo = dialog.theme_combo
    yield from click(combo)
    view = combo.view()
    yield until(lambda: view.isVisible(), "the theme list to open")  # hover() below waits until it is under the pointer
    dark = combo.findData("dark")
    yield from click(view.viewport(), view.visualRect(combo.model().index(dark, 0)))
    yield until(lambda: combo.currentData() == "dark" and not view.isVisible(), "Dark chosen")
    box = dialog.notify_queue_empty
    verdict["queue_empty_before"] = box.isChecked()
    yield from click(box)
    yield until(lambda: box.isChecked() != verdict["queue_empty_before"], "the checkbox toggled")
    spin = dialog.workers_spin
    yield from click(spin.lineEdit())
    yield until(lambda: spin.hasFocus(), "the Workers box focused")
    yield from xdotool("key", "ctrl+a")
    yield from xdotool("type", "5")
    yield until(lambda: spin.value() == 5, "Workers 5 typed")
    verdict["chosen"] = vars(dialog.preferences())
    yield from xdotool("key", "Return")
    yield until(lambda: closed(dialog), "OK to close the dialog")
    yield until(lambda: window.queues_panel.workers_spin.value() == 5 and window.services.worker.concurrency == 5,
                "5 workers applied")  # fmt: skip
    verdict["palette_window_lightness"] = QApplication.palette().color(QPalette.ColorRole.Window).lightness()
    grab(window, out / "settings-dark.png")
    yield from focus_window(window)  # no window manager hands the focus back when the dialog closes: a click does
    verdict["sent_quit"] = True
    yield from xdotool("key", "ctrl+q")  # quits as the user would; the verdict is written when the app has left
    yield until(lambda: False, "the app to quit", timeout=60)


def settings_back(verdict: dict, out: Path) -> Steps:
    """After a restart: the window and a freshly opened Settings dialog show what was chosen."""
    window = yield from find_window()
    verdict["workers_spin"] = window.queues_panel.workers_spin.value()
    verdict["worker_concurrency"] = window.services.worker.concurrency
    verdict["theme_in_force"] = window.settings_controller.preferences.theme
    verdict["palette_window_lightness"] = QApplication.palette().color(QPalette.ColorRole.Window).lightness()
    yield from focus_window(window)
    yield from xdotool("key", "ctrl+comma")
    dialog = yield until(lambda: (d := window.settings_controller.dialog) is not None and d.isVisible() and d,
                         "the Settings dialog")  # fmt: skip
    verdict["dialog"] = {"theme": dialog.theme_combo.currentData(), "workers": dialog.workers_spin.value(),
                         "notify_queue_empty": dialog.notify_queue_empty.isChecked()}  # fmt: skip
    grab(dialog, out / "settings-dialog.png")
    yield from xdotool("key", "Escape")
    yield until(lambda: closed(dialog), "Escape to close the dialog")
    yield from focus_window(window)
    verdict["sent_quit"] = True
    yield from xdotool("key", "ctrl+q")
    yield until(lambda: False, "the app to quit", timeout=60)


SCENARIOS: dict[str, Callable[[dict, Path], Steps]] = {
    "cancel-under-churn": cancel_under_churn,
    "small-window": small_window,
    "settings-change": settings_change,
    "settings-back": settings_back,
}


class Driver(QObject):
    """Steps a scenario from the event loop: polls what it waits for every 10 ms, with deadlines."""

    def __init__(self, steps: Steps, verdict: dict, out: Path) -> None:
        super().__init__()
        self.steps, self.verdict, self.out = steps, verdict, out
        self.waiting: Wait | None = None
        self.deadline = time.monotonic() + SCENARIO_TIMEOUT
        self.timer = QTimer(self)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._poll)

    def start(self) -> None:
        self._advance(None)
        self.timer.start()

    def _advance(self, value: Any, error: BaseException | None = None) -> None:
        try:
            self.waiting = self.steps.throw(error) if error is not None else self.steps.send(value)
        except StopIteration:
            self._finish(ok=True)
        except BaseException as exc:  # everything a scenario raises is its verdict
            self.verdict["error"] = "".join(traceback.format_exception(exc))
            self._finish(ok=False)

    def _poll(self) -> None:
        wait = self.waiting
        if wait is None:
            return
        try:
            value = wait.condition()
        except Exception as exc:
            self._advance(None, exc)
            return
        if value:
            self._advance(value)
        elif time.monotonic() > min(wait.deadline, self.deadline):
            what = wait.what() if callable(wait.what) else wait.what
            self._advance(None, TimeoutError(f"timed out waiting for {what}"))

    def _finish(self, ok: bool) -> None:
        self.timer.stop()
        self.waiting = None
        self.verdict["ok"] = ok
        self.verdict["finished"] = True
        from acacia_gui.gui.main_window import MainWindow

        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if not ok and windows:  # what the screen showed when it went wrong
            screen = windows[0].screen()
            screen.grabWindow(0).save(str(self.out / "failure.png"))
        write_verdict(self.out, self.verdict)
        if windows:
            windows[0].quit()  # the app's own graceful stop
        else:
            QApplication.exit(1)


def write_verdict(out: Path, verdict: dict) -> None:
    (out / "verdict.json").write_text(json.dumps(verdict, indent=1, default=str), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--plugins-dir", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    from acacia_gui.app import run
    from acacia_gui.config import AppOptions

    app = QApplication(sys.argv[:1])  # app.run uses this one
    verdict: dict[str, Any] = {"scenario": args.scenario, "platform": app.platformName()}
    driver = Driver(SCENARIOS[args.scenario](verdict, args.out), verdict, args.out)
    QTimer.singleShot(0, driver.start)
    code = run(AppOptions(data_dir=args.data_dir, plugins_dir=args.plugins_dir, stop_timeout=5.0))
    if not verdict.get("finished"):  # the app left before the scenario ended (Ctrl+Q in a settings scenario)
        verdict["ok"] = verdict.get("error") is None and bool(verdict.get("sent_quit"))
        verdict["quit_by_user"] = True
        write_verdict(args.out, verdict)
    return code


if __name__ == "__main__":
    sys.exit(main())
