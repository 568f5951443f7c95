"""Several annotators in the window: the independent-mode switch and the Agreement dock.

*File → Annotators work independently* stores the project setting
``annotation.independent`` through the session's serial writer and reopens the open
image with the masks that mode gives (each annotator's own, or the newest).

The **Agreement** dock shows, for the open image and the active class, how many
annotators' GT marks each pixel (an overlay on the image: yellow where some of them did,
blue where all did) and the pairwise scores of :mod:`core.gt.agreement` (IoU, Dice,
clDice, F1 within 1-3 px). They are computed in a worker when an image opens and after
each save of its masks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.classes import CLASSES
from core.gt.agreement import PAIR_SCORES, ImageAgreement

from .fit import fit_table
from .overlay import OverlayImage, OverlayItem
from .workers import run_function

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from .canvas import ImageCanvas
    from .documents import LoadedDocument
    from .parts import Frame
    from .session import AnnotationSession
    from .tools import ToolState

#: Colour where some annotators marked a pixel (Okabe-Ito yellow) ...
SOME_COLOR = "#F0E442"
#: ... and where all of them did (Okabe-Ito blue; not the exclusion mask's green).
ALL_COLOR = "#0072B2"
#: Above every other overlay (layers.LAYERS z-values are 0-4).
AGREEMENT_Z = 10
_ALPHA = 200


def _premultiplied(color: str, alpha: int) -> int:
    c = QColor(color)
    r, g, b = (round(v * alpha / 255) for v in (c.red(), c.green(), c.blue()))
    return (alpha << 24) | (r << 16) | (g << 8) | b


def count_colors(annotators: int) -> np.ndarray:
    """ARGB32-premultiplied colour per count ``0..annotators`` (0 transparent): yellow
    blending to blue as more annotators agree; all of them is blue."""
    lut = np.zeros(max(annotators, 1) + 1, dtype=np.uint32)
    some, every = QColor(SOME_COLOR), QColor(ALL_COLOR)
    for k in range(1, annotators + 1):
        t = 1.0 if k == annotators else (k - 1) / max(annotators - 1, 1)
        mixed = QColor(
            round(some.red() + t * (every.red() - some.red())),
            round(some.green() + t * (every.green() - some.green())),
            round(some.blue() + t * (every.blue() - some.blue())),
        )
        lut[k] = _premultiplied(mixed.name(), _ALPHA)
    return lut


class AgreementView(QWidget):
    """The open image's agreement between annotators, for the active class."""

    def __init__(self, tools: ToolState, canvas: ImageCanvas) -> None:
        super().__init__()
        self.tools = tools
        self.canvas = canvas
        self.session: AnnotationSession | None = None
        self.image_id: int | None = None
        self.result: ImageAgreement | None = None
        self.cls = tools.cls
        self._token = 0
        self.computing = False
        self.summary = QLabel("No image open")
        self.summary.setWordWrap(True)
        self.show_map = QCheckBox("Show count map on the image")
        self.show_map.setToolTip(
            "How many annotators' GT marks each pixel of the active class: yellow where "
            "some did, blue where all did"
        )
        self.show_map.setChecked(True)
        self.show_map.toggled.connect(lambda _on: self._render())
        self.table = QTableWidget(0, 1 + len(PAIR_SCORES))
        self.table.setHorizontalHeaderLabels(["Pair", *(s.upper() for s in PAIR_SCORES)])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip(
            "Scores between each pair of annotators on their GT of the active class; "
            "F1@k counts pixels within k px as matching"
        )
        fit_table(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addWidget(self.show_map)
        layout.addWidget(self.table, 1)
        self.overlay: OverlayImage | None = None
        self.item: OverlayItem | None = None
        tools.changed.connect(self._on_tools)

    # -- session ---------------------------------------------------------------------

    def attach(self, session: AnnotationSession | None) -> None:
        if self.session is not None:
            self.session.documentOpened.disconnect(self._on_opened)
            self.session.saveStateChanged.disconnect(self._on_save_state)
        self.session = session
        self.show_image(None)
        if session is not None:
            session.documentOpened.connect(self._on_opened)
            session.saveStateChanged.connect(self._on_save_state)
            if session.current is not None:
                self.show_image(session.current.image_id)

    def _on_opened(self, loaded: LoadedDocument) -> None:
        self.show_image(loaded.image_id)

    def _on_save_state(self, text: str) -> None:
        if text == "saved" and self.image_id is not None:
            self.refresh()  # this annotator's masks changed on disk

    def _on_tools(self) -> None:
        cls = self.tools.cls
        if cls != self.cls and cls in CLASSES:  # not the exclusion mask
            self.cls = cls
            self._render()

    # -- computing -------------------------------------------------------------------

    def show_image(self, image_id: int | None) -> None:
        """Compute the agreement of ``image_id`` in a worker (None clears)."""
        self.image_id = image_id
        self.result = None
        self._render()
        if image_id is not None:
            self.refresh()

    def refresh(self) -> None:
        """Recompute the open image's agreement (off the GUI thread)."""
        if self.session is None or self.image_id is None:
            return
        from core.gt.agreement import image_agreement

        self._token += 1
        token, image_id, project = self._token, self.image_id, self.session.project
        self.computing = True
        self.summary.setText("Comparing annotators…")

        def done(result: ImageAgreement) -> None:
            if token == self._token:
                self.computing = False
                self.result = result
                self._render()

        def failed(message: str) -> None:
            if token == self._token:
                self.computing = False
                self.summary.setText(f"Agreement unavailable: {message}")

        run_function(lambda: image_agreement(project, image_id), on_done=done, on_error=failed)

    # -- showing ---------------------------------------------------------------------

    def counts(self) -> np.ndarray | None:
        """The count map of the active class shown now (None: fewer than two annotators)."""
        if self.result is None or not self.result.counts:
            return None
        return self.result.counts.get(self.cls)

    def _remove_item(self) -> None:
        if self.item is not None and self.item.scene() is not None:
            self.item.scene().removeItem(self.item)
        self.item = self.overlay = None

    def _render(self) -> None:
        res = self.result
        rows = [] if res is None else [r for r in res.rows if r.cls == self.cls]
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = [f"{r.a} / {r.b}", *(f"{r.scores[s]:.3f}" for s in PAIR_SCORES)]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(
                    f"{r.a}: {r.pixels_a} GT px, {r.b}: {r.pixels_b} GT px ({r.cls})"
                    if col == 0
                    else f"{PAIR_SCORES[col - 1]} between {r.a} and {r.b} ({r.cls})"
                )
                self.table.setItem(i, col, item)
        fit_table(self.table)
        if self.image_id is None:
            self.summary.setText("No image open")
        elif res is not None and len(res.annotators) < 2:
            who = ", ".join(res.annotators) or "nobody yet"
            self.summary.setText(f"One annotator of this image ({who}): nothing to compare")
        elif res is not None:
            self.summary.setText(
                f"{len(res.annotators)} annotators ({', '.join(res.annotators)}); class {self.cls}"
            )
        counts = self.counts()
        scene = self.canvas.scene()
        if counts is None or res is None or not self.show_map.isChecked() or scene is None:
            self._remove_item()
            return
        if self.overlay is None or self.overlay.shape != counts.shape:
            self._remove_item()
            self.overlay = OverlayImage(counts.shape)
            self.item = OverlayItem(self.overlay)
            self.item.setZValue(AGREEMENT_Z)
            scene.addItem(self.item)
        elif self.item is not None and self.item.scene() is None:
            scene.addItem(self.item)  # the canvas cleared its scene for a new image
        lut = count_colors(len(res.annotators))
        self.overlay.array[...] = lut[np.minimum(counts, len(lut) - 1)]
        if self.item is not None:
            self.item.update()


def _sync_mode_action(action: QAction, session: AnnotationSession | None) -> None:
    action.blockSignals(True)
    action.setChecked(session is not None and session.independent())
    action.blockSignals(False)
    action.setEnabled(session is not None and not session.read_only)


def install(frame: Frame) -> tuple[AgreementView, QAction]:
    """Build the Agreement dock and the independent-mode switch (File menu)."""
    view = AgreementView(frame.tools, frame.canvas)
    frame.add_tabbed_dock("Agreement", view, "agreement", beside="layers")

    def toggled(on: bool) -> None:
        if view.session is not None:
            view.session.set_independent(on)
            state = "each opens their own masks" if on else "everyone opens the newest masks"
            frame.notifier.show(f"Annotators work independently: {state}", 5000)

    action = frame.registry.add(
        "independent",
        "Annotators work &independently",
        toggled,
        checkable=True,
        tip="Each annotator opens their own masks of an image (empty if they have none) "
        "instead of the newest ones; compare them in the Agreement panel",
    )
    menu = frame.menus.file
    quit_action = frame.registry["quit"]
    menu.insertAction(quit_action, action)
    menu.insertSeparator(quit_action)
    frame.session_changed.connect(view.attach)
    frame.session_changed.connect(lambda s: _sync_mode_action(action, s))
    view.attach(None)
    _sync_mode_action(action, None)
    return view, action
