"""Layers dock: a visibility checkbox and an opacity slider per layer."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSlider, QWidget

from core.classes import CLASSES

from .layers import LAYER_TIPS, LAYER_TITLES, LAYERS, LayersModel


class LayersPanel(QWidget):
    """Edits a :class:`LayersModel` and follows its changes."""

    def __init__(self, layers: LayersModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layers = layers
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 6, 6, 6)
        self.checks: dict[str, QCheckBox] = {}
        self.sliders: dict[str, QSlider] = {}
        for i, name in enumerate(LAYERS):
            check = QCheckBox(LAYER_TITLES[name])
            check.setToolTip(LAYER_TIPS[name])
            check.toggled.connect(lambda on, n=name: layers.set_visible(n, on))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setToolTip(f"{LAYER_TITLES[name]} opacity (0-100 %)")
            slider.valueChanged.connect(lambda v, n=name: layers.set_opacity(n, v / 100))
            grid.addWidget(check, i, 0)
            grid.addWidget(slider, i, 1)
            self.checks[name] = check
            self.sliders[name] = slider
        self.legend = QLabel()
        grid.addWidget(self.legend, len(LAYERS), 0, 1, 2)
        grid.setColumnStretch(1, 1)
        layers.layerChanged.connect(self._sync)
        layers.colorsChanged.connect(self._sync_legend)
        for name in LAYERS:
            self._sync(name)
        self._sync_legend()

    def _sync(self, name: str) -> None:
        state = self.layers.state(name)
        check, slider = self.checks[name], self.sliders[name]
        check.blockSignals(True)
        check.setChecked(state.visible)
        check.blockSignals(False)
        slider.blockSignals(True)
        slider.setValue(round(state.opacity * 100))
        slider.blockSignals(False)

    def _sync_legend(self) -> None:
        parts = [
            f'<span style="color:{self.layers.color(c)}; font-size:16px">&#9632;</span> {c}'
            for c in CLASSES
        ]
        self.legend.setText("&nbsp;&nbsp;".join(parts))
