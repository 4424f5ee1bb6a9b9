"""PipelineView: the Pipeline tab — the selected job's dependency graph, one node per job, live.

The graph comes from `store.get_pipeline` (at most PIPELINE_LIMIT nodes; the view says when
it shows only part of it). Nodes are laid out left to right in layers: a job's layer is the
longest path from a root (a job that waits for nothing), so every arrow points right; within
a layer, nodes follow the mean position of their predecessors (fewer crossings), then their id.
No graph library: a pipeline is a few dozen jobs, and the layout is a topological sort.

Live updates never rebuild the scene for a progress tick or a state change: each node's
colour and words change in place. The scene is rebuilt only when the set of jobs or edges
changes (a new dependent, a deleted job). Clicking a node emits `job_activated(id)`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..formatting import STATE_COLOURS, state_label
from ..live import ChangeBatch

PIPELINE_LIMIT = 500
NODE_W, NODE_H = 168.0, 46.0
LAYER_GAP, ROW_GAP = 64.0, 14.0
MIN_SCALE = 0.35  # a big pipeline is scrolled rather than shrunk to dots
EMPTY_TEXT = "This job is not part of a pipeline: it waits for no other job, and no job waits for it."


def layer_of(nodes: Iterable[int], edges: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Each node's layer: the longest path to it from a root (Kahn's topological order).

    Nodes on a cycle (which the store refuses, but a partial graph could look like one) stay in layer 0.
    """
    ids = list(nodes)
    after: dict[int, list[int]] = defaultdict(list)
    indegree = dict.fromkeys(ids, 0)
    for source, target in edges:
        if source in indegree and target in indegree:
            after[source].append(target)
            indegree[target] += 1
    layer = dict.fromkeys(ids, 0)
    ready = deque(sorted(i for i in ids if indegree[i] == 0))
    while ready:
        node = ready.popleft()
        for target in after[node]:
            layer[target] = max(layer[target], layer[node] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return layer


def arrange(nodes: Iterable[int], edges: list[tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """(layer, row) of each node: layers by longest path, rows by the mean row of their predecessors."""
    layer = layer_of(nodes, edges)
    before: dict[int, list[int]] = defaultdict(list)
    for source, target in edges:
        before[target].append(source)
    by_layer: dict[int, list[int]] = defaultdict(list)
    for node, n in layer.items():
        by_layer[n].append(node)
    row: dict[int, int] = {}
    for n in sorted(by_layer):
        def key(node: int) -> tuple[float, int]:
            rows = [row[p] for p in before[node] if p in row]
            return (sum(rows) / len(rows) if rows else -1.0, node)

        for position, node in enumerate(sorted(by_layer[n], key=key)):
            row[node] = position
    return {node: (layer[node], row[node]) for node in layer}


class NodeItem(QGraphicsPathItem):
    """One job: a rounded box in its state's colour, "Job 12 · type" over "Running · 40 %"."""

    def __init__(self, node: dict[str, Any]) -> None:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, NODE_W, NODE_H), 7, 7)
        super().__init__(path)
        self.job_id: int = node["id"]
        self.type = str(node.get("type") or "")
        self.state = ""
        self.progress: float | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.title = QGraphicsSimpleTextItem(self)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setPos(9, 6)
        self.detail = QGraphicsSimpleTextItem(self)
        self.detail.setPos(9, 25)
        for text in (self.title, self.detail):
            text.setBrush(QBrush(QColor("#ffffff")))
        self.title.setText(self._elided(f"{self.job_id} · {self.type}", bold))
        self.update_job(str(node.get("state") or ""), node.get("progress"), str(node.get("queue") or ""))
        self.set_current(False)

    @staticmethod
    def _elided(text: str, font: QFont) -> str:
        return QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, int(NODE_W - 18))

    def update_job(self, state: str, progress: float | None, queue: str | None = None) -> None:
        """The state's colour and words, in place (no new items)."""
        if state != self.state:
            self.state = state
            self.setBrush(QBrush(QColor(STATE_COLOURS.get(state, "#7f8c9a"))))
        self.progress = progress
        words = state_label(state)
        if state == "running" and progress is not None:
            words = f"{words} · {progress * 100:.0f} %"
        if self.detail.text() != words:
            self.detail.setText(words)
        where = f" · queue {queue}" if queue else ""
        self.setToolTip(f"Job {self.job_id} · {self.type} · {words}{where}\nClick to select it")

    def set_current(self, current: bool) -> None:
        """The job the details pane shows gets a thick dark outline."""
        pen = QPen(QColor("#1d1f23") if current else QColor(0, 0, 0, 60), 3.0 if current else 1.0)
        self.setPen(pen)
        self.setZValue(2 if current else 1)


