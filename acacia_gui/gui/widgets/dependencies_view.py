"""DependenciesView: the Dependencies tab — the jobs a job runs after, and the jobs that run after it.

Two groups ("Runs after", "Runs before") of direct neighbours from `store.get_dependencies`
(one indexed read), each row with id, type, state, progress and policy. Activating a row
(double-click, Enter) emits `job_activated(id)`: the window selects that job in the table.
`apply_batch` re-reads only when the batch touches a shown job, and updates rows in place
while the set of neighbours is unchanged, so a progress tick keeps the selection and scroll.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QTreeWidget, QTreeWidgetItem, QWidget

from ..formatting import state_label
from ..icons import state_icon
from ..live import ChangeBatch

ID, TYPE, STATE, PROGRESS, POLICY = range(5)
EMPTY_TEXT = "This job has no dependencies: it waits for no other job, and no job waits for it."
POLICY_TIPS = {"success": "success: the later job runs only if the earlier one succeeds (else it is cancelled)",
               "finished": "finished: the later job runs once the earlier one has ended, however it ended"}
GROUPS = (("upstream", "Runs after"), ("downstream", "Runs before"))


def progress_text(dep: dict[str, Any]) -> str:
    progress = dep.get("progress")
    if dep.get("state") == "succeeded":
        return "100 %"
    return f"{progress * 100:.0f} %" if progress is not None else ""


class DependenciesView(QStackedWidget):
    """Shows the neighbours of the job given to `show_job`."""

    job_activated = Signal(int)

    def __init__(self, store: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dependenciesView")
        self._store = store
        self.job_id: int | None = None
        self.deps: dict[str, list[dict[str, Any]]] = {"upstream": [], "downstream": []}
        self.empty = QLabel(EMPTY_TEXT, self)
        self.empty.setObjectName("dependenciesEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("dependenciesTree")
        self.tree.setAccessibleName("Dependencies")
        self.tree.setHeaderLabels(["Job", "Type", "State", "Progress", "Policy"])
        self.tree.setUniformRowHeights(True)
        self.tree.setColumnWidth(ID, 150)
        self.tree.setColumnWidth(TYPE, 170)
        self.tree.setColumnWidth(STATE, 120)
        self.tree.setColumnWidth(PROGRESS, 80)
        self.tree.setToolTip("Double-click a job (or press Enter) to select it in the table")
        self.tree.itemActivated.connect(self._on_activated)
        self.addWidget(self.empty)
        self.addWidget(self.tree)
        self._groups: dict[str, QTreeWidgetItem] = {}
        self._items: dict[tuple[str, int], QTreeWidgetItem] = {}

    @property
    def count(self) -> int:
        return len(self.deps["upstream"]) + len(self.deps["downstream"])

    def shown_ids(self) -> set[int]:
        return {dep["id"] for deps in self.deps.values() for dep in deps}

    def show_job(self, job_id: int | None) -> None:
        """Read `job_id`'s neighbours (None: nothing selected) and show them."""
        self.job_id = job_id
        self.deps = self._read()
        self._rebuild()

    def apply_batch(self, batch: ChangeBatch) -> bool:
        """Re-read if the batch touches the job or a neighbour (new jobs may be new dependents); True if it did."""
        if self.job_id is None:
            return False
        watched = self.shown_ids() | {self.job_id}
        if not (batch.enqueued or batch.external or watched & (batch.changed | batch.deleted | set(batch.progress))):
            return False
        deps = self._read()
        same = all([d["id"] for d in deps[key]] == [d["id"] for d in self.deps[key]] for key, _ in GROUPS)
        self.deps = deps
        if same:
            for key, _title in GROUPS:
                for dep in deps[key]:
                    self._fill(self._items[(key, dep["id"])], dep)
        else:
            self._rebuild()
        return True

    # -- drawing --------------------------------------------------------------------------
    def _read(self) -> dict[str, list[dict[str, Any]]]:
        if self.job_id is None:
            return {"upstream": [], "downstream": []}
        try:
            return self._store.get_dependencies(self.job_id)
        except LookupError:  # deleted meanwhile
            return {"upstream": [], "downstream": []}

    def _rebuild(self) -> None:
        self.tree.clear()
        self._groups.clear()
        self._items.clear()
        for key, title in GROUPS:
            deps = self.deps[key]
            group = QTreeWidgetItem([f"{title} ({len(deps)})"])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = group.font(ID)
            font.setBold(True)
            group.setFont(ID, font)
            group.setToolTip(ID, "The jobs this one waits for" if key == "upstream" else "The jobs that wait for this one")
            self.tree.addTopLevelItem(group)
            group.setFirstColumnSpanned(True)  # once it is in the tree
            for dep in deps:
                item = QTreeWidgetItem(group)
                item.setData(ID, Qt.ItemDataRole.UserRole, dep["id"])
                self._fill(item, dep)
                self._items[(key, dep["id"])] = item
            group.setExpanded(True)
            self._groups[key] = group
        self.setCurrentWidget(self.tree if self.count else self.empty)

    @staticmethod
    def _fill(item: QTreeWidgetItem, dep: dict[str, Any]) -> None:
        state = str(dep.get("state") or "")
        texts = (f"Job {dep['id']}", str(dep.get("type") or ""), state_label(state), progress_text(dep),
                 str(dep.get("policy") or ""))  # fmt: skip
        for column, text in enumerate(texts):
            if item.text(column) != text:
                item.setText(column, text)
        if item.data(STATE, Qt.ItemDataRole.UserRole) != state:
            item.setData(STATE, Qt.ItemDataRole.UserRole, state)
            item.setIcon(STATE, state_icon(state))
        item.setToolTip(POLICY, POLICY_TIPS.get(str(dep.get("policy")), ""))

    def _on_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        job_id = item.data(ID, Qt.ItemDataRole.UserRole)
        if isinstance(job_id, int):
            self.job_activated.emit(job_id)
