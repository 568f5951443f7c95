"""The Training dock: the retraining step, epoch, loss and IoU with a small live plot.

:class:`~.retraining.RetrainController` (app/gui/assist/retraining.py) runs the retraining itself.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..workers import describe_error
from .metrics_plot import MetricsPlot
from .retraining import RECOMMENDED_ACCEPTED, RetrainController

if TYPE_CHECKING:
    from ..parts import Frame
    from ..session import AnnotationSession
    from .prelabel_worker import PrelabelController


class TrainingPanel(QWidget):
    """Retraining dock: start/cancel, options, step, epoch, loss, IoU and a live plot."""

    def __init__(self, controller: RetrainController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.state = QLabel("idle")
        self.epoch = QLabel("—")
        self.loss = QLabel("—")
        self.iou = QLabel("—")
        #: The last run's verdict (replaced / kept / cancelled / failed), at the top.
        self.result = QLabel("")
        self.result.setObjectName("training_verdict")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        #: Says when too few images are accepted to train on.
        self.warning = QLabel("")
        self.warning.setObjectName("training_warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #D55E00;")
        self.plot = MetricsPlot()
        self.start_button = QPushButton("Retrain now")
        self.cancel_button = QPushButton("Cancel")
        self.start_button.setToolTip(
            "Train a new model on the accepted images now (Ctrl+Shift+T); it replaces "
            "the current one only if it scores better"
        )
        self.cancel_button.setToolTip("Stop the training; the current model stays")
        self.after = QSpinBox()
        self.after.setRange(0, 10000)
        self.after.setSpecialValueText("only on demand")
        self.after.setSuffix(" accepted")
        self.after.setToolTip("Retrain automatically after this many newly accepted images")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setToolTip("How many passes over the accepted images one training makes")
        from core.assist.retrain import DECISION_METRICS

        self.decide_by = QComboBox()
        for key, label in DECISION_METRICS.items():
            self.decide_by.addItem(label, key)
        self.decide_by.setToolTip(
            "The validation score a new model must beat the current one on: IoU (the "
            "paper's) or a score that forgives 1-3 px offsets of thin structures"
        )
        form = QFormLayout()
        form.addRow("Step", self.state)
        form.addRow("Epoch", self.epoch)
        form.addRow("Loss", self.loss)
        form.addRow("IoU", self.iou)
        form.addRow("Retrain after", self.after)
        form.addRow("Epochs", self.epochs)
        form.addRow("Decide by", self.decide_by)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        # what matters first: the verdict, the warning, the buttons; the details below
        layout.addWidget(self.result)
        layout.addWidget(self.warning)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(self.plot, 1)
        self.start_button.clicked.connect(controller.start)
        self.cancel_button.clicked.connect(controller.cancel)
        self.after.valueChanged.connect(self._store_after)
        self.epochs.valueChanged.connect(self._store_epochs)
        self.decide_by.currentIndexChanged.connect(self._store_metric)
        controller.stateChanged.connect(self._on_state)
        controller.epochReported.connect(self._on_epoch)
        controller.finished.connect(self._on_finished)
        controller.acceptedChanged.connect(self.update_warning)
        self._loading = False
        self._on_state("idle")

    def load_settings(self) -> None:
        """Show the project's retraining settings (after a session change)."""
        from core.assist.retrain import TrainOptions, retrain_after

        s = self.controller.session
        self.setEnabled(s is not None and not s.read_only)
        self._clear_run()  # the last run shown was another project's
        if s is None:
            return
        self._loading = True
        try:
            self.after.setValue(retrain_after(s.project))
            opts = TrainOptions.from_project(s.project)
            self.epochs.setValue(opts.config.epochs)
            self.decide_by.setCurrentIndex(max(0, self.decide_by.findData(opts.decision_metric)))
        except Exception as exc:  # a bad stored setting must not break the window
            self.result.setText(describe_error(exc))
        finally:
            self._loading = False

    def _store(self, key: str, value: Any) -> None:
        s = self.controller.session
        if self._loading or s is None or s.read_only:
            return
        project = s.project
        s.writer.submit(("setting", key), lambda: project.set_setting(key, value))

    def _store_after(self, value: int) -> None:
        from core.assist.retrain import SETTING_AFTER

        self._store(SETTING_AFTER, int(value))

    def _store_epochs(self, value: int) -> None:
        from core.assist.retrain import store_train_config

        s = self.controller.session
        if self._loading or s is None or s.read_only:
            return
        project, epochs = s.project, int(value)
        s.writer.submit(
            ("setting", "train_config"), lambda: store_train_config(project, epochs=epochs)
        )

    def _store_metric(self, _index: int) -> None:
        self._store_option("decision_metric", str(self.decide_by.currentData()))

    def _store_option(self, key: str, value: Any) -> None:
        from core.assist.retrain import SETTING_OPTIONS

        s = self.controller.session
        if self._loading or s is None:
            return
        options = dict(s.project.get_setting(SETTING_OPTIONS, {}) or {})
        options[key] = value
        self._store(SETTING_OPTIONS, options)

    def _on_state(self, state: str) -> None:
        self.state.setText("cancelling…" if state == "cancelling" else state)
        running = state != "idle"
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running and state != "cancelling")
        if state == "exporting":
            self._clear_run()

    def _clear_run(self) -> None:
        for label in (self.epoch, self.loss, self.iou):
            label.setText("—")
        self.result.setText("")
        self.plot.set_records([])

    def _on_epoch(self, record: dict[str, Any]) -> None:
        self.epoch.setText(f"{record.get('epoch')}/{record.get('epochs')}")
        self.loss.setText(
            f"train {float(record.get('train_loss', 0)):.4f}, "
            f"val {float(record.get('val_loss', 0)):.4f}"
        )
        self.iou.setText(
            f"wrinkle {float(record.get('iou_wrinkle', 0)):.3f}, "
            f"pore {float(record.get('iou_pore', 0)):.3f}"
        )
        self.plot.set_records(self.controller.records)

    def _on_finished(self, result: dict[str, Any]) -> None:
        outcome = result["outcome"]
        color = {"replaced": "#009E73", "kept": "#0072B2"}.get(outcome, "#D55E00")
        title = {
            "replaced": "New model in use",
            "kept": "Current model kept",
            "cancelled": "Cancelled",
            "failed": "Failed",
        }.get(outcome, outcome)
        self.result.setText(
            f'<b style="color:{color}">{title}</b> ({outcome}): {html.escape(result["message"])}'
        )

    def update_warning(self) -> None:
        """Warn while fewer images are accepted than retraining needs or is worth."""
        from core.assist.retrain import MIN_IMAGES

        n = self.controller.accepted_count()
        if self.controller.session is None or n >= RECOMMENDED_ACCEPTED:
            self.warning.setText("")
            self.warning.hide()
            return
        need = (
            f"retraining needs at least {MIN_IMAGES}"
            if n < MIN_IMAGES
            else f"a model learns little from so few: {RECOMMENDED_ACCEPTED} or more are"
            " recommended"
        )
        self.warning.setText(
            f"⚠ {n} accepted image{'s' if n != 1 else ''}: {need} "
            f"(accept annotated images in review mode, Ctrl+R)."
        )
        self.warning.show()


def install(frame: Frame, prelabels: PrelabelController) -> tuple[RetrainController, TrainingPanel]:
    """Build background retraining: controller, dock, Model menu actions."""
    controller = RetrainController(frame.status, frame.notifier, frame.window)
    panel = TrainingPanel(controller)
    frame.add_tabbed_dock("Training", panel, "training", beside="params")
    menu = frame.menus.model
    reg = frame.registry
    menu.addAction(reg.add("retrain", "&Retrain now", controller.start, "Ctrl+Shift+T"))
    menu.addAction(reg.add("retrain_cancel", "&Cancel retraining", controller.cancel))
    controller.modelChanged.connect(prelabels.refresh_source)

    def on_session(session: AnnotationSession | None) -> None:
        controller.attach(session)
        panel.load_settings()

    frame.session_changed.connect(on_session)
    on_session(None)
    return controller, panel
