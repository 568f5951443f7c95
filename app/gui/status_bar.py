"""Status bar: cursor position, gray / texture / GT values under it, zoom, save state."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

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
        # Fixed widths: text changing under the moving cursor must never re-layout the
        # window (that would resize and shift the canvas while painting).
        for w, width, stretch in (
            (self.position, 175, 0),
            (self.values, 380, 1),
            (self.zoom, 70, 0),
            (self.save_state, 160, 0),
        ):
            w.setMinimumWidth(width)
            if stretch:
                w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            else:
                w.setFixedWidth(width)
            self.addPermanentWidget(w, stretch)

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
        tex = " ".join(
            f"{cls[0].upper()} {float(getattr(textures, cls)[r, c]):.1f}" for cls in CLASSES
        )
        gt = " ".join(f"{cls[0].upper()} {int(document.gt(cls)[r, c])}" for cls in CLASSES)
        self.values.setText(f"gray {gray_at(document.image, r, c):.0f}   texture {tex}   GT {gt}")

    def show_zoom(self, zoom: float) -> None:
        self.zoom.setText(f"{zoom * 100:.0f} %")

    def show_save_state(self, text: str) -> None:
        self.save_state.setText(text)
