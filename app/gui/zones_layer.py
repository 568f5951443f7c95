"""The Zones layer: each facial zone outlined and tinted over the image, with labels."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItemGroup,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
)

from core.face.zones import ZONE_TITLES

#: Zone colours (Okabe-Ito and tints), one per zone.
ZONE_COLORS: dict[str, str] = {
    "forehead": "#E69F00", "glabella": "#D55E00", "nose": "#CC79A7",
    "nasolabial_right": "#0072B2", "nasolabial_left": "#0072B2",
    "crows_feet_right": "#009E73", "crows_feet_left": "#009E73",
    "under_eye_right": "#F0E442", "under_eye_left": "#F0E442",
    "cheek_right": "#56B4E9", "cheek_left": "#56B4E9",
}  # fmt: skip


class ZonesLayer(QGraphicsItemGroup):
    """Zone outlines (filled at ``opacity``) and labels over the image."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(50)
        self._labels: list[QGraphicsRectItem] = []
        self._paths: dict[str, QGraphicsPathItem] = {}
        self.opacity_value = 0.25
        self.show_labels = True
        self.show_handles = False
        self._handles: list[QGraphicsRectItem] = []

    def set_face(self, face: Any, shape: tuple[int, int] | None) -> None:
        for item in list(self.childItems()):
            self.removeFromGroup(item)
            if item.scene() is not None:
                item.scene().removeItem(item)
        self._labels, self._paths, self._handles = [], {}, []
        if face is None or shape is None:
            return
        from core.face.zones import zone_polygons

        font = QFont()
        font.setPointSize(9)
        font.setBold(True)
        for name, rc in zone_polygons(face).items():
            path = QPainterPath()
            # scene point (col + 0.5, row + 0.5) is the centre of pixel (row, col)
            path.moveTo(QPointF(rc[0, 1] + 0.5, rc[0, 0] + 0.5))
            for r, c in rc[1:]:
                path.lineTo(QPointF(c + 0.5, r + 0.5))
            path.closeSubpath()
            item = QGraphicsPathItem(path)
            pen = QPen(QColor(ZONE_COLORS[name]), 2)
            pen.setCosmetic(True)
            item.setPen(pen)
            self.addToGroup(item)
            self._paths[name] = item
            # An anchor that ignores the zoom holds the label centred on it in screen pixels.
            anchor = QGraphicsRectItem(0, 0, 0, 0)
            anchor.setPen(QPen(Qt.PenStyle.NoPen))
            anchor.setFlag(QGraphicsRectItem.GraphicsItemFlag.ItemIgnoresTransformations)
            centre = rc.mean(0)
            anchor.setPos(QPointF(centre[1] + 0.5, centre[0] + 0.5))
            label = QGraphicsSimpleTextItem(ZONE_TITLES[name], anchor)
            label.setFont(font)
            label.setBrush(QBrush(QColor("white")))
            label.setPen(QPen(QColor(0, 0, 0, 200), 0.6))
            rect = label.boundingRect()
            label.setPos(-rect.width() / 2, -rect.height() / 2)
            self.addToGroup(anchor)
            self._labels.append(anchor)
        for r, c in (face.right_eye, face.left_eye, face.nose):
            # a handle for each face point, 10 screen pixels at any zoom
            handle = QGraphicsRectItem(-5, -5, 10, 10)
            handle.setFlag(QGraphicsRectItem.GraphicsItemFlag.ItemIgnoresTransformations)
            handle.setPos(QPointF(c + 0.5, r + 0.5))
            handle.setBrush(QBrush(QColor("white")))
            handle.setPen(QPen(QColor("black"), 1))
            self.addToGroup(handle)
            self._handles.append(handle)
        self.apply_style()

    def apply_style(self) -> None:
        for name, item in self._paths.items():
            fill = QColor(ZONE_COLORS[name])
            fill.setAlphaF(max(0.0, min(1.0, self.opacity_value)))
            item.setBrush(QBrush(fill))
        for label in self._labels:
            label.setVisible(self.show_labels)
        for handle in self._handles:
            handle.setVisible(self.show_handles)

    @property
    def zone_names(self) -> list[str]:
        return list(self._paths)
