"""Image list dock: thumbnails, names, status and damage badges, filter by status, search."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import SkinTraceError

from .project_model import (
    DAMAGE_ROLE,
    ID_ROLE,
    STATUS_LABELS,
    STATUS_ROLE,
    UNFINISHED,
    ProjectModel,
    StatusFilterProxy,
    status_value,
)
from .workers import run_function

__all__ = [
    "DAMAGE_ROLE",
    "ID_ROLE",
    "STATUS_LABELS",
    "STATUS_ROLE",
    "UNFINISHED",
    "ImageList",
    "StatusFilterProxy",
    "make_thumbnail",
    "status_value",
]

THUMB = 56
DAMAGE_COLOR = "#C0392B"

#: Badge colours per status (Okabe-Ito based, readable with white text).
STATUS_COLORS = {
    "new": "#7f7f7f",
    "prelabeled": "#CC79A7",
    "in_progress": "#E69F00",
    "submitted": "#0072B2",
    "accepted": "#009E73",
    "rejected": "#D55E00",
}


def make_thumbnail(path: Any, size: int = THUMB) -> QImage:
    """Load an image file and shrink it to a ``size``-pixel QImage (worker thread safe)."""
    import cv2

    from core.imageio import load_image

    pixels = load_image(path).pixels
    rows, cols = pixels.shape[:2]
    scale = size / max(rows, cols)
    small = cv2.resize(
        pixels,
        (max(1, round(cols * scale)), max(1, round(rows * scale))),
        interpolation=cv2.INTER_AREA,
    )
    small = np.ascontiguousarray(small)
    h, w = small.shape[:2]
    return QImage(small.data, w, h, w * 3, QImage.Format.Format_RGB888).copy()


class ImageItemDelegate(QStyledItemDelegate):
    """Thumbnail, name and a coloured status badge."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:  # noqa: N802
        return QSize(200, THUMB + 8)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        painter.save()
        r = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(r, option.palette.highlight())
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        thumb_rect = QRect(r.left() + 4, r.top() + 4, THUMB, THUMB)
        if pix is not None:
            x = thumb_rect.left() + (THUMB - pix.width()) // 2
            y = thumb_rect.top() + (THUMB - pix.height()) // 2
            painter.drawPixmap(x, y, pix)
        else:
            painter.fillRect(thumb_rect, QColor("#444"))
        text_left = thumb_rect.right() + 8
        fg = (
            option.palette.highlightedText()
            if option.state & QStyle.StateFlag.State_Selected
            else option.palette.text()
        )
        painter.setPen(fg.color())
        name_rect = QRect(text_left, r.top() + 6, r.right() - text_left - 4, 20)
        name = painter.fontMetrics().elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole)),
            Qt.TextElideMode.ElideMiddle,
            name_rect.width(),
        )
        painter.drawText(
            name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name
        )
        status = index.data(STATUS_ROLE)
        label = STATUS_LABELS.get(status, status)
        fm = painter.fontMetrics()
        badge = QRect(text_left, r.top() + 30, fm.horizontalAdvance(label) + 14, 18)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(STATUS_COLORS.get(status, "#7f7f7f")))
        painter.drawRoundedRect(badge, 9, 9)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
        damage = index.data(DAMAGE_ROLE) or []
        if damage:
            # One short badge, the worst problem (the tooltip lists them all).
            words = [d.rsplit(" ", 1)[-1] for d in damage]
            text = next(w for w in ("damaged", "missing", "changed", *words) if w in words)
            text = f"{text} +{len(damage) - 1}" if len(damage) > 1 else text
            left = badge.right() + 6
            text = fm.elidedText(text, Qt.TextElideMode.ElideRight, max(20, r.right() - left - 18))
            warn = QRect(left, badge.top(), fm.horizontalAdvance(text) + 14, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(DAMAGE_COLOR))
            painter.drawRoundedRect(warn, 9, 9)
            painter.setPen(QColor("white"))
            painter.drawText(warn, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class WholeNamesComboBox(QComboBox):
    """A combo box whose list is as wide as its longest entry (never "Pre-…eled")."""

    def showPopup(self) -> None:  # noqa: N802
        view = self.view()
        # measured now: the style and fonts in force are the ones the list is drawn with
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 4)
        super().showPopup()


