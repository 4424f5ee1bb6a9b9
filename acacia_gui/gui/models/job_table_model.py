"""JobTableModel: the job table, read from the database in pages and kept live row by row.

The model holds the first N rows of `list_jobs(filter, ORDER BY …)` — a prefix that
grows through canFetchMore/fetchMore as the view scrolls — as slim JobRows. Live
changes arrive as ChangeBatches: changed ids are re-read in one query per batch and
each row is updated in place (dataChanged), moved (beginMoveRows), inserted or
removed — one signal per contiguous run of rows, however many rows a batch touches
(a `delete --finished` of thousands of jobs included). New jobs beyond NEW_PER_TURN in one
batch (a 10,000-job `submit`) are read and inserted NEW_PER_TURN at a time, newest first,
one event-loop turn each, so the window stays responsive while they arrive. There is no modelReset on a live
change, so the view keeps its selection, current row and scroll position. A reset
happens only when the filter or the sort order changes, or on an explicit refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from ...core.definitions import WAITING_STATES
from ...core.registry import Registry
from ...store.sqlite import SqliteJobStore
from ..icons import state_icon
from ..live import ChangeBatch
from ..stalls import stall_tooltip, stalled_state_text
from .columns import JobColumn, JobRole
from .job_cells import cell_text, cell_tooltip, custom_role, row_eta
from .job_filter import JobFilter
from .job_row import JobRow, RowOrder

DEFAULT_PAGE_SIZE = 200
READ_CHUNK = 500  # ids per `id IN (…)` query
NEW_PER_TURN = 500  # new jobs read and inserted per event-loop turn; the rest wait for the next turn
EXTERNAL_NEWEST = 200  # new jobs another process may have added, checked on its commits
Index = QModelIndex | QPersistentModelIndex
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
COLUMNS = tuple(JobColumn)
RIGHT_ALIGNED = frozenset({JobColumn.ID, JobColumn.ATTEMPTS, JobColumn.DURATION})
DISPLAY, ACCESSIBLE = int(Qt.ItemDataRole.DisplayRole.value), int(Qt.ItemDataRole.AccessibleTextRole.value)
DECORATION, ALIGNMENT = int(Qt.ItemDataRole.DecorationRole.value), int(Qt.ItemDataRole.TextAlignmentRole.value)
TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
HANDLED_ROLES = frozenset({DISPLAY, ACCESSIBLE, DECORATION, ALIGNMENT, TOOLTIP, *(int(r) for r in JobRole)})


class JobTableModel(QAbstractTableModel):
    """A read-only table of jobs; `apply_batch` keeps it live. Main thread only."""

    sort_changed = Signal(int, object)  # column, Qt.SortOrder — what the model really sorts by
    reloaded = Signal()

    def __init__(self, store: SqliteJobStore, registry: Registry, *, page_size: int = DEFAULT_PAGE_SIZE,
                 parent: Any = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._store = store
        self._registry = registry
        self._page_size = page_size
        self._filter = JobFilter()
        self._sort_column = JobColumn.ID
        self._order = RowOrder("id", descending=True)
        self._rows: list[JobRow] = []
        self._by_id: dict[int, JobRow] = {}
        self._exhausted = False
        self._titles: dict[str, str] = {}
        self._icons: dict[str, Any] = {}
        self._updating = False
        self._pending: set[int] = set()  # new jobs not read yet (a big batch), taken NEW_PER_TURN a turn
        self._pending_timer = QTimer(self)
        self._pending_timer.setSingleShot(True)
        self._pending_timer.timeout.connect(self._take_pending)
        self.why: Callable[[int], str] | None = None  # job id -> why it is not running (the window's WhyLine)
        self.stalled: set[int] = set()  # running jobs flagged stalled (STALL events keep it current)
        self.refresh_titles()
        self.reload()

    # -- what is shown ----------------------------------------------------------------
    @property
    def job_filter(self) -> JobFilter:
        return self._filter

    def set_filter(self, job_filter: JobFilter) -> None:
        if job_filter != self._filter:
            self._filter = job_filter
            self.reload()

    @property
    def sort_column(self) -> JobColumn:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self._order.descending else Qt.SortOrder.AscendingOrder

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Re-query in the new order; columns the store cannot sort by keep the current order."""
        try:
            field = JobColumn(column).sort_field
        except ValueError:
            field = None
        descending = order == Qt.SortOrder.DescendingOrder
        if field is not None and (column != self._sort_column or descending != self._order.descending):
            self._sort_column = JobColumn(column)
            self._order = RowOrder(field, descending)
            self.reload()
        self.sort_changed.emit(int(self._sort_column), self.sort_order)

    def reload(self) -> None:
        """Forget every row and read the first page again (filter/sort change, or Refresh)."""
        self.beginResetModel()
        self._rows = []
        self._by_id = {}
        self._pending.clear()
        self._exhausted = False
        self.stalled = set(self._store.stalled_job_ids())
        self._fetch_page()
        with self._busy():
            self.endResetModel()
        self.reloaded.emit()

    @contextmanager
    def _busy(self) -> Iterator[None]:
        """While rows change, slots of our own signals (views, the model tester) must not fetch re-entrantly."""
        outer = self._updating
        self._updating = True
        try:
            yield
        finally:
            self._updating = outer

    def refresh_titles(self) -> None:
        """Handler titles for the type column (after a plugin reload)."""
        self._titles = {h.job_type: h.title or h.job_type for h in self._registry}
        if self._rows:
            self._column_changed(JobColumn.TYPE)

    # -- paging -------------------------------------------------------------------------
    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008 - Qt's signature
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not parent.isValid() and not self._updating:
            self._fetch_next_page()

    def _fetch_next_page(self) -> None:
        if self._exhausted:
            return
        first = len(self._rows)
        page = self._read_page()
        if not page:
            return
        with self._busy():
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            self._append(page)
            self.endInsertRows()

    def _fetch_page(self) -> None:
        self._append(self._read_page())

    def _read_page(self) -> list[JobRow]:
        jobs = self._store.list_jobs(**self._filter.store_kwargs(), order_by=self._order.field,
                                     descending=self._order.descending, limit=self._page_size,
                                     offset=len(self._rows), preview=True)  # fmt: skip
        if len(jobs) < self._page_size:
            self._exhausted = True
        # Rows inserted live may already be here; the prefix stays unique.
        return [JobRow(job) for job in jobs if job.id not in self._by_id]

    def _append(self, rows: list[JobRow]) -> None:
        self._rows.extend(rows)
        for row in rows:
            self._by_id[row.id] = row

    # -- Qt model API ---------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(JobColumn)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(JobColumn):
            return None
        column = JobColumn(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return "Cancel button" if column is JobColumn.CANCEL else column.title
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called ~8 times per visible cell per repaint: unhandled roles (font, colours,
        # check state, size hint…) leave at once.
        if role not in HANDLED_ROLES:
            return None
        position = index.row()
        if not 0 <= position < len(self._rows) or not index.isValid():
            return None
        row = self._rows[position]
        column = COLUMNS[index.column()]
        if role == DISPLAY or role == ACCESSIBLE:
            return self._display(row, column, accessible=role == ACCESSIBLE)
        if role == DECORATION:
            if column is not JobColumn.STATE:
                return None
            return self.state_icon("stalled" if self.is_stalled(row) else row.state)
        if role == ALIGNMENT:
            return RIGHT if column in RIGHT_ALIGNED else LEFT
        if role == TOOLTIP:
            return self._tooltip(row, column)
        return self._custom(row, role)

    def cell_text(self, row: JobRow, column: JobColumn) -> str:
        """What a cell shows."""
        return self._display(row, column, accessible=False)

    def _display(self, row: JobRow, column: JobColumn, accessible: bool) -> str:
        text = cell_text(row, column, self._titles, accessible=accessible)
        return stalled_state_text(text, accessible) if column is JobColumn.STATE and self.is_stalled(row) else text

    def is_stalled(self, row: JobRow) -> bool:
        """Whether the row's job is running and flagged stalled (the State cell's marker)."""
        return row.running and row.id in self.stalled

    def _tooltip(self, row: JobRow, column: JobColumn) -> str | None:
        if column is JobColumn.STATE and self.is_stalled(row):
            return stall_tooltip(row.id, self._store.get_stall(row.id))  # one indexed read, when a tooltip shows
        if column is JobColumn.STATE and self.why is not None and row.state in WAITING_STATES:
            return self.why(row.id) or None  # asked for only when a tooltip is shown: a few reads, one row
        return cell_tooltip(row, column, self._registry.get_handler(row.type))

    def eta(self, row: JobRow) -> str:
        return row_eta(row)

    def _custom(self, row: JobRow, role: int) -> Any:
        return custom_role(row, role)

    def state_icon(self, state: str) -> Any:
        icon = self._icons.get(state)
        if icon is None:
            icon = self._icons[state] = state_icon(state)
        return icon

    def trim(self, keep: int) -> int:
        """Forget loaded rows past `keep` (they come back through fetchMore); returns how many.

        New jobs keep arriving at the top of a live table; without this, a window left
        open for a day would hold every job ever run. The window trims below the viewport.
        """
        if keep >= len(self._rows) or self._updating:
            return 0
        with self._busy():
            removed = len(self._rows) - keep
            self.beginRemoveRows(QModelIndex(), keep, len(self._rows) - 1)
            for row in self._rows[keep:]:
                del self._by_id[row.id]
            del self._rows[keep:]
            self._exhausted = False
            self.endRemoveRows()
        return removed

    # -- lookups for the window -------------------------------------------------------
    def row_of(self, job_id: int) -> int:
        """The row showing `job_id`, or -1."""
        row = self._by_id.get(job_id)
        return -1 if row is None else self._position_of(row)

    @property
    def page_size(self) -> int:
        return self._page_size

    def job_at(self, row: int) -> JobRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rows_for(self, indexes: Iterable[Index]) -> list[JobRow]:
        """Distinct JobRows behind a selection, in table order."""
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return [self._rows[r] for r in rows if r < len(self._rows)]

    @property
    def has_running_rows(self) -> bool:
        return any(row.running for row in self._by_id.values())

    def tick(self) -> None:
        """Once a second: durations and ETAs of running jobs move on (repaints visible cells only)."""
        if self._rows and self.has_running_rows:
            self._column_changed(JobColumn.PROGRESS, JobColumn.DURATION)

    def _column_changed(self, first: JobColumn, last: JobColumn | None = None) -> None:
        last = first if last is None else last
        self.dataChanged.emit(self.index(0, first), self.index(len(self._rows) - 1, last))

    def _position_of(self, row: JobRow) -> int:
        position = self._order.position(self._rows, self._order.key(row))
        if position < len(self._rows) and self._rows[position] is row:
            return position
        return self._rows.index(row)  # only if the order invariant was broken somehow

    # -- live updates ---------------------------------------------------------------------
    def apply_batch(self, batch: ChangeBatch) -> None:
        """Bring the held rows up to date with one coalesced batch of changes."""
        with self._busy():
            self._apply(batch)

    def _apply(self, batch: ChangeBatch) -> None:
        if batch.deleted:
            self._pending -= batch.deleted
            self._remove_ids(batch.deleted)
        ids = batch.rows_changed
        if batch.external:
            ids = ids | self._ids_to_recheck()
        new = [job_id for job_id in ids if job_id not in self._by_id]
        if len(new) + len(self._pending) > NEW_PER_TURN:
            # A big batch of new jobs: read only a turn's worth now, the rest on the next turns.
            self._pending.update(new)
            ids = (set(ids) - self._pending) | self._next_pending()
        for job_id, flagged in batch.stalls.items():  # before the rows' re-read, which repaints them
            (self.stalled.add if flagged else self.stalled.discard)(job_id)
        if batch.external:
            self.stalled = set(self._store.stalled_job_ids())
        if ids:
            self._refresh_rows(ids)
            self.stalled -= {job_id for job_id in ids if (row := self._by_id.get(job_id)) is not None and not row.running}
        if batch.progress:
            self._apply_progress(batch.progress)

    def holds(self, job_id: int) -> bool:
        """Whether the job has a row, or is new and about to get one (it waits its turn)."""
        return job_id in self._by_id or job_id in self._pending

    @property
    def pending_count(self) -> int:
        """New jobs not read yet (a big batch taken a turn's worth at a time)."""
        return len(self._pending)

    def _next_pending(self) -> set[int]:
        """The newest NEW_PER_TURN waiting jobs (the top of the default order); schedules the rest."""
        ids = set(sorted(self._pending, reverse=True)[:NEW_PER_TURN])
        self._pending -= ids
        if self._pending:
            self._pending_timer.start(0)
        return ids

    def _take_pending(self) -> None:
        if self._pending:
            self.refresh_rows(self._next_pending())

    def _ids_to_recheck(self) -> set[int]:
        """After another process wrote: every held row, plus the newest jobs (it may have enqueued)."""
        newest = self._store.list_jobs(**self._filter.store_kwargs(), order_by="id", descending=True, limit=EXTERNAL_NEWEST,
                                       preview=True)  # fmt: skip
        return set(self._by_id) | {job.id for job in newest}

    def refresh_rows(self, ids: Iterable[int]) -> None:
        """Re-read these jobs (one query per 500 ids) and update, move, insert or drop their rows."""
        with self._busy():
            self._refresh_rows(ids)

    def _refresh_rows(self, ids: Iterable[int]) -> None:
        wanted = sorted(set(ids))
        found: dict[int, Any] = {}
        kwargs = self._filter.store_kwargs()
        for start in range(0, len(wanted), READ_CHUNK):
            chunk = wanted[start:start + READ_CHUNK]
            for job in self._store.list_jobs(**kwargs, ids=chunk, preview=True):
                found[job.id] = job
        gone = [job_id for job_id in wanted if job_id in self._by_id and job_id not in found]
        if gone:
            self._remove_ids(gone)
        new_rows: list[JobRow] = []
        for job_id, job in found.items():
            row = self._by_id.get(job_id)
            if row is None:
                new_rows.append(JobRow(job))
            else:
                self._update_row(row, job)
        if new_rows:
            self._insert_rows(new_rows)

    def _apply_progress(self, progress: dict[int, tuple[float | None, str]]) -> None:
        by_progress = self._order.field == "progress"
        first = last = -1
        for job_id, (fraction, message) in progress.items():
            row = self._by_id.get(job_id)
            if row is None or not row.running:
                continue
            position = self._position_of(row)
            row.progress, row.message = fraction, message
            if by_progress:
                self._reposition(position, row)
                continue
            first = position if first < 0 else min(first, position)
            last = max(last, position)
        if first >= 0:
            self.dataChanged.emit(self.index(first, JobColumn.PROGRESS), self.index(last, JobColumn.PROGRESS),
                                  [Qt.ItemDataRole.DisplayRole, JobRole.PROGRESS, JobRole.MESSAGE, JobRole.ETA])  # fmt: skip

    def _update_row(self, row: JobRow, job: Any) -> None:
        position = self._position_of(row)
        old_key = self._order.key(row)
        row.update(job)
        if self._order.key(row) != old_key:
            self._reposition(position, row)
        else:
            self.dataChanged.emit(self.index(position, 0), self.index(position, len(JobColumn) - 1))

    def _reposition(self, position: int, row: JobRow) -> None:
        """The row's sort key changed: move it (keeps selection), or drop it if it moved past the loaded prefix."""
        rest = self._rows[:position] + self._rows[position + 1:]
        target = self._order.position(rest, self._order.key(row))
        if target >= len(rest) and not self._exhausted:
            self._remove_positions([position])
            return
        if target == position:
            self.dataChanged.emit(self.index(position, 0), self.index(position, len(JobColumn) - 1))
            return
        destination = target if target < position else target + 1
        self.beginMoveRows(QModelIndex(), position, position, QModelIndex(), destination)
        del self._rows[position]
        self._rows.insert(target, row)
        self.endMoveRows()
        self.dataChanged.emit(self.index(target, 0), self.index(target, len(JobColumn) - 1))

    def _insert_rows(self, rows: list[JobRow]) -> None:
        """Insert new rows where the order puts them; contiguous runs go in with one signal."""
        rows.sort(key=self._order.key, reverse=self._order.descending)
        i = 0
        while i < len(rows):
            position = self._order.position(self._rows, self._order.key(rows[i]))
            if position >= len(self._rows) and not self._exhausted:
                return  # past the loaded prefix: fetchMore will bring them
            limit = self._order.key(self._rows[position]) if position < len(self._rows) else None
            j = i + 1
            while j < len(rows) and (limit is None or self._order.before(self._order.key(rows[j]), limit)):
                j += 1
            run = rows[i:j]
            self.beginInsertRows(QModelIndex(), position, position + len(run) - 1)
            self._rows[position:position] = run
            for row in run:
                self._by_id[row.id] = row
            self.endInsertRows()
            i = j

    def _remove_ids(self, ids: Iterable[int]) -> None:
        rows = [self._by_id[job_id] for job_id in ids if job_id in self._by_id]
        if rows:
            self._remove_positions(sorted(self._position_of(row) for row in rows))

    def _remove_positions(self, positions: list[int]) -> None:
        """Remove rows at sorted positions, one signal per contiguous run, from the bottom up."""
        runs: list[list[int]] = []
        for position in positions:
            if runs and position == runs[-1][1] + 1:
                runs[-1][1] = position
            else:
                runs.append([position, position])
        for first, last in reversed(runs):
            self.beginRemoveRows(QModelIndex(), first, last)
            for row in self._rows[first:last + 1]:
                self._by_id.pop(row.id, None)
            del self._rows[first:last + 1]
            self.endRemoveRows()
