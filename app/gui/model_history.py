"""The model history dock: every trained model with its metrics; roll back.

Lists ``Project.models()`` (the current one marked), with the validation IoU each
model reached and whether it replaced the model before it. "Roll back" returns to the
model that was current before (or to the baselines), "Use selected" makes any listed
model current, "Use baselines" goes back to image-processing pre-labels. Changes are
written through the session's writer; then pre-labels are refreshed for new images.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .fit import fit_table

if TYPE_CHECKING:
    from .main_window import MainWindow

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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: Any = None
        self.models: list[Any] = []
        self.current_id: int | None = None
        self._seq = itertools.count()
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
        buttons = QHBoxLayout()
        for b in (self.rollback_button, self.use_button, self.baseline_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.current)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.rollback_button.clicked.connect(lambda: self.roll_back())
        self.use_button.clicked.connect(self.use_selected)
        self.baseline_button.clicked.connect(lambda: self.use_model(None))

    def attach(self, session: Any) -> None:
        if self.session is not None:
            self.session.writer.written.disconnect(self._on_written)
        self.session = session
        if session is not None:
            session.writer.written.connect(self._on_written)
        self.refresh()

    def refresh(self) -> None:
        from core.prelabel import describe_source, source_for

        s = self.session
        self.models = [] if s is None else list(s.project.models())
        current = None if s is None else s.project.current_model()
        self.current_id = None if current is None else current.id
        ro = s is None or s.read_only
        for b in (self.rollback_button, self.use_button, self.baseline_button):
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
        """Make ``model_id`` current (None: the baselines)."""
        from core.retrain import make_current, rollback

        s = self.session
        if s is None or s.read_only:
            return
        project = s.project
        job = (
            (lambda: make_current(project, None))
            if model_id is None
            else (lambda: rollback(project, model_id))
        )
        s.writer.submit(("model_current", next(self._seq)), job)

    def roll_back(self) -> None:
        """Go back to the model that was current before the current one."""
        from core.retrain import rollback

        s = self.session
        if s is None or s.read_only or self.current_id is None:
            return
        project = s.project
        s.writer.submit(("model_current", next(self._seq)), lambda: rollback(project))

    def _on_written(self, key: Any, _result: Any) -> None:
        if key[0] == "model_current":
            self.refresh()
            self.modelChanged.emit()
        elif key[0] == "retrain_register":
            self.refresh()


def install(window: MainWindow) -> ModelHistoryView:
    """Mount the model history dock and connect it to pre-labels and retraining."""
    from .prelabel_worker import add_tabbed_dock, model_menu

    view = ModelHistoryView()
    window.model_history = view
    dock = add_tabbed_dock(window, "Models", view, "models", beside="params")
    menu = model_menu(window)
    menu.addAction(window.registry.add("model_rollback", "Roll &back model", view.roll_back))
    menu.addAction(dock.toggleViewAction())
    prelabels = getattr(window, "prelabels", None)
    if prelabels is not None:
        view.modelChanged.connect(prelabels.refresh_source)
    training = getattr(window, "training", None)
    if training is not None:
        training.finished.connect(lambda _r: view.refresh())
    window.sessionChanged.connect(view.attach)
    view.attach(window.session)
    return view
