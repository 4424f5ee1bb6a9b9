"""The composition root: config → store → registry + plugins → queue → worker → server → window.

`acacia` (window) and `acacia serve` (headless) are the same composition; headless
simply has no window and runs on a QCoreApplication.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier

from .config import AppOptions, Config
from .core.context import Context
from .core.errors import AcaciaError, CorruptDatabaseError
from .core.logcapture import is_job_record
from .core.queue import JobQueue
from .core.registry import Registry
from .engine.processes.pool import ProcessPool
from .engine.pruner import Pruner
from .engine.schedules import ScheduleTicker
from .ipc.address import prepare_socket_dir
from .ipc.client import probe
from .ipc.dispatch import Dispatcher
from .plugins.loader import ensure_plugin_dir, examples_dir, load_plugins
from .plugins.schema import validate_payload
from .qt.server import LocalServer
from .qt.services import AppServices
from .qt.worker import PoolWorker
from .store.datadir import LOCK_NAME, AlreadyLocked, AppLock, make_private_dir, tighten_modes
from .store.open import open_config_store
from .store.sqlite_db import QUICK_CHECK_SECONDS, check_database, corruption_message

log = logging.getLogger("acacia")


def has_display() -> bool:
    """False on a Linux/BSD machine with neither X11 nor Wayland (Qt would abort there)."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def configure_logging(config: Config) -> None:
    if any(not isinstance(h, logging.NullHandler) for h in logging.getLogger().handlers):
        return  # the embedding program (or a test) configured logging already
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    echo_jobs = os.environ.get("ACACIA_ECHO_JOB_LOGS", "") not in ("", "0")  # handler logs go to their job's log
    logging.getLogger().handlers[0].addFilter(
        lambda record: not record.name.startswith("acacia_plugins") and (echo_jobs or not is_job_record(record)))


def build_services(config: Config, options: AppOptions, *, headless: bool = True) -> AppServices:
    """Open (or create) everything below the window. Raises AcaciaError with a clear message."""
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if ensure_plugin_dir(config.plugins_dir, examples_dir()):
        log.info("created the plugin folder %s with the example plugins", config.plugins_dir)
    if config.database_url is None:
        refuse_a_damaged_database(config)
    else:
        log.info("database: %s (shared; lease %g s)", config.shown_database, config.lease)
    store = open_config_store(config)  # SQLite, or PostgreSQL for a URL; refuses a schema newer than this Acacia
    report = load_plugins(config.plugins_dir)
    for problem in report.problems:
        log.error("plugin %s not loaded: %s", problem.path, problem.message)
    registry = Registry()
    registry.replace_all(report.handlers)
    queue = JobQueue(store, registry, payload_validator=validate_payload)
    worker = PoolWorker(queue, concurrency=options.workers, instances_dir=config.instances_dir, processes=ProcessPool())
    return AppServices(config, store, registry, queue, worker, report, headless=headless)


def refuse_a_damaged_database(config: Config) -> None:
    """`PRAGMA quick_check` at start (at most QUICK_CHECK_SECONDS; then it says it was partial):
    a damaged file raises CorruptDatabaseError, one line naming the file, the damage and the fix."""
    if not config.database.is_file():
        return
    problems, complete = check_database(config.database, time_limit=QUICK_CHECK_SECONDS)
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise CorruptDatabaseError(corruption_message(config.database, shown[:500]))
    if not complete:
        log.warning("the start-up check of %s stopped after %g s (a big file): it was partial; "
                    "`acacia db check --full` checks all of it", config.database, QUICK_CHECK_SECONDS)  # fmt: skip


class _SignalWatcher(QObject):
    """Turns SIGINT/SIGTERM into a Qt callback at once, even while the event loop sleeps."""

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        super().__init__()
        self._read, write = socket.socketpair()
        self._read.setblocking(False)
        write.setblocking(False)
        self._write = write
        signal.set_wakeup_fd(write.fileno())
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: None)
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._on_signal = on_signal

    def _drain(self) -> None:
        try:
            data = self._read.recv(64)
        except BlockingIOError:
            return
        for signum in data:
            self._on_signal(signum)

    def close(self) -> None:
        """Stop routing signals here: the wakeup fd goes back to none and the sockets close."""
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(-1)
        self._read.close()
        self._write.close()


def with_stored_database(options: AppOptions) -> AppOptions:
    """The Settings dialog's Database, unless --database or $ACACIA_DATABASE names one for this
    run (they win, as --workers does). CLI commands working without an app read only those two."""
    if options.database or os.environ.get("ACACIA_DATABASE"):
        return options
    from .gui.dialogs.settings_database import stored_database
    from .gui.window_state import default_settings

    stored = stored_database(default_settings())
    return dataclasses.replace(options, database=stored) if stored else options


