"""The model history dock: every trained model with its metrics; roll back.

Lists ``Project.models()`` (the current one marked), with the validation IoU each
model reached and whether it replaced the model before it. "Roll back" returns to the
model that was current before (or to the baselines), "Use selected" makes any listed
model current, "Use baselines" goes back to image-processing pre-labels, "Add…" registers
a checkpoint folder trained elsewhere and makes it current. Changes are written through
the session's writer; then pre-labels are refreshed for new images.

A checkpoint is untrusted (it may come from another lab or workstation, or have been
edited since it was registered): before a model becomes current it is verified on a
worker thread (:func:`core.model.checkpoint.verify_checkpoint`: config schema, weights
file and tensor shapes). A bad one is refused with a one-line message (:attr:`refused`,
shown by the window) and the current model stays.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..fit import fit_table

if TYPE_CHECKING:
    from core.project.models import ModelRecord

    from ..parts import Frame
    from ..session import AnnotationSession
    from .prelabel_worker import PrelabelController
    from .retraining import RetrainController

COLUMNS = (
    "",
    "Model",
    "Added\n(UTC)",
    "IoU\nwrinkle",
    "IoU\npore",
    "IoU\nmean",
    "Val\nimages",
    "Note",
)


def _number(value: Any) -> str:
    return "—" if not isinstance(value, int | float) else f"{float(value):.3f}"


class ModelHistoryView(QWidget):
    """Table of the project's models and the rollback buttons."""

    #: () the current model changed here.
    modelChanged = Signal()
    #: (message) a checkpoint was refused; the current model stays.
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: AnnotationSession | None = None
        self.models: list[ModelRecord] = []
        self.current_id: int | None = None
        self._seq = itertools.count()
        self.last_refusal = ""
        self.current = QLabel("")
        self.current.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setToolTip("Every model trained in this project; ● marks the one in use")
        fit_table(self.table)
        self.rollback_button = QPushButton("Roll back")
        self.rollback_button.setToolTip("Go back to the model that was current before")
        self.use_button = QPushButton("Use selected")
        self.baseline_button = QPushButton("Use baselines")
        self.use_button.setToolTip("Make the selected model the one that pre-labels")
        self.baseline_button.setToolTip(
            "Pre-label with the Frangi / k-means baselines instead of a trained model"
        )
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip(
            "Register a checkpoint folder trained elsewhere and use it for pre-labels "
            "(it is verified first)"
        )
        buttons = QHBoxLayout()
        for b in (self.rollback_button, self.use_button, self.baseline_button, self.add_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.current)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.rollback_button.clicked.connect(lambda: self.roll_back())
        self.use_button.clicked.connect(self.use_selected)
        self.baseline_button.clicked.connect(lambda: self.use_model(None))
        self.add_button.clicked.connect(self.choose_checkpoint)

    def attach(self, session: AnnotationSession | None) -> None:
        if self.session is not None:
            self.session.writer.written.disconnect(self._on_written)
        self.session = session
        if session is not None:
            session.writer.written.connect(self._on_written)
        self.refresh()

    def refresh(self) -> None:
        from core.assist.prelabel import describe_source, source_for

        s = self.session
        self.models = [] if s is None else list(s.project.models())
        current = None if s is None else s.project.current_model()
        self.current_id = None if current is None else current.id
        ro = s is None or s.read_only
        for b in (self.rollback_button, self.use_button, self.baseline_button, self.add_button):
            b.setEnabled(not ro)
        self.rollback_button.setEnabled(not ro and current is not None)
        self.baseline_button.setEnabled(not ro and current is not None)
        if s is not None:
            self.current.setText(f"Pre-labels from: {describe_source(source_for(s.project).name)}")
        else:
            self.current.setText("")
        self.table.setRowCount(len(self.models))
        bold = QFont()
        bold.setBold(True)
        for row, m in enumerate(reversed(self.models)):
            metrics = dict(m.metrics)
            note = m.note or str(metrics.get("reason", ""))
            cells = (
                "●" if m.id == self.current_id else "",
                f"#{m.id}",
                str(m.added).rstrip("Z")[:16].replace("T", "\n"),  # day over minute: narrow dock
                _number(metrics.get("iou_wrinkle")),
                _number(metrics.get("iou_pore")),
                _number(metrics.get("iou_mean")),
                str(metrics.get("val_images", "—")),
                note,
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, m.id)
                item.setToolTip(str(m.path))
                if m.id == self.current_id:
                    item.setFont(bold)
                self.table.setItem(row, col, item)
        fit_table(self.table)

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return None if not items else int(items[0].data(Qt.ItemDataRole.UserRole))

    def use_selected(self) -> None:
        model_id = self.selected_id()
        if model_id is not None:
            self.use_model(model_id)

    def use_model(self, model_id: int | None) -> None:
        """Make ``model_id`` current (None: the baselines), once its checkpoint is verified."""
        from core.assist.retrain import make_current, rollback

        s = self.session
        if s is None or s.read_only:
            return
        project = s.project
        if model_id is None:
            self._submit(lambda: make_current(project, None))
            return
        record = next((m for m in self.models if m.id == model_id), None)
        if record is None:
            return
        self._verify_then(record.path, f"Model #{model_id}", lambda: rollback(project, model_id))

    def roll_back(self) -> None:
        """Go back to the model that was current before the current one (verified first)."""
        from core.assist.retrain import rollback, rollback_target
        from core.errors import SkinTraceError

        s = self.session
        if s is None or s.read_only or self.current_id is None:
            return
        project = s.project
        try:
            target = rollback_target(project)
        except SkinTraceError as exc:
            self._refuse(str(exc))
            return
        record = next((m for m in self.models if m.id == target), None)
        if record is None:  # back to the baselines: nothing to verify
            self._submit(lambda: rollback(project))
            return
        self._verify_then(record.path, f"Model #{target}", lambda: rollback(project))

    def choose_checkpoint(self) -> None:
        """Ask for a checkpoint folder and add it (see :meth:`add_checkpoint`)."""
        folder = QFileDialog.getExistingDirectory(self, "Add a checkpoint folder")
        if folder:
            self.add_checkpoint(folder)

    def add_checkpoint(self, folder: str | Path) -> None:
        """Verify a checkpoint folder, register it in the project and make it current."""
        from core.assist.retrain import make_current

        s = self.session
        if s is None or s.read_only:
            return
        project = s.project
        path = Path(folder).absolute()

        def register() -> int:
            model_id = int(project.add_model(path, {}, note=f"added from {path}"))
            make_current(project, model_id)
            return model_id

        self._verify_then(path, "The checkpoint", register)

    def _verify_then(self, path: Path, label: str, job: Callable[[], Any]) -> None:
        """Verify ``path`` on a worker thread; then write ``job``, or refuse with a message."""
        from ..workers import run_function

        def verify() -> None:
            from core.model.checkpoint import verify_checkpoint

            verify_checkpoint(path)

        def failed(message: str) -> None:
            self._refuse(f"{label} was not used: {message}. The current model stays.")

        run_function(verify, on_done=lambda _r: self._submit(job), on_error=failed)

    def _refuse(self, message: str) -> None:
        self.last_refusal = message
        self.refused.emit(message)

    def _submit(self, job: Callable[[], Any]) -> None:
        s = self.session
        if s is not None and not s.read_only:
            s.writer.submit(("model_current", next(self._seq)), job)

    def _on_written(self, key: Any, _result: Any) -> None:
        if key[0] == "model_current":
            self.refresh()
            self.modelChanged.emit()
        elif key[0] == "retrain_register":
            self.refresh()


def install(
    frame: Frame, prelabels: PrelabelController, training: RetrainController
) -> ModelHistoryView:
    """Build the model history dock and connect it to pre-labels and retraining."""
    view = ModelHistoryView()
    dock = frame.add_tabbed_dock("Models", view, "models", beside="params")
    menu = frame.menus.model
    menu.addAction(frame.registry.add("model_rollback", "Roll &back model", view.roll_back))
    menu.addAction(frame.registry.add("model_add", "&Add checkpoint…", view.choose_checkpoint))
    view.refused.connect(frame.notifier.report)
    menu.addAction(dock.toggleViewAction())
    view.modelChanged.connect(prelabels.refresh_source)
    training.finished.connect(lambda _r: view.refresh())
    frame.session_changed.connect(view.attach)
    view.attach(None)
    return view
