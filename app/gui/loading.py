"""What the window shows while a large image opens: preview first, then maps progress.

Connects an :class:`~app.gui.session.AnnotationSession`'s loading signals to the canvas
and the status bar. The previous image leaves the screen at once: the new image's list
thumbnail is stretched over its size (or a neutral frame until the thumbnail exists),
replaced by a reduced decode when the format allows, then by the image itself, which
can be painted at once; the texture maps and GT follow with a progress bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QColor, QImage

from core.progress import Progress

if TYPE_CHECKING:
    from core.project.records import ImageRecord

    from .canvas import ImageCanvas
    from .documents import LoadedDocument
    from .image_list import ImageList
    from .session import AnnotationSession
    from .status_bar import StatusBar


def array_qimage(image: np.ndarray) -> QImage:
    """A QImage copy of a small ``(m, n, 3) uint8`` array."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    rows, cols = image.shape[:2]
    return QImage(image.data, cols, rows, cols * 3, QImage.Format.Format_RGB888).copy()


def placeholder(shape: tuple[int, int]) -> QImage:
    """A neutral gray frame with the image's aspect ratio (no thumbnail yet)."""
    rows, cols = shape
    scale = 64 / max(rows, cols)
    img = QImage(
        max(1, round(cols * scale)), max(1, round(rows * scale)), QImage.Format.Format_RGB32
    )
    img.fill(QColor("#555555"))
    return img


class LoadFeedback(QObject):
    """Shows each stage of a large image's opening in the canvas, list and status bar."""

    def __init__(
        self,
        canvas: ImageCanvas,
        image_list: ImageList,
        status: StatusBar,
        session: AnnotationSession,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.image_list = image_list
        self.status = status
        self.session = session
        self.loading_id: int | None = None
        self._shape: tuple[int, int] | None = None
        session.loading.connect(self._on_loading)
        session.previewReady.connect(self._on_preview)
        session.mapsProgress.connect(self._on_maps_progress)
        session.mapsReady.connect(self._on_maps_ready)
        session.loadFailed.connect(self._on_failed)
        session.documentOpened.connect(self._on_opened)

    def _on_loading(self, record: ImageRecord) -> None:
        shape = (int(record.rows), int(record.cols))
        self.loading_id, self._shape = record.id, shape
        thumb = self.image_list.model.thumbnail(record.id)
        preview = thumb.toImage() if thumb is not None else placeholder(shape)
        self.canvas.show_preview(preview, shape)
        self.image_list.select(record.id)
        self.status.show_busy(f"Loading {record.name} ({record.cols}×{record.rows})…")

    def _on_preview(self, image_id: int, preview: np.ndarray) -> None:
        if image_id == self.loading_id and self._shape is not None and self.canvas.previewing:
            self.canvas.show_preview(array_qimage(preview), self._shape)

    def _on_opened(self, loaded: LoadedDocument) -> None:
        self.loading_id = None
        if not loaded.document.textures_ready:
            self.status.show_busy("Computing the texture maps… (painting works)", 0, 2)

    def _on_maps_progress(self, step: Progress) -> None:
        self.status.show_busy(
            f"{step.message.capitalize()}… (painting works)", step.done, step.total
        )

    def _on_maps_ready(self, _image_id: int) -> None:
        self.status.hide_busy()
        self.status.showMessage("Texture maps and ground truth ready.", 3000)

    def _on_failed(self, _image_id: int) -> None:
        self.loading_id = None
        if self.canvas.previewing:
            # The previous image stays open: show it again in place of the preview.
            self.canvas.set_document(self.session.document)
            self.status.hide_busy()

    def disconnect_all(self) -> None:
        s = self.session
        for signal, slot in (
            (s.loading, self._on_loading),
            (s.previewReady, self._on_preview),
            (s.mapsProgress, self._on_maps_progress),
            (s.mapsReady, self._on_maps_ready),
            (s.loadFailed, self._on_failed),
            (s.documentOpened, self._on_opened),
        ):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass


__all__ = ["LoadFeedback", "array_qimage", "placeholder"]
