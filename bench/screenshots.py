"""Render the README's screenshots offscreen: the main window with jobs in every state, the New job
dialog (form and JSON), the Plugins view, the main window in a dark palette, and the Instances tab
with two instances sharing a PostgreSQL database (this window and a real `acacia serve` process;
the server as the tests find one: $ACACIA_TEST_POSTGRES, 127.0.0.1:5432, or a private cluster).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/screenshots.py [--out docs/screenshots]

Uses a throw-away data dir with the example plugins (plus one broken plugin, so the
Plugins view shows how an error looks) and real jobs run by the real worker.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from acacia_gui.app import build_services  # noqa: E402
from acacia_gui.config import AppOptions, load_config  # noqa: E402
from acacia_gui.core.context import Context  # noqa: E402
from acacia_gui.core.job import Job  # noqa: E402
from acacia_gui.core.recovery import RecoveryPolicy  # noqa: E402
from acacia_gui.gui.preferences import dark_palette  # noqa: E402

BROKEN_PLUGIN = '''"""A plugin with a mistake, to show how the Plugins view reports it."""
from acacia_gui.jobs import handler


@handler("image.resize", title="Resize image", schema={"type": "object", "properties": {"width": {"type": "integr"}}})
def resize(ctx, job):
    return None
'''


def pump(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run the event loop until `condition()` holds (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def settle(seconds: float) -> None:
    end = time.monotonic() + seconds
    pump(lambda: time.monotonic() >= end, seconds + 1)


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def make_interrupted(services, source: str) -> int:
    """A shell job whose app died mid-run: claimed by an instance that is gone, then recovered."""
    job_id = services.queue.enqueue(Context.background(), Job("shell.run", {"command": "./nightly-backup.sh"}),
                                    source=source)  # fmt: skip
    services.store.complete_and_claim([], "gone-instance", 1)
    services.store.recover_instance("gone-instance", RecoveryPolicy.from_registry(services.registry))
    return job_id


def fill_database(services, data_dir: Path) -> dict[str, int]:
    """Jobs in every state; returns a few ids worth selecting."""
    queue, ctx = services.queue, Context.background()

    def add(job_type: str, payload: object, **options: object) -> int:
        return queue.enqueue(ctx, Job(job_type, payload, **options), source="gui")

    ids = {"interrupted": make_interrupted(services, "gui")}
    sample = data_dir / "holiday-photos.tar"
    sample.write_bytes(os.urandom(3 * 1024 * 1024))
    ids["hash"] = add("file.hash", {"path": str(sample), "algorithm": "sha256"})
    for seconds in (0.2, 0.3, 0.4):
        add("demo.sleep", {"seconds": seconds})
    add("shell.run", {"command": "echo compressing logs; echo done"})
    ids["failed"] = add("demo.sleep", {"seconds": 0.2, "fail": True})
    ids["cancelled"] = add("demo.sleep", {"seconds": 30}, queue="batch", priority=1)
    queue.cancel(ids["cancelled"], source="gui")
    return ids


def start_live_jobs(services) -> dict[str, int]:
    queue, ctx = services.queue, Context.background()
    ids = {"running": queue.enqueue(ctx, Job("demo.sleep", {"seconds": 24}), source="gui")}
    queue.enqueue(ctx, Job("demo.sleep", {"seconds": 40}), source="gui")
    queue.enqueue(ctx, Job("demo.sleep", {"seconds": 12}, delay=3600), source="gui")
    queue.pause("batch", source="gui")
    for n in range(3):
        queue.enqueue(ctx, Job("shell.run", {"command": f"./render-frame.sh {n + 1}"}, queue="batch"), source="gui")
    queue.set_concurrency("batch", 2, source="gui")
    return ids


def render(out: Path) -> int:
    from acacia_gui.gui.dialogs.new_job_dialog import JSON_TAB, NewJobDialog
    from acacia_gui.gui.main_window import PLUGINS_TAB, MainWindow

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    app.setApplicationName("Acacia")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="acacia-screens-") as tmp:
        root = Path(tmp)
        config = load_config(root / "data", root / "data" / "plugins")
        services = build_services(config, AppOptions(workers=2))
        (config.plugins_dir / "image_tools.py").write_text(BROKEN_PLUGIN, encoding="utf-8")
        services.reload_plugins()
        picks = fill_database(services, root)
        settings = QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(services, on_quit=lambda: None, settings=settings)
        window.resize(1440, 880)
        window.show()
        services.worker.start(Context.background(), services.registry)
        store = services.store
        pump(lambda: store.get_job(picks["failed"]).state == "failed" and store.get_job(picks["hash"]).state == "succeeded")
        picks.update(start_live_jobs(services))
        pump(lambda: (store.get_job(picks["running"]).progress or 0) > 0.12)
        settle(0.6)  # one more stats refresh and progress flush
        window.table.select_job(picks["hash"])
        settle(0.3)
        save(window, out / "main-window.png")

        window.table.select_job(picks["failed"])
        window.details.tabs.setCurrentIndex(1)
        settle(0.2)
        save(window, out / "main-window-failed-job.png")

        dialog = NewJobDialog(services.queue, queue_names=["default", "batch"], job_type="file.hash", parent=window)
        dialog.form.fields["path"].editor.setText(str(root / "holiday-photos.tar"))
        dialog.show()
        settle(0.2)
        save(dialog, out / "new-job-dialog.png")
        dialog.select_type("demo.sleep")
        dialog.payload_tabs.setCurrentIndex(JSON_TAB)
        dialog.json_editor.setPlainText('{\n  "seconds": -5,\n  "fail": false\n}')
        settle(0.2)
        save(dialog, out / "new-job-dialog-json.png")
        dialog.reject()

        window.tabs.setCurrentIndex(PLUGINS_TAB)
        settle(0.2)
        save(window, out / "plugins.png")

        schedule_shots(window, services, out)

        window.tabs.setCurrentIndex(0)
        app.setPalette(dark_palette())
        window.table.select_job(picks["running"])
        settle(0.4)
        save(window, out / "main-window-dark.png")

        window.dispose()
        services.worker.stop(Context.background().with_timeout(2))
        services.bridge.close()
        store.close()
    return 0


def schedule_shots(window, services, out: Path) -> None:
    """The Schedules tab at 800 x 500 (one schedule paused, one whose last job failed) and the Add dialog."""
    from acacia_gui.core.schedules import Schedule
    from acacia_gui.gui.main_window import SCHEDULES_TAB

    queue, store = services.queue, services.store
    for schedule in (
        Schedule("nightly-backup", "shell.run", {"command": "echo backing up; echo done"}, cron="0 3 * * *"),
        Schedule("hourly-sync", "demo.sleep", {"seconds": 0.2}, every=3600.0),
        Schedule("weekly-report", "shell.run", {"command": "./weekly-report.sh"}, cron="30 7 * * 1",
                 timezone="Europe/Paris"),
        Schedule("poll-feeds", "demo.sleep", {"seconds": 0.1, "fail": True}, every=300.0, catch_up="skip"),
    ):  # fmt: skip
        queue.add_schedule(schedule, source="gui")
    queue.pause_schedule("weekly-report", source="gui")
    ran = [queue.run_schedule_now(name, source="gui") for name in ("nightly-backup", "poll-feeds")]
    pump(lambda: all(store.get_job(job_id).state in ("succeeded", "failed") for job_id in ran))
    size = window.size()
    window.resize(800, 500)
    window.tabs.setCurrentIndex(SCHEDULES_TAB)
    view = window.schedules_view
    view.reload()
    pump(lambda: view.model.rowCount() == 4 and all(s.last_state in (None, "succeeded", "failed")
                                                    for s in view.model.schedules()) and
         {s.last_state for s in view.model.schedules()} >= {"succeeded", "failed"})  # fmt: skip
    view.select("poll-feeds")
    settle(0.3)
    save(window, out / "schedules.png")
    dialog = view.actions.open_add()
    dialog.name_edit.setText("nightly-cleanup")
    dialog.type_box.setCurrentText("shell.run")
    dialog.rule.cron_radio.setChecked(True)
    dialog.rule.cron_edit.setText("15 2 * * *")
    dialog.timezone_box.setCurrentText("Europe/Paris")
    dialog.catch_up_box.setCurrentIndex(dialog.catch_up_box.findData("skip"))
    dialog.payload.set_value({"command": "find ~/tmp -mtime +7 -delete", "shell": True})
    settle(0.2)
    save(dialog, out / "schedule-dialog.png")
    dialog.reject()
    window.resize(size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="where the PNGs go")
    args = parser.parse_args(argv)
    return render(args.out.resolve()) or instances_shot(args.out.resolve())


def instances_shot(out: Path) -> int:
    """The Instances tab: this window's instance and a second `acacia serve` on one PostgreSQL database,
    both running demo.sleep jobs. Skipped (saying why) when no PostgreSQL server is found."""
    from acacia_gui.config import redact_url
    from acacia_gui.gui.main_window import INSTANCES_TAB, MainWindow
    from tests.support.postgres_server import ServerUnavailable, session_server, stop_session_server

    try:
        server = session_server()
    except ServerUnavailable as exc:
        print(f"instances.png not made: no PostgreSQL server ({exc})")
        return 0
    app = QApplication.instance() or QApplication([])
    app.setPalette(app.style().standardPalette())  # render() left the dark palette on
    try:
        with server.database() as conn, tempfile.TemporaryDirectory(prefix="acacia-screens-") as tmp:
            url = redact_url(conn)  # a URL for --database (the test server takes no password)
            root = Path(tmp)
            config = load_config(root / "here", root / "here" / "plugins", database=url)
            services = build_services(config, AppOptions(workers=2, database=url))
            other = root / "other"
            other.mkdir(mode=0o700)
            env = dict(os.environ, XDG_RUNTIME_DIR=str(other), PYTHONPATH=str(REPO))
            with open(root / "other.log", "wb") as log:
                serve = subprocess.Popen([sys.executable, "-m", "acacia_gui", "--database", url, "serve", "--data-dir",
                                          str(other), "--workers", "2"], stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=REPO)  # fmt: skip
            try:
                settings = QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat)
                window = MainWindow(services, on_quit=lambda: None, settings=settings)
                window.resize(1000, 420)
                window.show()
                services.worker.start(Context.background(), services.registry)
                window.tabs.setCurrentIndex(INSTANCES_TAB)
                view = window.instances_view
                pump(lambda: view.model.rowCount() == 2, timeout=60)  # the other instance registered
                ctx = Context.background()
                ids = [services.queue.enqueue(ctx, Job("demo.sleep", {"seconds": 60}), source="gui") for _ in range(5)]
                pump(lambda: view.model.running_total() == 4 and all(e["running"] for e in view.model.rows), 30)
                settle(2.2)  # one more refresh: the heartbeats move on
                save(window, out / "instances.png")
                for job_id in ids:
                    services.queue.cancel(job_id, source="gui")
                window.dispose()
            finally:
                serve.terminate()
                serve.wait(30)
                services.worker.stop(Context.background().with_timeout(5))
                services.bridge.close()
                services.store.close()
    finally:
        stop_session_server()
    return 0


if __name__ == "__main__":
    sys.exit(main())
