"""GT parameters dock: σ, thresholds and gains on sliders with numbers.

Edits are debounced and emitted as one :attr:`ParamsPanel.paramsEdited` with the
scope the user chose: the project default or an override for this image. The two
thresholds have an "Auto" box (calibrated per image, the default); while it is on, the
number shows the value the rule chose for the open image, and unticking it keeps that
number as a fixed threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

DEBOUNCE_MS = 200
#: Parameters that may be None: calibrated per image ("Auto").
AUTO_PARAMS = ("wrinkle_threshold", "pore_threshold")


@dataclass(frozen=True)
class ParamSpec:
    """How one GT parameter is edited: label, slider range, spin range, step."""

    label: str
    slider: tuple[float, float]
    spin: tuple[float, float]
    step: float
    decimals: int
    tip: str = ""


SPECS: dict[str, ParamSpec] = {
    "sigma": ParamSpec(
        "Wrinkle scale σ",
        (0.5, 30),
        (0.1, 100),
        0.1,
        1,
        "Width in pixels of the blur the wrinkle map compares against (Gaussian σ of "
        "Eq. 1, T = I_σ / I): larger finds wider, deeper wrinkles",
    ),
    "wrinkle_threshold": ParamSpec(
        "Wrinkle threshold",
        (0, 128),
        (0, 255),
        0.5,
        1,
        "Wrinkle-map values at or below this are dropped from the ground truth "
        "(threshold of Eq. 1); higher keeps only the strongest lines",
    ),
    "pore_threshold": ParamSpec(
        "Pore threshold",
        (0, 32),
        (0, 255),
        0.1,
        1,
        "Pore-map values at or below this, in gray levels, are dropped from the ground "
        "truth (Th of Eq. 2, the Laplacian pyramid); higher keeps only the darkest pores",
    ),
    "wrinkle_gain": ParamSpec(
        "Wrinkle strength",
        (0.1, 16),
        (0.01, 255),
        0.1,
        2,
        "How strong the wrinkle ground truth is drawn: GT magnitude = gain × T (Eq. 1)",
    ),
    "pore_gain": ParamSpec(
        "Pore strength",
        (0.1, 64),
        (0.01, 255),
        0.1,
        2,
        "How strong the pore ground truth is drawn: GT magnitude = gain × T (Eq. 2)",
    ),
}


def spec_for(name: str) -> ParamSpec:
    return SPECS.get(
        name, ParamSpec(name.replace("_", " ").capitalize(), (0, 100), (0, 1e6), 0.1, 2)
    )


class _ParamRow(QWidget):
    """A slider and a spin box showing the same value (and an "Auto" box if ``auto``)."""

    valueChanged = Signal()

    def __init__(
        self, spec: ParamSpec, parent: QWidget | None = None, *, auto: bool = False
    ) -> None:
        super().__init__(parent)
        self.spec = spec
        self.auto: QCheckBox | None = None
        self.chosen: float | None = None
        self.slider = QSlider(Qt.Orientation.Horizontal)
        lo, hi = spec.slider
        self.slider.setRange(0, round((hi - lo) / spec.step))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(*spec.spin)
        self.spin.setDecimals(spec.decimals)
        self.spin.setSingleStep(spec.step)
        self.spin.setKeyboardTracking(False)
        self.spin.setMinimumWidth(72)
        for w in (self.slider, self.spin):
            w.setToolTip(spec.tip)
        self.spin.setAccelerated(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        if auto:
            self.auto = QCheckBox("Auto")
            self.auto.setToolTip(
                "Calibrate this threshold on each image (the number shows what it chose); "
                "untick to keep a fixed number"
            )
            layout.addWidget(self.auto)
            self.auto.toggled.connect(self._from_auto)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def value(self) -> float | None:
        """The number, or None while "Auto" is ticked."""
        if self.auto is not None and self.auto.isChecked():
            return None
        return float(self.spin.value())

    def set_value(self, value: float | None) -> None:
        widgets: list[QWidget] = [self.slider, self.spin]
        if self.auto is not None:
            widgets.append(self.auto)
        for w in widgets:
            w.blockSignals(True)
        if self.auto is not None:
            self.auto.setChecked(value is None)
        shown = self.chosen if value is None else value
        if shown is not None:
            self.spin.setValue(shown)
            self.slider.setValue(self._slider_pos(shown))
        self._enable_number()
        for w in widgets:
            w.blockSignals(False)

    def set_chosen(self, chosen: float | None) -> None:
        """The value the per-image rule chose; shown in the number while "Auto" is on."""
        self.chosen = chosen
        if self.auto is not None and self.auto.isChecked() and chosen is not None:
            self.set_value(None)

    def _enable_number(self) -> None:
        fixed = self.auto is None or not self.auto.isChecked()
        self.slider.setEnabled(fixed)
        self.spin.setEnabled(fixed)

    def _from_auto(self, _on: bool) -> None:
        self._enable_number()
        self.valueChanged.emit()

    def _slider_pos(self, value: float) -> int:
        lo, hi = self.spec.slider
        return round((min(hi, max(lo, value)) - lo) / self.spec.step)

    def _from_slider(self, pos: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(self.spec.slider[0] + pos * self.spec.step)
        self.spin.blockSignals(False)
        self.valueChanged.emit()

    def _from_spin(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._slider_pos(value))
        self.slider.blockSignals(False)
        self.valueChanged.emit()


class ParamsPanel(QWidget):
    """Shows the effective parameters of the open image and emits edits."""

    #: (new params, image id or None for the project default), after the debounce.
    paramsEdited = Signal(object, object)
    #: the user asked to drop this image's override.
    overrideCleared = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._params: Any = None
        self._image_id: Any = None
        self.rows: dict[str, _ParamRow] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        scope_row = QHBoxLayout()
        self.scope = QComboBox()
        self.scope.addItem("Project default", "project")
        self.scope.addItem("This image only", "image")
        self.scope.setToolTip(
            "Where edits are stored: the project default (every image without its own "
            "values) or this image only"
        )
        scope_label = QLabel("Apply to")
        scope_label.setToolTip(self.scope.toolTip())
        scope_row.addWidget(scope_label)
        scope_row.addWidget(self.scope, 1)
        layout.addLayout(scope_row)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        self.chosen_label = QLabel("")
        self.chosen_label.setWordWrap(True)
        self.chosen_label.setToolTip(
            "Thresholds set to Auto follow each image: pores at 0.3 × the 99th percentile "
            "of the Eq. 2 response, wrinkles at 40 % of the local Eq. 1 peak (8–20, median "
            "shown); see docs/ground-truth.md"
        )
        layout.addWidget(self.chosen_label)
        self.override_label = QLabel("")
        self.override_label.setWordWrap(True)
        self.reset_button = QPushButton("Use project default")
        self.reset_button.setToolTip(
            "Drop this image's own values: it uses the project default again"
        )
        self.reset_button.clicked.connect(lambda: self.overrideCleared.emit(self._image_id))
        layout.addWidget(self.override_label)
        layout.addWidget(self.reset_button)
        layout.addStretch(1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._emit)
        self.setEnabled(False)

    def show_params(self, params: Any, *, image_id: Any, has_override: bool) -> None:
        """Display ``params`` (a GTParams) of image ``image_id``."""
        self._timer.stop()
        self._params = params
        self._image_id = image_id
        if not self.rows:
            for f in dataclasses.fields(params):
                row = _ParamRow(spec_for(f.name), auto=f.name in AUTO_PARAMS)
                row.valueChanged.connect(self._timer.start)
                label = QLabel(spec_for(f.name).label)
                label.setToolTip(spec_for(f.name).tip)
                label.setBuddy(row.spin)
                self.form.addRow(label, row)
                self.rows[f.name] = row
        for name, row in self.rows.items():
            value = getattr(params, name)
            row.set_value(None if value is None else float(value))
        self.scope.setCurrentIndex(1 if has_override else 0)
        self._show_override(has_override)
        self.setEnabled(True)

    def show_chosen(self, chosen: Mapping[str, float]) -> None:
        """Show the thresholds the per-image rule chose for the open image.

        ``chosen`` maps a parameter name (``"pore_threshold"``, ...) to the value in force
        (see :meth:`core.gt.document.AnnotationDocument.chosen_threshold`).
        """
        for name, value in chosen.items():
            row = self.rows.get(name)
            if row is not None:
                row.set_chosen(float(value))
        parts = [
            f"{spec_for(name).label.split(' (')[0]} {value:.2f}"
            for name, value in chosen.items()
            if name in self.rows and self.rows[name].value() is None
        ]
        self.chosen_label.setText("Auto chose for this image: " + ", ".join(parts) if parts else "")

    def flush(self) -> None:
        """Emit a pending edit now (e.g. before switching images)."""
        if self._timer.isActive():
            self._timer.stop()
            self._emit()

    def _emit(self) -> None:
        if self._params is None:
            return
        values = {name: row.value() for name, row in self.rows.items()}
        try:
            params = type(self._params).from_dict({**self._params.to_dict(), **values})
        except ValueError as exc:  # GTParamsError is a ValueError
            self.override_label.setText(str(exc))
            return
        if params == self._params:
            return
        self._params = params
        scope = self.scope.currentData()
        if scope == "image":  # the edit made (or changed) this image's override
            self._show_override(True)
        self.paramsEdited.emit(params, self._image_id if scope == "image" else None)

    def _show_override(self, has_override: bool) -> None:
        self.reset_button.setEnabled(has_override)
        self.override_label.setText(
            "This image has its own parameters." if has_override else "Using the project default."
        )
