"""Faces at import time: the Import dialog's alignment option and background face finding.

*File → Import images…* opens :class:`ImportDialog`: the folder, and the option *Align faces
to the paper's 768×640 crop* (width and height can be changed), which does what
``skintrace import --align`` does (crops into ``PROJECT/aligned/``, transforms beside them,
then imports the crops) on a worker with the import's progress dialog.

After every import from the window, :class:`FaceQueue` finds and stores the face of each
newly imported image (``PROJECT/faces/<id>.json``) on the Face controller's low-priority,
one-thread pool, each image a job below the open image's own face job: opening an image
later finds its face ready. The status bar counts the work down. docs/faces.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.progress import CancelToken, Progress

from .workers import run_function

if TYPE_CHECKING:
    from .session import AnnotationSession
    from .status_bar import StatusBar


class FaceFinder(Protocol):
    """What :class:`FaceQueue` needs of the Face controller (:class:`~.faces.FaceController`)."""

    @property
    def session(self) -> AnnotationSession | None: ...
    @property
    def detect(self) -> bool: ...
    @property
    def pool(self) -> QThreadPool: ...


#: The paper's crop, width × height (Section 4.1).
CROP_WIDTH, CROP_HEIGHT = 768, 640
#: Queue priority of the import's face jobs: below the open image's (0).
BATCH_PRIORITY = -1


@dataclass(frozen=True)
class ImportChoice:
    """What the Import dialog asks for: a folder, and the crop (rows, cols) or None."""

    folder: str
    align: tuple[int, int] | None = None


class ImportDialog(QDialog):
    """Folder to import, and whether to align each face photo to the paper's crop first."""

    def __init__(self, parent: QWidget | None = None, folder: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Import images")
        self.folder_edit = QLineEdit(folder)
        self.folder_edit.setToolTip("Searched recursively for images")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(QLabel("Folder"))
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.align = QCheckBox("Align faces to the paper's 768×640 crop")
        self.align.setToolTip(
            "Crop each face photo so the eyes sit level at the same place (as `skintrace "
            "import --align`); the crops are imported, photos without a usable face are "
            "skipped and listed, the originals are not changed"
        )
        self.width_spin, self.height_spin = QSpinBox(), QSpinBox()
        for spin, value, name in ((self.width_spin, CROP_WIDTH, "width"), (self.height_spin, CROP_HEIGHT, "height")):  # fmt: skip
            spin.setRange(64, 8192)
            spin.setValue(value)
            spin.setSuffix(" px")
            spin.setToolTip(f"Crop {name}")
            spin.setEnabled(False)
        self.align.toggled.connect(self._on_align)
        size = QHBoxLayout()
        size.addSpacing(24)
        size.addWidget(QLabel("Size"))
        size.addWidget(self.width_spin)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_spin)
        size.addStretch(1)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c62828")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.align)
        layout.addLayout(size)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(520, self.sizeHint().height())

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import images from folder", self.folder_edit.text())  # fmt: skip
        if folder:
            self.folder_edit.setText(folder)

    def _on_align(self, on: bool) -> None:
        self.width_spin.setEnabled(on)
        self.height_spin.setEnabled(on)

    def accept(self) -> None:
        folder = self.folder_edit.text().strip()
        if not folder or not Path(folder).is_dir():
            self.error.setText(f"{folder or 'no folder'}: not a folder; choose the folder of images")  # fmt: skip
            return
        super().accept()

    def choice(self) -> ImportChoice:
        """The folder and crop chosen (call after the dialog was accepted)."""
        align = (self.height_spin.value(), self.width_spin.value()) if self.align.isChecked() else None  # fmt: skip
        return ImportChoice(self.folder_edit.text().strip(), align)


def aligned_import(project: Any, folder: str, crop_shape: tuple[int, int], *, copy: bool, cancel: CancelToken) -> Iterator[Progress]:  # fmt: skip
    """Align the face photos of ``folder`` into ``PROJECT/aligned/`` then import the crops.

    The import's steps carry ``info["aligned"]``: the alignment's last info (``aligned``,
    ``skipped``).
    """
    from core.face.align import align_folder

    out = Path(project.root) / "aligned"
    aligned: dict[str, Any] = {"aligned": 0, "skipped": []}
    for step in align_folder(folder, out, crop_shape=crop_shape, cancel=cancel):
        aligned = step.info or aligned
        yield Progress(step.done, step.total, f"Aligning faces: {step.message}".rstrip(": "))
    for step in project.import_images(out / "crops", copy=copy, cancel=cancel):
        yield replace(step, info={**step.info, "aligned": aligned})


