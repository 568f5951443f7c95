"""Status bar: cursor position, gray / texture / GT values under it, zoom, save state."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar, QWidget

from core.classes import CLASSES


def gray_at(image: np.ndarray, row: int, col: int) -> float:
    """BT.601 luma of one RGB pixel (0-255)."""
    r, g, b = (float(v) for v in image[row, col, :3])
    return 0.299 * r + 0.587 * g + 0.114 * b


class StatusBar(QStatusBar):
    """Shows what is under the cursor; :meth:`show_cursor` is called on every move."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.position = QLabel("—")
        self.values = QLabel("")
        self.zoom = QLabel("")
        self.save_state = QLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # "busy" until a step count is known
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(140)
        self.busy.hide()
        # Fixed widths: text changing under the moving cursor must never re-layout the
        # window (that would resize and shift the canvas while painting). The cursor
        # read-out is a normal widget, so a message (showMessage) takes its place while
        # shown; permanent widgets would leave the message no room at all.
        for w, width, stretch, permanent in (
            (self.position, 175, 0, False),
            (self.values, 380, 1, False),
            (self.busy, 140, 0, True),
            (self.zoom, 70, 0, True),
            (self.save_state, 160, 0, True),
        ):
            w.setMinimumWidth(width)
            if stretch:
                w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            else:
                w.setFixedWidth(width)
            if permanent:
                self.addPermanentWidget(w, stretch)
            else:
                self.addWidget(w, stretch)

    def show_cursor(self, document: Any, row: float, col: float) -> None:
        if document is None or row < 0 or col < 0:
            self.position.setText("—")
            self.values.setText("")
            return
        r, c = round(row), round(col)
        if not (0 <= r < document.shape[0] and 0 <= c < document.shape[1]):
            self.position.setText("—")
            self.values.setText("")
            return
        self.position.setText(f"row {r}, col {c}")
        textures = document.textures
        if textures is None:  # still being computed
            tex = "…"
        else:
            tex = " ".join(
                f"{cls[0].upper()} {float(getattr(textures, cls)[r, c]):.1f}" for cls in CLASSES
            )
        gt = " ".join(f"{cls[0].upper()} {int(document.gt(cls)[r, c])}" for cls in CLASSES)
        self.values.setText(f"gray {gray_at(document.image, r, c):.0f}   texture {tex}   GT {gt}")

    def show_busy(self, message: str, done: int = 0, total: int = 0) -> None:
        """Show ``message`` with a progress bar (``total`` 0: busy without a count)."""
        self.busy.setRange(0, max(0, total))
        self.busy.setValue(min(done, total))
        self.busy.show()
        self.showMessage(message)

    def hide_busy(self) -> None:
        self.busy.hide()
        self.clearMessage()

    def show_zoom(self, zoom: float) -> None:
        self.zoom.setText(f"{zoom * 100:.0f} %")

    def show_save_state(self, text: str) -> None:
        self.save_state.setText(text)