def run(options: AppOptions) -> int:
    """Start the app (window or headless) and block until it quits. Returns the exit code."""
    options = with_stored_database(options)
    config = options.config()
    configure_logging(config)
    try:
        options.retention()  # a bad --keep-finished/$ACACIA_KEEP_FINISHED: one line, exit 2, before anything starts
    except AcaciaError as exc:
        print(f"acacia: {exc}", file=sys.stderr)
        return 2
    headless = options.headless
    if not headless and not has_display():
        print("No display found (DISPLAY/WAYLAND_DISPLAY unset): running headless, as `acacia serve`.", file=sys.stderr)
        headless = True
    try:  # a socket folder another user could squat or swap: refuse before creating anything
        prepare_socket_dir(config.socket_address)
    except AcaciaError as exc:
        print(f"acacia: {exc}", file=sys.stderr)
        return 1
    old_umask = os.umask(0o077)  # what the app and its worker processes create is the user's alone
    lock = AppLock(config.data_dir)
    try:
        make_private_dir(config.data_dir)
        lock.acquire()  # before listening: the lock, not the socket, decides which instance runs
    except AlreadyLocked as exc:
        os.umask(old_umask)
        try:
            return _already_running(config, exc.pid, headless)
        except AcaciaError as error:  # e.g. its socket is not trustworthy: say so in one line
            print(f"acacia: {error}", file=sys.stderr)
            return 1
    except OSError as exc:
        os.umask(old_umask)
        print(f"acacia: cannot lock the data dir {config.data_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        tightened = tighten_modes(config.data_dir)
        if tightened:
            log.warning("made the data folder private (owner only): %s", ", ".join(tightened))
        return _run_locked(options, config, headless)
    finally:
        lock.release()
        os.umask(old_umask)


def _run_locked(options: AppOptions, config: Config, headless: bool) -> int:
    """run() once this process holds the data folder's lock."""
    app = QCoreApplication.instance()
    if app is None:
        if headless:
            app = QCoreApplication(sys.argv[:1])
        else:
            from PySide6.QtWidgets import QApplication

            app = QApplication(sys.argv[:1])
    app.setApplicationName("Acacia")
    app.setOrganizationName("Acacia")
    if not headless:
        app.setDesktopFileName("io.github.acacia.Acacia")  # matches packaging/linux/*.desktop (Wayland)
    try:
        services = build_services(config, options, headless=headless)
    except AcaciaError as exc:
        print(f"acacia: {exc}", file=sys.stderr)
        return 1
    server = LocalServer(Dispatcher(services.queue, services), config.socket_address,
                         max_line_bytes=options.max_line_bytes)  # fmt: skip
    try:
        server.start()
    except AcaciaError as exc:
        print(f"acacia: {exc}", file=sys.stderr)
        services.store.close()
        return 1
    try:
        services.worker.start(Context.background(), services.registry)
    except (AcaciaError, OSError) as exc:  # e.g. recovering dead instances' jobs failed: do not listen half-started
        print(f"acacia: could not start running jobs: {exc}", file=sys.stderr)
        server.close()
        services.store.close()
        return 1
    policy, services.keep_finished_flag = options.retention()
    services.pruner = Pruner(services.queue, policy)
    if policy.active:
        log.info("retention: %s", policy.describe())
    services.pruner.start()  # a first sweep at once, then every few minutes (engine/pruner.py)
    ticker = ScheduleTicker(services.queue)
    ticker.start()  # the slots missed while the app was off fire at once (each schedule's catch_up), then on time
    from .engine.wakeups import start_wakeups

    # PostgreSQL: another instance's enqueue (resume, retry, ...) wakes this one at once (LISTEN/NOTIFY,
    # store/postgres/notify.py); SQLite: nothing (the poll's data_version read). Stopped when the loop ends.
    app.aboutToQuit.connect(start_wakeups(services.store, services.worker.claim_here))
    stopping = {"done": False, "waiting": False}

    def shutdown(*_: object) -> None:
        if stopping["done"]:
            return
        stopping["done"] = stopping["waiting"] = True
        running = len(services.worker.running_job_ids())
        if running:
            log.info("stopping: waiting up to %g s for %d running job(s); press Ctrl-C again to stop now "
                     "(they go back to the queue at the next start)", options.stop_timeout, running)  # fmt: skip
        else:
            log.info("stopping")
        ticker.stop()  # no slot fires once stopping has begun
        if services.pruner is not None:
            services.pruner.stop()  # between two batches
        try:
            services.worker.stop(Context.background().with_timeout(options.stop_timeout))
        finally:  # even if stopping failed, stop listening and leave the event loop
            stopping["waiting"] = False
            server.close()
            app.exit(0)  # not quit(): Qt 6's quit() asks the windows first, and the window ignores a close to ask the user

    def on_signal(signum: int) -> None:
        if stopping["waiting"]:  # a second Ctrl-C/SIGTERM while the stop waits: stop now, as a crash would
            _force_stop(len(services.worker.running_job_ids()), signum)
        shutdown()

    watcher = _SignalWatcher(on_signal)
    app.aboutToQuit.connect(shutdown)
    window = None
    if not headless:
        from .gui.main_window import MainWindow

        window = MainWindow(services, on_quit=shutdown, workers_flag=options.workers)
        window.show()
    log.info("Acacia is running: data %s, %d handler(s), socket %s, %s", config.data_dir, len(services.registry),
             config.socket_address, "headless" if headless else f"window on Qt platform {app.platformName()}")  # fmt: skip
    try:
        code = app.exec()
        shutdown()
    finally:
        watcher.close()
    del watcher, window
    stuck, abandoned = services.worker.stuck_runs, services.worker.busy_abandoned_threads
    services.store.close()
    if stuck or abandoned or _handler_threads_left():
        _exit_now(stuck, abandoned, code)
    return code


def _handler_threads_left() -> bool:
    """A thread-isolated handler may have started a non-daemon thread that never ends;
    Python would wait for it at exit, forever."""
    ours = threading.main_thread()
    return any(t is not ours and not t.daemon and t.is_alive() for t in threading.enumerate())


def _exit_now(stuck: int, abandoned: int, code: int) -> None:
    """Leave at once: a handler that ignores cancellation may never return, and waiting for
    its thread at exit would hang the app. The OS drops the instance lock, and the next
    start's recovery settles the job (requeued with the attempt counted, or failed)."""
    if stuck:
        log.warning("%d handler(s) did not stop; exiting without waiting; their jobs are recovered at the next start",
                    stuck)  # fmt: skip
    if abandoned:
        log.warning("%d abandoned handler(s) still running (their jobs failed already); exiting without waiting",
                    abandoned)  # fmt: skip
    if not stuck and not abandoned:
        log.info("a handler left a thread running; exiting without waiting for it")
    _flush_and_exit(code)


def _force_stop(running: int, signum: int) -> None:
    """A second Ctrl-C/SIGTERM during the stop: leave now, as a crash would. The jobs stay
    `running`, owned by this instance; the OS drops the instance lock, the worker processes
    die with the app (their sentinel), and the next start's recovery requeues the jobs."""
    log.warning("stopping now (%s): %d running job(s) go back to the queue at the next start",
                signal.Signals(signum).name, running)  # fmt: skip
    _flush_and_exit(128 + signum)


def _flush_and_exit(code: int) -> None:
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
            handler.close()
        except Exception:  # noqa: BLE001 - exiting anyway; a broken handler must not block it
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _already_running(config: Config, pid: int | None, headless: bool) -> int:
    """Another process holds the data folder's lock: the window hands over to it once it answers."""
    if not headless:
        deadline = time.monotonic() + 5.0  # it may still be starting: its socket answers within a few seconds
        while True:
            running = probe(config.socket_address, timeout=1.0)
            if running is not None:
                return _hand_over(config, running, headless)
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    print(f"acacia: Acacia is already running for data dir {config.data_dir} (pid {pid if pid is not None else '?'}, "
          f"which holds {config.data_dir / LOCK_NAME}); use the `acacia` commands to talk to it, or stop it first.",
          file=sys.stderr)  # fmt: skip
    return 1


def _hand_over(config: Config, hello: dict, headless: bool) -> int:
    if headless:
        print(f"acacia: Acacia is already running for data dir {config.data_dir} (pid {hello.get('pid', '?')}); "
              "use the `acacia` commands to talk to it, or stop it first.", file=sys.stderr)  # fmt: skip
        return 1
    from .ipc.client import Client

    with Client(config.socket_address) as client:
        client.raise_window()
    print("Acacia is already running; raised its window.", file=sys.stderr)
    return 0


def main() -> int:
    """The `acacia-gui` entry point: the window, with default paths."""
    return run(AppOptions(headless=False))