class FaceQueue(QObject):
    """Finds the faces of newly imported images in the background (one job per image)."""

    #: Emitted when the queue runs empty: (images done, {state: count}, error or "").
    finished = Signal(int, object, str)

    def __init__(self, controller: FaceFinder, status: StatusBar, parent: QObject) -> None:
        super().__init__(parent)
        self.controller = controller
        self.status = status
        self.token = CancelToken()
        self.pending = 0
        self.done = 0
        self.states: dict[str, int] = {}
        self.error = ""
        #: The last summary ("faces of 3 imported image(s) found (2 found, 1 none)").
        self.message = ""
        #: "Faces 3/10" in the status bar while the queue works (hidden when idle).
        self.bar = QProgressBar()
        self.bar.setObjectName("face_queue_progress")
        self.bar.setFormat("Faces %v/%m")
        self.bar.setFixedWidth(130)
        self.bar.setToolTip("Finding the faces of imported images in the background")
        self.bar.hide()
        self.status.addPermanentWidget(self.bar)

    def cancel(self, *_args: Any) -> None:
        """Drop the queued jobs (a job under way finishes); called when the session changes."""
        self.token.cancel()
        self.token = CancelToken()
        self.pending, self.done, self.states, self.error = 0, 0, {}, ""
        self.bar.hide()

    def add(self, records: Sequence[Any]) -> int:
        """Queue the images ``records``; returns how many were queued."""
        c = self.controller
        session = c.session
        if session is None or session.read_only or not c.detect or not records:
            return 0
        root, token = session.project.root, self.token
        for rec in records:
            item = (rec.id, rec.path, rec.content_hash)
            run_function(
                partial(_detect_one, root, item, token),
                on_done=partial(self._one_done, token),
                on_error=partial(self._one_failed, token),
                pool=c.pool,
                priority=BATCH_PRIORITY,
            )
        self.pending += len(records)
        self._show()
        return len(records)

    def _one_failed(self, token: CancelToken, message: str) -> None:
        self._one_done(token, {"error": message})

    def _one_done(self, token: CancelToken, info: Any) -> None:
        if token is not self.token or info is None:
            return  # a job of a cancelled queue
        self.done += 1
        for state, n in info.get("states", {}).items():
            self.states[state] = self.states.get(state, 0) + n
        if info.get("error") and not self.error:
            error = self.error = str(info["error"])  # e.g. dlib missing: once, drop the rest
            done, states = self.done, dict(self.states)
            self.cancel()
            self.message = f"faces not found: {error}"
            self._say(self.message)
            self.finished.emit(done, states, error)
            return
        self._show()

    def _say(self, text: str) -> None:
        """Add ``text`` to the status bar's message (the import's report stays readable)."""
        current = self.status.currentMessage()
        self.status.showMessage(f"{current}; {text}" if current else text[:1].upper() + text[1:], 15000)  # fmt: skip

    def _show(self) -> None:
        self.bar.setRange(0, max(1, self.pending))
        self.bar.setValue(self.done)
        self.bar.setVisible(self.done < self.pending)
        if self.done < self.pending:
            return
        states = ", ".join(f"{n} {s}" for s, n in sorted(self.states.items()))
        self.message = f"faces of {self.done} imported image(s) found ({states or 'already stored'})"  # fmt: skip
        self._say(self.message)
        self.finished.emit(self.done, dict(self.states), "")
        self.pending, self.done, self.states = 0, 0, {}


def _detect_one(root: Any, item: tuple[int, Any, str], token: CancelToken) -> dict[str, Any] | None:  # fmt: skip
    """Worker thread: detect and store one image's face; None when the queue was cancelled."""
    from core.face.store import detect_and_store

    if token.cancelled:
        return None
    steps = list(detect_and_store(root, [item]))  # a handful of steps: one image
    return dict(steps[-1].info) if steps else None


__all__ = ["ImportChoice", "ImportDialog", "FaceQueue", "aligned_import"]