class ImageList(QWidget):
    """The image list dock widget, a filtered view of the session's :class:`ProjectModel`.

    Emits :attr:`imageActivated` with an image id. It never sets a status: badges change
    when the model does (from the catalog, after a write).
    """

    imageActivated = Signal(object)
    #: The records were replaced (a project opened, images imported).
    recordsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ProjectModel(self)  # until a session gives its own (set_model)
        self.proxy = StatusFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.model.modelReset.connect(self._on_reset)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show only images whose name contains this text")
        self.filter = WholeNamesComboBox()
        self.filter.setToolTip("Show only images with this status")
        # the whole status names, in the box and in its list ("Pre-labeled", not "Pre-…")
        self.filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.filter.addItem("All", None)
        self.filter.addItem("Unfinished", "unfinished")
        for value, label in STATUS_LABELS.items():
            self.filter.addItem(label.capitalize(), value)
        self.view = QListView()
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(ImageItemDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.view.activated.connect(self._activated)
        self.view.clicked.connect(self._activated)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.search.textChanged.connect(self._refilter)
        self.filter.currentIndexChanged.connect(self._refilter)
        self._current: Any = None
        # Thumbnails have their own one-thread pool: thousands of them queued on the
        # global pool would hold back the image loads and prefetches the annotator waits on.
        self.thumb_pool = QThreadPool(self)
        self.thumb_pool.setMaxThreadCount(1)

    # -- content -------------------------------------------------------------------

    def set_model(self, model: ProjectModel) -> None:
        """Show ``model`` (the session's); its resets reload thumbnails and selection."""
        if model is self.model:
            return
        self.model.modelReset.disconnect(self._on_reset)
        self.model = model
        self.proxy.setSourceModel(model)
        model.modelReset.connect(self._on_reset)
        self._on_reset()

    def _on_reset(self) -> None:
        self._load_thumbnails()
        if self._current is not None:
            self.select(self._current)
        self.recordsChanged.emit()

    def set_records(self, records: Sequence[Any]) -> None:
        """Show ``records`` (as the catalog lists them) in the list's model."""
        self.model.set_records(records)

    def set_damage(self, damage: dict[Any, list[str]]) -> None:
        """Show a red badge on each image of ``damage`` (id → problem labels)."""
        self.model.set_damage(damage)

    def damage(self, image_id: Any) -> list[str]:
        return self.model.damage(image_id)

    def _load_thumbnails(self, chunk: int = 4) -> None:
        """Make missing thumbnails in workers, a few per job so they appear progressively."""
        model = self.model
        todo = [(r.id, r.path) for r in model.records if not model.has_thumbnail(r.id)]

        def work(items: list[tuple[Any, Any]]) -> list[tuple[Any, QImage]]:
            out = []
            for image_id, path in items:
                try:
                    out.append((image_id, make_thumbnail(path)))
                except (SkinTraceError, OSError):  # unreadable: the placeholder stays
                    continue
            return out

        def done(result: list[tuple[Any, QImage]]) -> None:
            if not shiboken6.isValid(model):
                return  # its session closed meanwhile
            for image_id, image in result:
                model.set_thumbnail(image_id, image)

        for i in range(0, len(todo), chunk):
            items = todo[i : i + chunk]
            run_function(partial(work, items), on_done=done, pool=self.thumb_pool)

    def status(self, image_id: Any) -> str:
        """The image's status as the catalog last reported it (read from the model)."""
        return self.model.status(image_id)

    # -- selection and navigation -------------------------------------------------

    def select(self, image_id: Any) -> None:
        """Highlight ``image_id`` (does not emit imageActivated)."""
        self._current = image_id
        row = self.model.row_of(image_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row))
        if index.isValid():
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)

    def visible_ids(self) -> list[Any]:
        return self.proxy.ids()

    def neighbour(self, image_id: Any, step: int) -> Any:
        """The visible image ``step`` places from ``image_id`` (None at the ends)."""
        # Through the proxy's row mapping: O(1), not a scan of every visible row (this
        # runs on every image switch, for the prefetch).
        count = self.proxy.rowCount()
        if count == 0:
            return None
        row = self.model.row_of(image_id)
        index = self.proxy.mapFromSource(self.model.index(row)) if row is not None else None
        if index is None or not index.isValid():  # not shown: the first or last shown
            target = 0 if step > 0 else count - 1
        else:
            target = index.row() + step
        return self.proxy.index(target, 0).data(ID_ROLE) if 0 <= target < count else None

    def first_with_status(self, *statuses: str) -> Any:
        """The first image in list order whose status is one of ``statuses`` (else None)."""
        return self.model.first_with_status(*statuses)

    def next_unfinished(self, image_id: Any) -> Any:
        """The next unfinished image after ``image_id`` in list order, wrapping; or None."""
        return self.model.next_unfinished(image_id)

    def _activated(self, index: QModelIndex) -> None:
        image_id = index.data(ID_ROLE)
        if image_id is not None and image_id != self._current:
            self.imageActivated.emit(image_id)

    def _refilter(self) -> None:
        self.proxy.set_filter(self.filter.currentData(), self.search.text())
        if self._current is not None:
            self.select(self._current)
