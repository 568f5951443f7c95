"""Image list dock: thumbnails, names, status and damage badges, filter by status, search."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
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
from core.project.status import Status

from .workers import run_function

THUMB = 56
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
#: Labels of what is wrong with an image's files (``["wrinkle mask damaged"]``), or [].
DAMAGE_ROLE = Qt.ItemDataRole.UserRole + 3
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
#: What the window calls each status (core's :attr:`Status.label`, keyed by value).
STATUS_LABELS = {s.value: s.label for s in Status}
#: Statuses that still need the annotator's work.
UNFINISHED = frozenset({"new", "prelabeled", "in_progress", "rejected"})


def status_value(status: Any) -> str:
    return str(getattr(status, "value", status))


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


class ImageListModel(QAbstractListModel):
    """The project's image records with their thumbnails."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.records: list[Any] = []
        self._row_of: dict[Any, int] = {}
        self._status: dict[Any, str] = {}
        self._thumbs: dict[Any, QPixmap] = {}
        self._damage: dict[Any, list[str]] = {}

    def set_damage(self, damage: dict[Any, list[str]]) -> None:
        """Badge the images in ``damage`` (id → problem labels); clear the others."""
        changed = set(self._damage) ^ set(damage) | {
            i for i in damage if self._damage.get(i) != damage[i]
        }
        self._damage = {i: list(v) for i, v in damage.items() if v}
        for image_id in changed:
            if image_id in self._row_of:
                idx = self.index(self._row_of[image_id])
                self.dataChanged.emit(idx, idx, [DAMAGE_ROLE])

    def damage(self, image_id: Any) -> list[str]:
        return list(self._damage.get(image_id, []))

    def set_records(self, records: Sequence[Any]) -> None:
        self.beginResetModel()
        self.records = list(records)
        self._row_of = {r.id: i for i, r in enumerate(self.records)}
        self._status = {r.id: status_value(r.status) for r in self.records}
        self._thumbs = {k: v for k, v in self._thumbs.items() if k in self._row_of}
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.records)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        rec = self.records[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return rec.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbs.get(rec.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{rec.name}\n{rec.cols}×{rec.rows}\n{STATUS_LABELS[self._status[rec.id]]}"
            return "\n".join([tip, *self._damage.get(rec.id, [])])
        if role == DAMAGE_ROLE:
            return self._damage.get(rec.id, [])
        if role == STATUS_ROLE:
            return self._status[rec.id]
        if role == ID_ROLE:
            return rec.id
        return None

    def status(self, image_id: Any) -> str:
        return self._status[image_id]

    def set_status(self, image_id: Any, status: Any) -> None:
        if image_id in self._row_of:
            self._status[image_id] = status_value(status)
            idx = self.index(self._row_of[image_id])
            self.dataChanged.emit(idx, idx, [STATUS_ROLE])

    def set_thumbnail(self, image_id: Any, image: QImage) -> None:
        if image_id in self._row_of:
            self._thumbs[image_id] = QPixmap.fromImage(image)
            idx = self.index(self._row_of[image_id])
            self.dataChanged.emit(idx, idx)

    def has_thumbnail(self, image_id: Any) -> bool:
        return image_id in self._thumbs

    def thumbnail(self, image_id: Any) -> QPixmap | None:
        """The image's list thumbnail, None until it is made."""
        return self._thumbs.get(image_id)


class StatusFilterProxy(QSortFilterProxyModel):
    """Filters by status (None = all, "unfinished", or a status value) and name."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.status_filter: str | None = None
        self.search = ""

    def set_filter(self, status: str | None, search: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            self.status_filter = status
            self.search = search.strip().lower()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            self.status_filter = status
            self.search = search.strip().lower()
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        index = self.sourceModel().index(row, 0, parent)
        status = index.data(STATUS_ROLE)
        if self.status_filter == "unfinished" and status not in UNFINISHED:
            return False
        if self.status_filter not in (None, "unfinished") and status != self.status_filter:
            return False
        return self.search in str(index.data(Qt.ItemDataRole.DisplayRole)).lower()


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
    """The image list dock widget; emits :attr:`imageActivated` with an image id."""

    imageActivated = Signal(object)
    #: The records were replaced (a project opened, images imported).
    recordsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ImageListModel(self)
        self.proxy = StatusFilterProxy(self)
        self.proxy.setSourceModel(self.model)
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

    def set_records(self, records: Sequence[Any]) -> None:
        self.model.set_records(records)
        self._load_thumbnails()
        if self._current is not None:
            self.select(self._current)
        self.recordsChanged.emit()

    def set_damage(self, damage: dict[Any, list[str]]) -> None:
        """Show a red badge on each image of ``damage`` (id → problem labels)."""
        self.model.set_damage(damage)

    def damage(self, image_id: Any) -> list[str]:
        return self.model.damage(image_id)

    def _load_thumbnails(self, chunk: int = 4) -> None:
        """Make missing thumbnails in workers, a few per job so they appear progressively."""
        todo = [(r.id, r.path) for r in self.model.records if not self.model.has_thumbnail(r.id)]

        def work(items: list[tuple[Any, Any]]) -> list[tuple[Any, QImage]]:
            out = []
            for image_id, path in items:
                try:
                    out.append((image_id, make_thumbnail(path)))
                except (SkinTraceError, OSError):  # unreadable: the placeholder stays
                    continue
            return out

        def done(result: list[tuple[Any, QImage]]) -> None:
            for image_id, image in result:
                self.model.set_thumbnail(image_id, image)

        for i in range(0, len(todo), chunk):
            items = todo[i : i + chunk]
            run_function(partial(work, items), on_done=done, pool=self.thumb_pool)

    def set_status(self, image_id: Any, status: Any) -> None:
        self.model.set_status(image_id, status)

    def status(self, image_id: Any) -> str:
        return self.model.status(image_id)

    # -- selection and navigation -------------------------------------------------

    def select(self, image_id: Any) -> None:
        """Highlight ``image_id`` (does not emit imageActivated)."""
        self._current = image_id
        row = self.model._row_of.get(image_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row))
        if index.isValid():
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)

    def visible_ids(self) -> list[Any]:
        return [self.proxy.index(i, 0).data(ID_ROLE) for i in range(self.proxy.rowCount())]

    def neighbour(self, image_id: Any, step: int) -> Any:
        """The visible image ``step`` places from ``image_id`` (None at the ends)."""
        # Through the proxy's row mapping: O(1), not a scan of every visible row (this
        # runs on every image switch, for the prefetch).
        count = self.proxy.rowCount()
        if count == 0:
            return None
        row = self.model._row_of.get(image_id)
        index = self.proxy.mapFromSource(self.model.index(row)) if row is not None else None
        if index is None or not index.isValid():  # not shown: the first or last shown
            target = 0 if step > 0 else count - 1
        else:
            target = index.row() + step
        return self.proxy.index(target, 0).data(ID_ROLE) if 0 <= target < count else None

    def first_with_status(self, *statuses: str) -> Any:
        """The first image in list order whose status is one of ``statuses`` (else None)."""
        for record in self.model.records:
            if self.model.status(record.id) in statuses:
                return record.id
        return None

    def next_unfinished(self, image_id: Any) -> Any:
        """The next unfinished image after ``image_id`` in list order, wrapping; or None."""
        ids = [r.id for r in self.model.records]
        if not ids:
            return None
        start = ids.index(image_id) + 1 if image_id in ids else 0
        for k in range(len(ids)):
            candidate = ids[(start + k) % len(ids)]
            if candidate != image_id and self.model.status(candidate) in UNFINISHED:
                return candidate
        return None

    def _activated(self, index: QModelIndex) -> None:
        image_id = index.data(ID_ROLE)
        if image_id is not None and image_id != self._current:
            self.imageActivated.emit(image_id)

    def _refilter(self) -> None:
        self.proxy.set_filter(self.filter.currentData(), self.search.text())
        if self._current is not None:
            self.select(self._current)