def edge_path(start: QPointF, end: QPointF) -> QPainterPath:
    """A gentle S-curve from the right of one box to just before the left of the next (the arrowhead's place)."""
    path = QPainterPath(start)
    middle = (start.x() + end.x()) / 2
    path.cubicTo(QPointF(middle, start.y()), QPointF(middle, end.y()), QPointF(end.x() - 7, end.y()))
    return path


def arrow_head(end: QPointF) -> QPolygonF:
    return QPolygonF([end, QPointF(end.x() - 8, end.y() - 4.5), QPointF(end.x() - 8, end.y() + 4.5)])


class GraphView(QGraphicsView):
    """The scene's view: a click on a node emits `node_clicked(id)`."""

    node_clicked = Signal(int)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            item = self.itemAt(event.position().toPoint())
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if isinstance(item, NodeItem):
                self.node_clicked.emit(item.job_id)
        super().mouseReleaseEvent(event)


class PipelineView(QStackedWidget):
    """Draws the pipeline of the job given to `show_job`; `apply_batch` keeps it live."""

    job_activated = Signal(int)

    def __init__(self, store: Any, parent: QWidget | None = None, limit: int = PIPELINE_LIMIT) -> None:
        super().__init__(parent)
        self.setObjectName("pipelineView")
        self._store = store
        self._limit = limit
        self.job_id: int | None = None
        self.nodes: dict[int, NodeItem] = {}
        self.edges: list[tuple[int, int, str]] = []
        self.truncated = False
        self._stale = False
        self.empty = QLabel(EMPTY_TEXT, self)
        self.empty.setObjectName("pipelineEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel(page)
        self.note.setObjectName("pipelineNote")
        self.note.setWordWrap(True)  # one long line would set the window's minimum width
        self.scene = QGraphicsScene(page)
        self.view = GraphView(self.scene, page)
        self.view.setObjectName("pipelineGraph")
        self.view.setAccessibleName("Pipeline graph")
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.node_clicked.connect(self.job_activated)
        layout.addWidget(self.note)
        layout.addWidget(self.view, 1)
        self.addWidget(self.empty)
        self.addWidget(page)
        self.graph_page = page

    # -- public -----------------------------------------------------------------------------
    def show_job(self, job_id: int | None) -> None:
        """Draw `job_id`'s pipeline; when it is already drawn (a click on one of its nodes), only move the outline."""
        previous, self.job_id = self.job_id, job_id
        if job_id is not None and job_id in self.nodes and previous in self.nodes and not self._stale:
            self.nodes[previous].set_current(False)  # type: ignore[index]
            self.nodes[job_id].set_current(True)
            return
        self.reload()

    def reload(self) -> None:
        """Re-read the graph: colours and words change in place if its shape is the same, else it is redrawn."""
        if not self.isVisible() and self.job_id is not None:
            self._stale = True  # drawn when the tab is shown
            return
        self._stale = False
        graph = self._read()
        nodes = {node["id"]: node for node in graph["nodes"]}
        edges = [(edge["from"], edge["to"], str(edge.get("policy") or "success")) for edge in graph["edges"]]
        self.truncated = bool(graph.get("truncated"))
        if set(nodes) == set(self.nodes) and edges == self.edges and self.nodes:
            for job_id, node in nodes.items():
                self.nodes[job_id].update_job(str(node.get("state") or ""), node.get("progress"), node.get("queue"))
                self.nodes[job_id].set_current(job_id == self.job_id)
        else:
            self._draw(list(nodes.values()), edges)
        self._show_note()

    def apply_batch(self, batch: ChangeBatch) -> None:
        if self.job_id is None:
            return
        drawn = set(self.nodes)
        for job_id, (progress, _message) in batch.progress.items():
            item = self.nodes.get(job_id)
            if item is not None:
                item.update_job(item.state, progress)
        # a new job may be a new dependent of one drawn; a state change may release or cancel others
        if batch.enqueued or batch.external or (drawn | {self.job_id}) & (batch.changed | batch.deleted):
            self.reload()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()

    # -- drawing -----------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        if self.job_id is None:
            return {"nodes": [], "edges": [], "truncated": False}
        try:
            return self._store.get_pipeline(self.job_id, limit=self._limit)
        except LookupError:
            return {"nodes": [], "edges": [], "truncated": False}

    def _draw(self, nodes: list[dict[str, Any]], edges: list[tuple[int, int, str]]) -> None:
        self.scene.clear()
        self.nodes = {}
        self.edges = edges
        if not edges:  # a lone job: nothing to draw
            self.setCurrentWidget(self.empty)
            return
        places = arrange([node["id"] for node in nodes], [(a, b) for a, b, _ in edges])
        for node in nodes:
            item = NodeItem(node)
            layer, row = places[node["id"]]
            item.setPos(layer * (NODE_W + LAYER_GAP), row * (NODE_H + ROW_GAP))
            item.set_current(node["id"] == self.job_id)
            self.scene.addItem(item)
            self.nodes[node["id"]] = item
        line = self.palette().color(QPalette.ColorRole.Text)
        line.setAlphaF(0.55)
        for source, target, policy in edges:
            a, b = self.nodes.get(source), self.nodes.get(target)
            if a is None or b is None:
                continue
            start = a.pos() + QPointF(NODE_W, NODE_H / 2)
            end = b.pos() + QPointF(0, NODE_H / 2)
            pen = QPen(line, 1.6, Qt.PenStyle.DashLine if policy == "finished" else Qt.PenStyle.SolidLine)
            arrow = self.scene.addPath(edge_path(start, end), pen, QBrush(Qt.BrushStyle.NoBrush))
            arrow.setToolTip(f"Job {target} runs after job {source}"
                             + (" once it has ended" if policy == "finished" else " if it succeeds"))  # fmt: skip
            head = self.scene.addPolygon(arrow_head(end), QPen(Qt.PenStyle.NoPen), QBrush(line))
            for item in (arrow, head):
                item.setZValue(0)
        self.scene.setSceneRect(self.scene.itemsBoundingRect().adjusted(-16, -16, 16, 16))
        self.setCurrentWidget(self.graph_page)
        self._fit()

    def _fit(self) -> None:
        """Shrink a big graph to fit (down to MIN_SCALE); never enlarge a small one."""
        if not self.nodes:
            return
        rect = self.scene.sceneRect()
        viewport = self.view.viewport().size()
        scale = min(1.0, viewport.width() / max(1.0, rect.width()), viewport.height() / max(1.0, rect.height()))
        scale = max(MIN_SCALE, scale)
        self.view.resetTransform()
        self.view.scale(scale, scale)
        if self.job_id in self.nodes:
            self.view.centerOn(self.nodes[self.job_id])

    def _show_note(self) -> None:
        count = len(self.nodes)
        finished = "dashed: runs once the earlier job has ended, however it ended"
        if self.truncated:
            self.note.setText(f"Showing {count:,} of more jobs: this pipeline is larger than the view draws. "
                              f"Arrows: runs after; {finished}.")  # fmt: skip
        else:
            self.note.setText(f"{count:,} jobs in this pipeline. Arrows: runs after; {finished}.")
