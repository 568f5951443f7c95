"""The image canvas: zoom about the cursor, fit / 1:1, pan, and the painting tools.

Scene coordinates are image pixels: pixel ``(row, col)`` covers the unit square whose
top-left corner is scene point ``(col, row)``. The canvas turns mouse events into image
``(row, col)`` (pixel centres are integers) and calls the document's painting methods;
it never writes arrays itself.

The precision tools keep their logic in :mod:`core.tools`: the *pore* tool (click: the
pore under the cursor; Shift+drag: every pore in the box above the current threshold)
asks :class:`core.tools.PoreFinder` and adds the region with one undo step; the brush
with *snap* on (wrinkle class) and the *polyline* tool (click vertices; Enter finishes,
Backspace drops the last one, Esc cancels) paint through
:class:`core.tools.CentrelineSnapper`, one stroke each.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from .layer_stack import LayerStack
from .layers import LayersModel
from .tools import ToolState

MIN_ZOOM = 0.02
MAX_ZOOM = 64.0
WHEEL_STEP = 1.2  # zoom factor per wheel notch (120 units)
BOX_IN_WORKER = 1_000_000  # pore boxes larger than this (px²) are searched on a worker


class ImageCanvas(QGraphicsView):
    """Shows the open document's layers and forwards tool input to the document."""

    cursorMoved = Signal(float, float)  # image row, col; (-1, -1) when outside
    zoomChanged = Signal(float)
    editRefused = Signal()  # a paint press while editing is off (read-only or busy)
    toolMessage = Signal(str)  # what a precision tool did ("added 12 pores", "no pore here")

    def __init__(
        self, layers: LayersModel, tools: ToolState, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.stack = LayerStack(self.scene(), layers)
        self.tools = tools
        self.editable = True
        self._stroking = False
        self._panning: QPointF | None = None
        self._space = False
        self._lasso: list[tuple[float, float]] = []
        self._box: tuple[float, float, float, float] | None = None  # pore box: r0, c0, r1, c1
        self._polyline: list[tuple[float, float]] = []
        self._snapper: Any = None  # CentrelineSnapper of the stroke in progress
        self._pores: Any = None  # PoreFinder of the open document (made on first use)
        self._zoom_anchor: tuple[QPointF, QPointF, tuple[int, int]] | None = None
        #: True while the whole image is fitted: resizing the window fits it again.
        self.fit_mode = True
        #: A view (zoom, centre row, centre col) to apply once the canvas has its size.
        self._pending_view: tuple[float, float, float] | None = None

        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QBrush(QColor("#2b2b2b")))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)

        pen = QPen(QColor(255, 255, 255, 220), 1.5)
        pen.setCosmetic(True)
        self._cursor_item = QGraphicsEllipseItem()
        self._cursor_item.setPen(pen)
        self._cursor_item.setZValue(1000)
        self._cursor_item.setVisible(False)
        self.scene().addItem(self._cursor_item)
        lasso_pen = QPen(QColor(255, 255, 0, 230), 1.5, Qt.PenStyle.DashLine)
        lasso_pen.setCosmetic(True)
        self._lasso_item = QGraphicsPathItem()
        self._lasso_item.setPen(lasso_pen)
        self._lasso_item.setZValue(1001)
        self.scene().addItem(self._lasso_item)
        self._box_item = QGraphicsRectItem()
        self._box_item.setPen(lasso_pen)
        self._box_item.setZValue(1001)
        self._box_item.setVisible(False)
        self.scene().addItem(self._box_item)
        line_pen = QPen(QColor(86, 180, 233, 230), 1.5)
        line_pen.setCosmetic(True)
        self._polyline_item = QGraphicsPathItem()
        self._polyline_item.setPen(line_pen)
        self._polyline_item.setZValue(1001)
        self.scene().addItem(self._polyline_item)
        tools.changed.connect(self._on_tools_changed)

    # -- document ----------------------------------------------------------------

    @property
    def document(self) -> Any:
        return self.stack.document

    def set_document(self, document: Any) -> None:
        """Show ``document`` (None clears), fitted in the view.

        A document replacing the preview of the same size keeps the preview's view,
        so the picture sharpens in place.
        """
        self._abort_interaction()
        self._pores = None
        same_view = (
            document is not None
            and self.stack.preview_item is not None
            and self.stack.preview_item.shape_ == tuple(document.shape[:2])
        )
        self.stack.set_document(document)
        if document is None:
            return
        self._set_scene_for(document.shape[:2])
        if not same_view:
            self.fit()

    def show_preview(self, preview: Any, shape: tuple[int, int]) -> None:
        """Show a small QImage ``preview`` of an image of ``shape`` while it loads.

        The previous image is cleared at once; painting waits for the document.
        """
        self._abort_interaction()
        same = self.stack.preview_item is not None and self.stack.preview_item.shape_ == tuple(
            shape
        )
        self.stack.show_preview(preview, shape)
        self._set_scene_for(shape)
        if not same:
            self.fit()

    @property
    def previewing(self) -> bool:
        """True while only a preview is shown (the image is still loading)."""
        return self.stack.preview_item is not None

    def _set_scene_for(self, shape: tuple[int, int]) -> None:
        rows, cols = shape
        margin = max(rows, cols)
        self.scene().setSceneRect(QRectF(-margin, -margin, cols + 2 * margin, rows + 2 * margin))

    def on_document_change(self, change: Any) -> None:
        self.stack.on_change(change)

    # -- coordinates -------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def view_to_image(self, pos: QPointF | QPoint) -> tuple[float, float]:
        """Viewport position -> image ``(row, col)`` (pixel centres are integers)."""
        scene = self.viewportTransform().inverted()[0].map(QPointF(pos))
        return scene.y() - 0.5, scene.x() - 0.5

    def image_to_view(self, row: float, col: float) -> QPointF:
        """Image ``(row, col)`` -> viewport position (float)."""
        return self.viewportTransform().map(QPointF(col + 0.5, row + 0.5))

    # -- zoom and pan ------------------------------------------------------------

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` keeping the image point under viewport ``anchor`` fixed."""
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        self.fit_mode = False
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        # Repeated zooms at the same spot aim at the same scene point, so scroll-bar
        # rounding (at most half a screen pixel) never accumulates.
        scroll = (self.horizontalScrollBar().value(), self.verticalScrollBar().value())
        last = self._zoom_anchor
        if last is not None and last[0] == anchor and last[2] == scroll:
            target = last[1]
        else:
            target = self.viewportTransform().inverted()[0].map(anchor)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        after = self.viewportTransform().inverted()[0].map(anchor)
        self._scroll_scene_by(target - after)
        scroll = (self.horizontalScrollBar().value(), self.verticalScrollBar().value())
        self._zoom_anchor = (QPointF(anchor), target, scroll)
        self.zoomChanged.emit(self.zoom)

    def _scroll_scene_by(self, delta: QPointF) -> None:
        z = self.zoom
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(delta.x() * z))
        v.setValue(v.value() + round(delta.y() * z))

    def fit(self) -> None:
        """Fit the whole image in the view."""
        doc = self.document
        preview = self.stack.preview_item
        if doc is None and preview is None:
            return
        rows, cols = doc.shape[:2] if doc is not None else preview.shape_  # type: ignore[union-attr]
        vp = self.viewport().rect()
        zoom = 0.98 * min(vp.width() / cols, vp.height() / rows) if cols and rows else 1.0
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.centerOn(QPointF(cols / 2, rows / 2))
        self.fit_mode = True
        self._pending_view = None
        self.zoomChanged.emit(self.zoom)

    def view_state(self) -> tuple[float, float, float] | None:
        """(zoom, centre row, centre col) of the view; None while the image is fitted."""
        if self.document is None or self.fit_mode:
            return None
        if self._pending_view is not None:
            return self._pending_view
        centre = self.view_to_image(QPointF(self.viewport().rect().center()))
        return self.zoom, centre[0], centre[1]

    def set_view_state(self, view: tuple[float, float, float] | None) -> None:
        """Show ``view`` (from :meth:`view_state`; None fits), once the canvas has its size."""
        if view is None:
            self.fit()
            return
        self._pending_view = tuple(float(v) for v in view)  # type: ignore[assignment]
        self.fit_mode = False
        if self.isVisible():
            self._apply_pending_view()

    def _apply_pending_view(self) -> None:
        view, self._pending_view = self._pending_view, None
        if view is None or self.document is None:
            return
        zoom, row, col = view
        self.set_zoom(zoom)
        self.centerOn(QPointF(col + 0.5, row + 0.5))
        self.fit_mode = False

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        self._refit()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._refit()

    def _refit(self) -> None:
        """The first show (and any resize while fitted) fits the image to the real size."""
        if not self.isVisible():
            return
        if self._pending_view is not None:
            self._apply_pending_view()
        elif self.fit_mode:
            self.fit()

    def actual_size(self) -> None:
        """1:1 — one screen pixel per image pixel, about the view centre."""
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * WHEEL_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / WHEEL_STEP)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * WHEEL_STEP**steps, event.position())
        event.accept()

    # -- mouse -------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._panning = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        doc = self.document
        if button != Qt.MouseButton.LeftButton or doc is None or not self.editable:
            if button == Qt.MouseButton.LeftButton and (doc is not None or self.previewing):
                self.editRefused.emit()  # say why nothing is painted
            event.accept()
            return
        row, col = self.view_to_image(event.position())
        tool = self.tools.tool
        if tool == "lasso":
            self._lasso = [(row, col)]
            self._update_lasso_path()
        elif tool == "pore":
            self._box = (row, col, row, col)
            self._update_box()
        elif tool == "polyline":
            self._polyline.append((row, col))
            self._update_polyline_path(row, col)
        else:
            doc.begin_stroke(self.tools.cls, erase=tool == "eraser", radius=self.tools.radius)
            self._stroking = True
            self._snapper = self._make_snapper() if self._snapping() else None
            self._stroke_to(row, col)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._panning is not None:
            delta = pos - self._panning
            self._panning = pos
            self.fit_mode = False
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))
            event.accept()
            return
        row, col = self.view_to_image(pos)
        self._move_cursor(row, col)
        if self._stroking:
            self._stroke_to(row, col)
        elif self._box is not None:
            self._box = (self._box[0], self._box[1], row, col)
            self._update_box()
        elif self._polyline:
            self._update_polyline_path(row, col)
        elif self._lasso:
            last = self._lasso[-1]
            if abs(last[0] - row) + abs(last[1] - col) >= 0.5:
                self._lasso.append((row, col))
                self._update_lasso_path()
        self._emit_cursor(row, col)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._panning = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.CrossCursor
            )
        elif event.button() == Qt.MouseButton.LeftButton:
            if self._stroking:
                self._stroking = False
                self._snapper = None
                self.document.end_stroke()
            elif self._box is not None:
                box, self._box = self._box, None
                self._update_box()
                shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                self._add_pores(box, in_box=shift)
            elif self._lasso:
                points, self._lasso = self._lasso, []
                self._update_lasso_path()
                if len(points) >= 3:
                    self.document.fill_polygon(
                        self.tools.cls,
                        points,
                        erase=bool(event.modifiers() & Qt.KeyboardModifier.AltModifier),
                    )
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        self._cursor_item.setVisible(False)
        self.cursorMoved.emit(-1.0, -1.0)
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and self._lasso:
            self._lasso = []
            self._update_lasso_path()
            event.accept()
            return
        if self._polyline and event.key() in (
            Qt.Key.Key_Return,
            Qt.Key.Key_Enter,
            Qt.Key.Key_Escape,
            Qt.Key.Key_Backspace,
        ):
            if event.key() == Qt.Key.Key_Escape:
                self._polyline = []
            elif event.key() == Qt.Key.Key_Backspace:
                self._polyline.pop()
            else:
                self.finish_polyline()
            self._update_polyline_path()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._panning is None:
                self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- helpers -----------------------------------------------------------------

    def _abort_interaction(self) -> None:
        if self._stroking and self.document is not None:
            self.document.end_stroke()
        self._stroking = False
        self._snapper = None
        self._lasso = []
        self._update_lasso_path()
        self._box = None
        self._update_box()
        self._polyline = []
        self._update_polyline_path()
        self._panning = None

    # -- precision tools (logic in core.tools) -----------------------------------

    def _snapping(self) -> bool:
        return self.tools.snap and self.tools.tool == "brush" and self.tools.cls == "wrinkle"

    def _make_snapper(self) -> Any:
        from core.tools import CentrelineSnapper

        return CentrelineSnapper(self.document.image, fallback_radius=self.tools.radius)

    def _stroke_to(self, row: float, col: float) -> None:
        if self._snapper is None:
            self.document.stroke_to(row, col)
            return
        p = self._snapper.snap(row, col)
        self.document.stroke_to(p.row, p.col, radius=p.radius)

    def finish_polyline(self) -> None:
        """Paint the polyline drawn so far as one snapped stroke of the active class."""
        from core.tools import snap_polyline

        points, self._polyline = self._polyline, []
        self._update_polyline_path()
        doc = self.document
        if not points or doc is None or not self.editable:
            return
        snapped = snap_polyline(self._make_snapper(), points)
        doc.begin_stroke(self.tools.cls, radius=self.tools.radius)
        try:
            for p in snapped:
                doc.stroke_to(p.row, p.col, radius=p.radius)
        finally:
            doc.end_stroke()
        on_ridge = sum(p.snapped for p in snapped)
        self.toolMessage.emit(
            f"polyline: {on_ridge} of {len(snapped)} points snapped to a wrinkle centreline"
        )

    def _pore_finder(self) -> Any:
        from core.tools import PoreFinder

        if self._pores is None or self._pores.shape != self.document.shape:
            self._pores = PoreFinder(self.document.image)
        return self._pores

    def _add_pores(self, box: tuple[float, float, float, float], *, in_box: bool) -> None:
        """Click: the pore under the cursor; Shift+drag: every pore in the box above the
        current threshold. Either way one undo step of the pore class. A box over 1 Mpx
        is searched on a worker thread so the window stays responsive."""
        doc = self.document
        if doc is None:
            return
        finder = self._pore_finder()
        if not in_box:
            blob = finder.at(box[2], box[3])
            self._apply_pores(doc, [] if blob is None else [blob], in_box=False)
            return
        if doc.textures is None:  # a large image's maps are still being computed
            self.editRefused.emit()
            return
        texture = doc.textures["pore"]  # Eq. 2 at the current threshold

        def search() -> list[Any]:
            return list(finder.in_box(*box, texture=texture))

        if abs(box[2] - box[0]) * abs(box[3] - box[1]) <= BOX_IN_WORKER:
            self._apply_pores(doc, search(), in_box=True)
            return
        from .workers import run_function

        self.toolMessage.emit("finding the pores in the box…")
        run_function(
            search,
            on_done=lambda blobs: self._apply_pores(doc, blobs, in_box=True),
            on_error=lambda message: self.toolMessage.emit(f"pore search failed: {message}"),
        )

    def _apply_pores(self, doc: Any, blobs: list[Any], *, in_box: bool) -> None:
        from core.tools import blob_region

        if doc is not self.document or not self.editable:
            return  # another image was opened, or editing stopped, while searching
        hit = blob_region(doc.shape, blobs)
        if hit is None:
            self.toolMessage.emit(
                "no pore above the threshold in the box" if in_box else "no pore under the cursor"
            )
            return
        label = f"{len(blobs)} pores" if in_box else "pore"
        doc.add_region("pore", hit[0], hit[1], label=label)
        self.toolMessage.emit(f"added {label}" if in_box else "added a pore")

    def _update_box(self) -> None:
        if self._box is None:
            self._box_item.setVisible(False)
            return
        r0, c0, r1, c1 = self._box
        self._box_item.setRect(
            QRectF(min(c0, c1) + 0.5, min(r0, r1) + 0.5, abs(c1 - c0), abs(r1 - r0))
        )
        self._box_item.setVisible(True)

    def _update_polyline_path(self, row: float | None = None, col: float | None = None) -> None:
        path = QPainterPath()
        if self._polyline:
            path.moveTo(self._polyline[0][1] + 0.5, self._polyline[0][0] + 0.5)
            for r, c in self._polyline[1:]:
                path.lineTo(c + 0.5, r + 0.5)
            if row is not None and col is not None:
                path.lineTo(col + 0.5, row + 0.5)  # the rubber band to the pointer
        self._polyline_item.setPath(path)

    def _emit_cursor(self, row: float, col: float) -> None:
        doc = self.document
        if doc is not None and 0 <= round(row) < doc.shape[0] and 0 <= round(col) < doc.shape[1]:
            self.cursorMoved.emit(row, col)
        else:
            self.cursorMoved.emit(-1.0, -1.0)

    def _move_cursor(self, row: float, col: float) -> None:
        if self.document is None or self.tools.tool in ("lasso", "polyline"):
            self._cursor_item.setVisible(False)
            return
        r = self.tools.radius
        self._cursor_item.setRect(QRectF(col + 0.5 - r, row + 0.5 - r, 2 * r, 2 * r))
        self._cursor_item.setVisible(True)

    def _on_tools_changed(self) -> None:
        rect = self._cursor_item.rect()
        if self._cursor_item.isVisible():
            c = rect.center()
            self._move_cursor(c.y() - 0.5, c.x() - 0.5)

    def _update_lasso_path(self) -> None:
        path = QPainterPath()
        if self._lasso:
            path.moveTo(self._lasso[0][1] + 0.5, self._lasso[0][0] + 0.5)
            for r, c in self._lasso[1:]:
                path.lineTo(c + 0.5, r + 0.5)
            path.closeSubpath()
        self._lasso_item.setPath(path)
