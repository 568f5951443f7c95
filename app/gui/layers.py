"""The layers model: which overlays are shown, how opaque, and in which colours."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.classes import CLASSES

from .resources import default_settings

LayerName = Literal["image", "rough", "texture", "gt", "prediction"]

#: Bottom to top drawing order.
LAYERS: tuple[LayerName, ...] = ("image", "rough", "texture", "gt", "prediction")

LAYER_TITLES: dict[str, str] = {
    "image": "Image",
    "rough": "Rough masks",
    "texture": "Texture map",
    "gt": "Ground truth",
    "prediction": "Prediction",
}

#: What each layer shows and how it is drawn (the Layers panel's tooltips; R / G / T /
#: Shift+P toggle them).
LAYER_TIPS: dict[str, str] = {
    "image": "The photo (always under the overlays)",
    "rough": "Your painted rough masks: outlined and hatched in the class colour (R)",
    "texture": "The texture map of the active class, in gray (T)",
    "gt": "Ground truth = texture map × rough mask: solid class colour (G)",
    "prediction": "The pre-label: outlines around what it marks, empty inside, so it never "
    "looks painted (Shift+P)",
}

#: Okabe-Ito colour-blind-safe defaults per class (resources/default_settings.json).
DEFAULT_COLORS: dict[str, str] = dict(default_settings()["colors"])

_DEFAULT_STATE: dict[str, tuple[bool, float]] = {
    name: (bool(v["visible"]), float(v["opacity"]))
    for name, v in default_settings()["layers"].items()
}


@dataclass(frozen=True)
class LayerState:
    """Visibility and opacity (0-1) of one layer."""

    visible: bool
    opacity: float


class LayersModel(QObject):
    """Per-layer visibility/opacity, class colours and the prediction maps.

    ``prediction`` stays empty until something (the model-assisted features) feeds it
    maps with :meth:`set_prediction`; the canvas renders whatever is set.
    """

    layerChanged = Signal(str)
    colorsChanged = Signal()
    predictionChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state: dict[str, LayerState] = {
            name: LayerState(*_DEFAULT_STATE[name]) for name in LAYERS
        }
        self._colors: dict[str, str] = dict(DEFAULT_COLORS)
        self._prediction: dict[str, np.ndarray] | None = None

    def state(self, name: str) -> LayerState:
        return self._state[name]

    def set_visible(self, name: str, visible: bool) -> None:
        if self._state[name].visible != visible:
            self._state[name] = replace(self._state[name], visible=bool(visible))
            self.layerChanged.emit(name)

    def set_opacity(self, name: str, opacity: float) -> None:
        opacity = min(1.0, max(0.0, float(opacity)))
        if self._state[name].opacity != opacity:
            self._state[name] = replace(self._state[name], opacity=opacity)
            self.layerChanged.emit(name)

    def toggle(self, name: str) -> None:
        self.set_visible(name, not self._state[name].visible)

    def color(self, cls: str) -> str:
        return self._colors[cls]

    def colors(self) -> dict[str, str]:
        return dict(self._colors)

    def set_colors(self, colors: dict[str, str]) -> None:
        new: dict[str, str] = {cls: colors.get(cls, self._colors[cls]) for cls in CLASSES}
        if new != self._colors:
            self._colors = new
            self.colorsChanged.emit()

    def prediction(self) -> dict[str, np.ndarray] | None:
        """The prediction maps ``{cls: (M, N) uint8}`` shown by the prediction layer."""
        return self._prediction

    def set_prediction(self, maps: dict[str, np.ndarray] | None) -> None:
        """Show ``maps`` (uint8 magnitude per class, image shape) in the prediction layer."""
        if maps is not None:
            maps = {cls: np.asarray(maps[cls], dtype=np.uint8) for cls in CLASSES if cls in maps}
        self._prediction = maps
        self.predictionChanged.emit()
