"""The training dock's live plot: loss and IoU per epoch, with axes, ticks and a legend."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

SERIES = (  # (key in the epoch record, label, colour, axis)
    ("train_loss", "train loss", "#E69F00", "loss"),
    ("val_loss", "val loss", "#0072B2", "loss"),
    ("iou_wrinkle", "IoU wrinkle", "#D55E00", "iou"),
    ("iou_pore", "IoU pore", "#56B4E9", "iou"),
)

#: Margins (left, top, right, bottom) around the plot area for axes, ticks and legend.
MARGINS = (44, 16, 38, 50)


def _tick(value: float) -> str:
    return f"{value:.3g}"


class MetricsPlot(QWidget):
    """Loss (left axis, from 0) and IoU (right axis, 0-1) against the epoch (bottom axis)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records: list[dict[str, Any]] = []
        self.setMinimumSize(220, 150)
        self.setToolTip(
            "Training and validation loss (left axis) and validation IoU per class (right "
            "axis, 0-1) after each epoch"
        )

    def set_records(self, records: list[dict[str, Any]]) -> None:
        self.records = list(records)
        self.update()

    def _epochs(self) -> tuple[int, int]:
        epochs = [int(r["epoch"]) for r in self.records] or [1]
        return min(epochs), max(max(epochs), min(epochs) + 1)

    def loss_top(self) -> float:
        """The top of the loss axis (10 % above the largest loss; 1 without any)."""
        losses = [
            float(r[k])
            for r in self.records
            for k in ("train_loss", "val_loss")
            if r.get(k) is not None
        ]
        top = max(losses, default=0.0)
        return top * 1.1 if top > 0 else 1.0

    def plot_rect(self) -> QRectF:
        left, top, right, bottom = MARGINS
        return QRectF(self.rect()).adjusted(left, top, -right, -bottom)

    def points(self, key: str, rect: QRectF) -> list[QPointF]:
        """Widget coordinates of one series inside ``rect`` (tests read them)."""
        values = [(r["epoch"], float(r[key])) for r in self.records if r.get(key) is not None]
        if not values:
            return []
        e0, e1 = self._epochs()
        top = 1.0 if key.startswith("iou") else self.loss_top()
        return [
            QPointF(
                rect.left() + rect.width() * (e - e0) / (e1 - e0),
                rect.bottom() - rect.height() * min(max(v / top, 0.0), 1.0),
            )
            for e, v in values
        ]

    def paintEvent(self, _event: Any) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), self.palette().base())
        rect = self.plot_rect()
        self._draw_axes(painter, rect)
        if not self.records:
            painter.setPen(self.palette().text().color())
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no epochs yet")
            painter.end()
            return
        fm = painter.fontMetrics()
        x = rect.left() - MARGINS[0] + 6
        for key, label, color, _axis in SERIES:
            pts = self.points(key, rect)
            painter.setPen(QPen(QColor(color), 2))
            if len(pts) == 1:
                painter.drawEllipse(pts[0], 2.5, 2.5)
            elif pts:
                path = QPainterPath(pts[0])
                for p in pts[1:]:
                    path.lineTo(p)
                painter.drawPath(path)
            painter.drawText(QPointF(x, self.height() - 4), label)  # legend, in colour
            x += fm.horizontalAdvance(label) + 10
        painter.end()

    def _draw_axes(self, painter: QPainter, rect: QRectF) -> None:
        text = self.palette().text().color()
        fm = painter.fontMetrics()
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRect(rect)
        painter.setPen(text)
        h = fm.height()
        # left: loss from 0; right: IoU 0-1
        loss_top = self.loss_top()
        for frac in (0.0, 0.5, 1.0):
            y = rect.bottom() - frac * rect.height()
            painter.drawLine(QPointF(rect.left() - 3, y), QPointF(rect.left(), y))
            painter.drawLine(QPointF(rect.right(), y), QPointF(rect.right() + 3, y))
            left = _tick(frac * loss_top) if self.records else _tick(frac)
            painter.drawText(
                QRectF(0, y - h / 2, rect.left() - 5, h),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                left,
            )
            painter.drawText(
                QRectF(rect.right() + 5, y - h / 2, MARGINS[2] - 5, h),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                _tick(frac),
            )
        painter.drawText(QPointF(2, rect.top() - 4), "loss")
        painter.drawText(
            QPointF(rect.right() + 4 - fm.horizontalAdvance("IoU") / 2, rect.top() - 4), "IoU"
        )
        # bottom: epochs, at most 6 ticks
        e0, e1 = self._epochs()
        step = max(1, -(-(e1 - e0) // 5))
        for e in range(e0, e1 + 1, step):
            x = rect.left() + rect.width() * (e - e0) / (e1 - e0)
            painter.drawLine(QPointF(x, rect.bottom()), QPointF(x, rect.bottom() + 3))
            painter.drawText(
                QRectF(x - 20, rect.bottom() + 3, 40, h), Qt.AlignmentFlag.AlignHCenter, str(e)
            )
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 3 + h, rect.width(), h),
            Qt.AlignmentFlag.AlignHCenter,
            "epoch",
        )
