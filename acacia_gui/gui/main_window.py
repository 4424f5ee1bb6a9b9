"""MainWindow: queues on the left; jobs (filters, table, details), plugins, schedules and instances in the centre.

Data flow: every JobEvent arrives through `services.bridge.event_received` on the main
thread, is coalesced by LiveUpdates into one ChangeBatch per turn, and each part takes
what it needs (the table re-reads changed rows in one query; the details pane re-reads
its job; counts are re-read in the background by StatsPoller).

Closing the window while jobs run asks whether to keep running in the tray or to stop, and
every Quit (menu, Ctrl+Q, tray) asks the same (quit_question); stopping calls `on_quit`,
app.py's graceful shutdown.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter, QStatusBar, QTabWidget, QVBoxLayout, QWidget

from ..core.definitions import FINAL_STATES
from ..qt.services import AppServices
from .background import BackgroundReader
from .dialogs.actions_dialog import ActionsDialog
from .dialogs.drop_dialog import DropJobsDialog, path_handlers
from .icons import app_icon, icon
from .instances.view import InstancesView
from .job_actions import JobActions
from .keyboard import annotate_tooltips, help_menu, set_tab_order
from .live import ChangeBatch, LiveUpdates
from .models.job_filter import JobFilter
from .models.job_table_model import JobTableModel
from .plugin_watcher import PluginWatcher
from .quit_question import ask_to_stop
from .schedules.view import SchedulesView
from .settings_controller import SettingsController
from .sidebar import SidebarToggle
from .stats import Stats, StatsPoller
from .tray.tray_icon import TrayIcon
from .why_line import WhyLine
from .widgets.details_pane import DetailsPane
from .widgets.filter_bar import FilterBar
from .widgets.filter_hint import FilterHint, hidden_enqueued_message
from .widgets.job_table_view import JobTableView
from .widgets.plugins_view import PluginsView
from .widgets.queues_panel import QueuesPanel
from .widgets.status_summary import StatusSummary
from .widgets.throughput_chart import ThroughputChart
from .window_menus import build_menus_and_toolbar, make_action
from .window_state import default_settings, restore_window, save_window

JOBS_TAB, PLUGINS_TAB = 0, 1
SCHEDULES_TAB = 2  # after Plugins: a remembered tab index keeps meaning what it meant
INSTANCES_TAB = 3  # the live instances on this database (both backends)
LIVE_INTERVAL_MS = 100  # at most 10 table updates a second; the first change after a quiet spell shows at once
MAX_HELD_ROWS = 2000  # rows kept loaded beyond what the user scrolled to or selected


class MainWindow(QMainWindow):
    """The Acacia window over AppServices. `on_quit()` stops the app gracefully."""

    def __init__(self, services: AppServices, on_quit: Callable[[], None], settings: QSettings | None = None,
                 parent: QWidget | None = None, *, workers_flag: int | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Acacia")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.services = services
        self._on_quit = on_quit
        self.settings = settings if settings is not None else default_settings()
        self.workers_flag = workers_flag  # `--workers N`: wins over the remembered value for this run
        self._disposed = False
        self._quitting = False
        self.reader = BackgroundReader(parent=self)
        self.live = LiveUpdates(services.bridge.event_received, min_interval_ms=LIVE_INTERVAL_MS, parent=self)
        self.stats = StatsPoller(services.store, self.reader, parent=self)
        self.model = JobTableModel(services.store, services.registry, parent=self)
        self._build_central()
        self.job_actions = JobActions(services.queue, services.store, self.table, self,
                                  queue_names=lambda: [q.name for q in self.stats.latest.queues],
                                  finished_count=self._finished_count)  # fmt: skip
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self.tray = TrayIcon(self.windowIcon(), self)
        self.settings_controller = SettingsController(self)  # theme, notifications, retention (Ctrl+,)
        self.watcher = PluginWatcher(services.config.plugins_dir, lambda: self.reload_plugins(automatic=True), parent=self)
        self._connect()
        self.plugins_view.show_report(services.plugin_report)
        self._show_plugin_tab_title(services.plugin_report)
        self.filter_bar.set_handlers(services.registry)
        self._restore_settings()
        self.settings_controller.apply_stored()
        self._on_stats(self.stats.refresh_now())
        self._recount()
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()
        set_tab_order(self)  # filters, table, details, sidebar
        annotate_tooltips(self)  # every menu action's tooltip names its shortcut
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        application = QApplication.instance()
        if application is not None:  # app.py may quit without going through the window (SIGTERM)
            application.aboutToQuit.connect(self.dispose)

    # -- building ----------------------------------------------------------------------------
    def _build_central(self) -> None:
        services = self.services
        self.queues_panel = QueuesPanel(services.queue, services.worker, self)
        self.filter_bar = FilterBar(self)
        self.table = JobTableView(self)
        self.table.set_job_model(self.model)
        self.filter_hint = FilterHint(self.table, self.model)  # an empty table says the filter hides every job
        self.filter_hint.clear_requested.connect(lambda: self.filter_bar.set_filter(JobFilter()))
        self.details = DetailsPane(services.store, services.registry, self, settings=self.settings)
        why = WhyLine(services.store, services.registry, services.worker,
                      plugin_problems=lambda: len(getattr(services.plugin_report, "problems", ()) or ()))  # fmt: skip
        self.model.why = why.line_of  # the State cell's tooltip, asked for on hover only
        self.details.why = why.line  # a line of the details header
        jobs_page = QWidget(self)
        jobs_layout = QVBoxLayout(jobs_page)
        jobs_layout.setContentsMargins(4, 4, 4, 0)
        jobs_layout.addWidget(self.filter_bar)
        self.job_splitter = QSplitter(Qt.Orientation.Vertical, jobs_page)
        self.job_splitter.setObjectName("jobSplitter")
        self.job_splitter.addWidget(self.table)
        self.job_splitter.addWidget(self.details)
        self.job_splitter.setStretchFactor(0, 3)
        self.job_splitter.setStretchFactor(1, 2)
        self.job_splitter.setChildrenCollapsible(False)
        self.job_splitter.setSizes([560, 300])
        jobs_layout.addWidget(self.job_splitter, 1)
        self.plugins_view = PluginsView(services.config.plugins_dir, self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setAccessibleName("Jobs and plugins")
        self.tabs.addTab(jobs_page, icon("details", self.palette()), "Jobs")
        self.tabs.addTab(self.plugins_view, icon("plugin", self.palette()), "Plugins")
        self.schedules_view = SchedulesView(services.queue, services.registry, services.bridge.event_received, self.reader,
                                            lambda: [q.name for q in self.stats.latest.queues], self)  # fmt: skip
        self.tabs.addTab(self.schedules_view, icon("schedule", self.palette()), "Schedules")
        self.instances_view = InstancesView(services.store, services.config.instances_dir, self.reader,
                                            services.config.shown_database, self)  # fmt: skip
        self.tabs.addTab(self.instances_view, icon("info", self.palette()), "Instances")
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(self.queues_panel)
        self.main_splitter.addWidget(self.tabs)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([260, 1000])
        self.setCentralWidget(self.main_splitter)
        self.resize(1280, 800)

    def _build_menus_and_toolbar(self) -> None:
        window_action = partial(make_action, self)
        self.reload_action = window_action("reload", "&Reload plugins", "Ctrl+Shift+R", self.reload_plugins)
        self.open_folder_action = window_action("folder", "&Open plugin folder", "Ctrl+Shift+O", self.plugins_view.open_folder)
        self.refresh_action = window_action("refresh", "Re&fresh jobs", "F5", self.refresh)
        self.quit_action = window_action("quit", "&Quit", "Ctrl+Q", self.request_quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.search_action = window_action("search", "&Search jobs", "Ctrl+F", self._focus_search)
        self.details_action = window_action("details", "&Details pane", "F9", self._toggle_details)
        self.details_action.setCheckable(True)
        self.details_action.setChecked(True)
        focus = [window_action("", text, f"Ctrl+{number}", slot) for number, (text, slot) in enumerate(
            (("&Jobs table", self._focus_table), ("&Queues", self._focus_queues), ("&Plugins", self._focus_plugins),
             ("S&chedules", self._focus_schedules), ("&Instances", self._focus_instances)), start=1)]  # fmt: skip
        self.sidebar = SidebarToggle(self, self.queues_panel)  # View ▸ Sidebar; hides itself in a narrow window
        self.toolbar = build_menus_and_toolbar(self, self.job_actions, focus)
        self.actions_action = window_action("", "&Actions and shortcuts", "Ctrl+/", self.show_actions)
        self.actions_action.setObjectName("actionsAction")
        help_menu(self).addAction(self.actions_action)

    def _build_status_bar(self) -> None:
        bar = QStatusBar(self)
        self.summary = StatusSummary(bar)
        self.chart = ThroughputChart(bar)  # finished and failed per minute, last hour
        bar.addPermanentWidget(self.summary)
        bar.addPermanentWidget(self.chart)
        self.setStatusBar(bar)

    def _connect(self) -> None:
        self.live.batch_ready.connect(self._on_batch)
        self.stats.stats_ready.connect(self._on_stats)
        self.summary.state_clicked.connect(self._filter_by_state)
        self.filter_bar.filter_changed.connect(self._on_filter)
        self.table.selectionModel().selectionChanged.connect(self.job_actions.update_enabled)
        self.table.selectionModel().selectionChanged.connect(self._on_current_row)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.selectionModel().currentRowChanged.connect(self.job_actions.update_enabled)  # Edit: the shown job
        self.model.modelReset.connect(self._after_reset)
        self.model.reloaded.connect(self._select_first_if_none)  # after the view put back what it could
        self.model.rowsRemoved.connect(self._on_current_row)  # the selected rows may have gone (retried out of the filter)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.cancel_delegate.cancel_clicked.connect(lambda job_id: self.job_actions.cancel_ids([job_id]))
        self.details.job_activated.connect(self.select_job)  # a job in the Dependencies or Pipeline tab
        self.job_actions.message.connect(self.show_message)
        self.queues_panel.show_queue.connect(self._show_queue)
        self.queues_panel.error.connect(self.show_message)
        self.plugins_view.reload_requested.connect(self.reload_plugins)
        self.plugins_view.message.connect(self.show_message)
        self.schedules_view.message.connect(self.show_message)
        self.schedules_view.job_activated.connect(self._show_job)  # a schedule's last result, double-clicked
        self.instances_view.job_activated.connect(self._show_job)  # a running job of an instance, clicked
        self.services.plugins_reloaded.connect(self._on_plugins_reloaded)
        self.services.raise_requested.connect(self.show_and_raise)
        self.tray.show_requested.connect(self.show_and_raise)
        self.tray.new_job_requested.connect(lambda: (self.show_and_raise(), self.job_actions.open_new_job_dialog()))
        self.tray.quit_requested.connect(lambda: self.request_quit())
        self.tray.notified.connect(self._on_notified)

    # -- live data ------------------------------------------------------------------------------
    def _on_batch(self, batch: ChangeBatch) -> None:
        self.table.preserving_scroll(lambda: self.model.apply_batch(batch))
        self._trim_rows()
        if batch.enqueued:
            self._hint_hidden_jobs(batch.enqueued)
        self.details.apply_batch(batch)
        self.tray.on_batch(batch)
        self.settings_controller.on_batch(batch)
        self.chart.record(batch.finished, len(batch.failed))
        if batch.queues_changed:
            self.stats.request()
        if batch.enqueued or batch.deleted or batch.changed:
            self._recount()
        self.job_actions.update_enabled()

    def _hint_hidden_jobs(self, enqueued: set[int]) -> None:
        missing = [job_id for job_id in enqueued if not self.model.holds(job_id)]
        message = hidden_enqueued_message(self.services.store, self.model.job_filter, missing) if missing else None
        if message:
            self.show_message(message)

    def _trim_rows(self) -> None:
        """Keep memory flat under a stream of new jobs: drop loaded rows far below what is shown."""
        self.table.trim_model(MAX_HELD_ROWS)

    def _on_stats(self, stats: Stats) -> None:
        self.queues_panel.update_stats(stats)
        self.summary.update_stats(stats)
        self.filter_bar.set_queues(q.name for q in stats.queues)
        self.tray.update_stats(stats)

    def _recount(self) -> None:
        """How many jobs match the filter: counted in the background, at most one query in flight."""
        store, kwargs = self.services.store, self.model.job_filter.store_kwargs()
        self.reader.submit("count", lambda: store.count_jobs(**kwargs), self._show_count)

    def _show_count(self, total: int) -> None:
        self.filter_bar.set_count(self.model.rowCount(), total)

    def _on_tick(self) -> None:
        self.model.tick()
        self.chart.tick()
        self.details.tick()
        problem = getattr(self.services.worker, "problem", None)  # a damaged database: claiming stopped
        if problem and self.statusBar().currentMessage() != f"Problem: {problem}":
            self.statusBar().showMessage(f"Problem: {problem}")  # stays until the app restarts
    def _finished_count(self) -> int:
        counts = self.stats.latest.counts
        return sum(counts.get(s, 0) for s in FINAL_STATES)

    # -- user actions -----------------------------------------------------------------------------
    def _on_filter(self, job_filter: JobFilter) -> None:
        self.model.set_filter(job_filter)
        self._recount()
        states = tuple(job_filter.states)
        self.summary.set_active_state(states[0] if len(states) == 1 else None)

    def _filter_by_state(self, state: str) -> None:
        """A click on a state's count: show only that state; on the one already shown, show all."""
        current = self.filter_bar.current_filter()
        states = () if tuple(current.states) == (state,) else (state,)
        self.filter_bar.set_filter(JobFilter(states=states, queue=current.queue, type=current.type,
                                             search=current.search))  # fmt: skip
        self.tabs.setCurrentIndex(JOBS_TAB)

    def show_actions(self) -> ActionsDialog:
        """Help ▸ Actions and shortcuts: every menu action with its shortcut."""
        dialog = ActionsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.actions_dialog = dialog
        return dialog

    def _after_reset(self) -> None:
        self.table.ensure_selection()
        self.details.show_job(self.table.shown_job_id())
        self.job_actions.update_enabled()

    def _select_first_if_none(self) -> None:
        """A new filter (a status count clicked) or sort left nothing selected: select the first row,
        so the details pane and the actions are on the same job, as after start-up."""
        first = self.model.job_at(0)
        if first is not None and not self.table.selectionModel().hasSelection():
            self.table.select_job(first.id)
        self._on_current_row()
        self.job_actions.update_enabled()

    def _on_current_row(self) -> None:
        """The pane shows the selected job (the one the actions apply to), never an unselected current row."""
        self.table.ensure_selection()
        job_id = self.table.shown_job_id()
        if job_id != self.details.job_id:
            self.details.show_job(job_id)

    def select_job(self, job_id: int) -> bool:
        """Select `job_id` in the table; if the filter hides it, show all jobs first."""
        if self.table.select_job(job_id):
            return True
        if self.services.store.get_job(job_id) is None:
            self.show_message(f"Job {job_id} was deleted.")
            return False
        self.filter_bar.set_filter(JobFilter())
        found = self.table.select_job(job_id)
        self.show_message(f"Showing all jobs: the filter hid job {job_id}." if found else f"Job {job_id} is not shown.")
        return found

    def _context_menu(self, pos) -> None:
        menu = self.job_actions.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _show_queue(self, name: str) -> None:
        current = self.filter_bar.current_filter()
        self.filter_bar.set_filter(JobFilter(states=current.states, queue=name, type=current.type, search=current.search))
        self._focus_table()

    def refresh(self) -> None:
        """Re-read everything (changes made by other processes on the same database)."""
        self.model.reload()
        self.stats.request()
        self._recount()

    def reload_plugins(self, automatic: bool = False) -> None:
        self._automatic_reload = automatic
        self.services.reload_plugins()

    def _on_plugins_reloaded(self, report) -> None:
        automatic = getattr(self, "_automatic_reload", False)
        self.plugins_view.show_report(report, automatic=automatic)
        self._automatic_reload = False
        self._show_plugin_tab_title(report)
        self.model.refresh_titles()
        self.schedules_view.refresh_titles()
        self.filter_bar.set_handlers(self.services.registry)
        if not automatic:  # the watcher rewatches after its own reloads
            self.watcher.rewatch()
        problems = len(report.problems)
        self.show_message(f"Plugins reloaded: {len(report.handlers)} handler(s)"
                          + (f", {problems} problem(s) — see the Plugins tab." if problems else "."))  # fmt: skip

    def _show_plugin_tab_title(self, report) -> None:
        problems = len(report.problems)
        self.tabs.setTabText(PLUGINS_TAB, f"Plugins ({problems} problem{'s' if problems != 1 else ''})" if problems
                             else "Plugins")  # fmt: skip
        self.tabs.setTabIcon(PLUGINS_TAB, icon("warning" if problems else "plugin", self.palette()))

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _on_notified(self, title: str, text: str) -> None:
        if not self.tray.available or not self.isVisible():
            self.show_message(f"{title}: {text}")

    def _focus_search(self) -> None:
        self.tabs.setCurrentIndex(JOBS_TAB)
        self.filter_bar.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_bar.search.selectAll()

    def _focus_table(self) -> None:
        self.tabs.setCurrentIndex(JOBS_TAB)
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if not self.table.currentIndex().isValid() and self.model.rowCount():
            self.table.selectRow(0)

    def _focus_queues(self) -> None:
        self.queues_panel.workers_spin.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_plugins(self) -> None:
        self.tabs.setCurrentIndex(PLUGINS_TAB)
        self.plugins_view.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_schedules(self) -> None:
        self.tabs.setCurrentIndex(SCHEDULES_TAB)
        self.schedules_view.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_instances(self) -> None:
        self.tabs.setCurrentIndex(INSTANCES_TAB)
        self.instances_view.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _show_job(self, job_id: int) -> None:
        self._focus_table()
        self.select_job(job_id)

    def _toggle_details(self) -> None:
        self.details.setVisible(self.details_action.isChecked())

    # -- drag and drop ----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()) and path_handlers(self.services.registry):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.offer_files(paths)

    def offer_files(self, paths: list[str]) -> DropJobsDialog:
        """Offer dropped files to the handlers that take a path: one job per file."""
        dialog = DropJobsDialog(self.services.queue, paths, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.show_message(f"Enqueued {len(dialog.job_ids):,} job(s) from dropped files."))
        dialog.open()
        self.drop_dialog = dialog
        return dialog

    # -- window life ---------------------------------------------------------------------------------
    def show_and_raise(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.StyleChange):
            self._refresh_icons()
        super().changeEvent(event)

    def _refresh_icons(self) -> None:
        if not isinstance(getattr(self, "job_actions", None), JobActions):  # not built yet
            return
        self.job_actions.refresh_icons()
        self.table.refresh_icons()
        for action in self.findChildren(QAction):
            name = action.property("icon_name")
            if name:
                action.setIcon(icon(name, self.palette()))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quitting or self._disposed:
            event.accept()
            return
        event.ignore()
        if self.settings_controller.preferences.close_to_tray and self.tray.available:
            self._close_answer("tray")
            return
        self.request_quit(offer_tray=self.tray.available)

    def request_quit(self, offer_tray: bool = False) -> None:
        """Every way to quit (closing, File ▸ Quit, Ctrl+Q, the tray): while jobs run, ask first (unless told not to)."""
        if self._quitting or self._disposed:
            return
        running = len(self.services.worker.running_job_ids())
        if not running or not self.settings_controller.preferences.confirm_quit:
            self.quit()
            return
        if not self.isVisible():  # the tray's Quit while the window is hidden: the question needs its window
            self.show_and_raise()
        ask_to_stop(self, running, offer_tray=offer_tray, on_answer=self._close_answer)

    def _close_answer(self, key: str | None, dont_ask_again: bool = False) -> None:
        if dont_ask_again and key in ("tray", "stop"):  # remembered: the same answer from now on
            self.settings_controller.remember_close_answer(key)
        if key == "tray":
            self.save_settings()
            self.hide()
            self.tray.notify("Acacia is still running", "Jobs keep running; click the tray icon to open the window.")
        elif key == "stop":
            self.quit()

    def quit(self) -> None:
        """Save, stop watching, then let app.py stop the worker gracefully and quit."""
        if self._quitting:
            return
        self._quitting = True
        running = len(self.services.worker.running_job_ids())
        if running:
            self.show_message(f"Stopping: waiting for {running} running job(s)…")
        self.dispose()
        self._on_quit()

    # -- settings ----------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        restore_window(self, self.settings)
        self._toggle_details()

    def save_settings(self) -> None:
        save_window(self, self.settings)

    def dispose(self) -> None:
        """Stop timers, the watcher and the background reader; save settings. Idempotent."""
        if self._disposed:
            return
        self.save_settings()
        self._disposed = True
        self._tick.stop()
        self.schedules_view.stop()
        self.instances_view.stop()
        self.stats.stop()
        self.watcher.stop()
        self.live.close()
        self.reader.stop()
        self.tray.hide()
        self.settings_controller.stop()
