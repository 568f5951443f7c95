"""GT parameters dock: σ, thresholds and gains on sliders with numbers.

Edits are debounced and emitted as one :attr:`ParamsPanel.paramsEdited` with the
scope the user chose: the project default or an override for this image.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
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
    """A slider and a spin box showing the same value."""

    valueChanged = Signal()

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
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
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, value: float) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(value)
        self.slider.setValue(self._slider_pos(value))
        for w in (self.slider, self.spin):
            w.blockSignals(False)

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
                row = _ParamRow(spec_for(f.name))
                row.valueChanged.connect(self._timer.start)
                label = QLabel(spec_for(f.name).label)
                label.setToolTip(spec_for(f.name).tip)
                label.setBuddy(row.spin)
                self.form.addRow(label, row)
                self.rows[f.name] = row
        for name, row in self.rows.items():
            row.set_value(float(getattr(params, name)))
        self.scope.setCurrentIndex(1 if has_override else 0)
        self._show_override(has_override)
        self.setEnabled(True)

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
