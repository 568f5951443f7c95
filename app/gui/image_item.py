"""The image layer: draws the document's pixels straight from their numpy memory.

A 6000×4000 photo is 72 MB as ``(M, N, 3) uint8``; a QPixmap of it would add 96 MB
(and a 72 MB copy while it is made, on the GUI thread). :class:`ImageItem` wraps the
array in an RGB888 QImage without copying and paints only the exposed rectangle, which
Qt's raster engine converts as it draws (a few ms per frame even fitted).

:class:`PreviewItem` stands in for the image while a large one is still being decoded:
a small picture (the list thumbnail or a reduced decode) stretched over the image's size.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget


def wrap_rgb(image: np.ndarray) -> QImage:
    """An RGB888 QImage over ``image``'s memory (no copy; keep ``image`` alive)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (M, N, 3) uint8 image, got {image.shape} {image.dtype}")
    if not image.flags.c_contiguous:
        raise ValueError("the image must be C-contiguous to be shown without a copy")
    rows, cols = image.shape[:2]
    return QImage(image.data, cols, rows, cols * 3, QImage.Format.Format_RGB888)


class ImageItem(QGraphicsItem):
    """Draws an ``(M, N, 3) uint8`` array at scene (0, 0), one scene unit per pixel."""

    def __init__(self, image: np.ndarray, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.array = image  # keeps the memory the QImage reads alive
        self.qimage = wrap_rgb(image)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_array(self, image: np.ndarray) -> None:
        """Draw ``image`` (same shape) instead, e.g. another view of the same pixels."""
        if image.shape != self.array.shape:
            raise ValueError(f"image shape {image.shape} differs from {self.array.shape}")
        self.qimage = wrap_rgb(image)
        self.array = image
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        rows, cols = self.array.shape[:2]
        return QRectF(0, 0, cols, rows)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        exposed = option.exposedRect.intersected(self.boundingRect()).toAlignedRect()
        if not exposed.isEmpty():
            painter.drawImage(exposed, self.qimage, exposed)


class PreviewItem(QGraphicsItem):
    """A small picture drawn over an image's full ``(rows, cols)`` while it loads."""

    def __init__(
        self, preview: QImage, shape: tuple[int, int], parent: QGraphicsItem | None = None
    ) -> None:
        super().__init__(parent)
        self.pixmap = QPixmap.fromImage(preview)
        self.shape_ = (int(shape[0]), int(shape[1]))
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        rows, cols = self.shape_
        return QRectF(0, 0, cols, rows)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawPixmap(self.boundingRect(), self.pixmap, QRectF(self.pixmap.rect()))
