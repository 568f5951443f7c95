"""Status bar: cursor position, gray / texture / GT values under it, zoom, save state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar, QWidget

from core.classes import CLASSES

if TYPE_CHECKING:
    from core.gt.document import AnnotationDocument


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
        #: "Read-only" while the project cannot be changed; its tooltip says why.
        self.read_only = QLabel("")
        self.read_only.setObjectName("readOnlyBadge")
        self.read_only.hide()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # "busy" until a step count is known
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(140)
        self.busy.hide()
        # Retraining runs for minutes in the background: its own bar, beside the others.
        self.training = QProgressBar()
        self.training.setObjectName("training_progress")
        self.training.setFixedWidth(170)
        self.training.setToolTip("Retraining in the background (Model → Cancel retraining)")
        self.training.hide()
        self.addPermanentWidget(self.training)
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
        # Its text changes only when a project opens, never under the moving cursor.
        self.addPermanentWidget(self.read_only)

    def show_cursor(self, document: AnnotationDocument | None, row: float, col: float) -> None:
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

    def show_training(self, step: str, done: int = 0, total: int = 0) -> None:
        """Show the retraining step, with the epoch count once it is known."""
        self.training.setRange(0, max(0, total))
        self.training.setValue(min(done, total))
        self.training.setFormat(f"{step} {done}/{total}" if total else step)
        self.training.show()

    def hide_training(self) -> None:
        self.training.hide()

    def hide_busy(self) -> None:
        self.busy.hide()
        self.clearMessage()

    def show_zoom(self, zoom: float) -> None:
        self.zoom.setText(f"{zoom * 100:.0f} %")

    def show_read_only(self, reason: str | None, cause: str = "") -> None:
        """Show the read-only badge, ``Read-only (cause)``, with the whole ``reason`` as
        its tooltip and as a message; None hides it."""
        self.read_only.setVisible(reason is not None)
        text = "Read-only" + (f" ({cause})" if cause else "")
        self.read_only.setText(text if reason is not None else "")
        self.read_only.setToolTip(reason or "")
        if reason:
            self.showMessage(reason, 30000)

    def show_save_state(self, text: str) -> None:
        self.save_state.setText(text)
