"""The scene items of one open image: the image pixmap and the overlay layers.

Listens to document changes and re-renders only the dirty region of the affected
overlays, then repaints only that region.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene

from core.classes import CLASSES

from .layers import LAYERS, LayersModel
from .overlay import (
    OverlayImage,
    OverlayItem,
    Region,
    compose_gray,
    compose_magnitudes,
    compose_masks,
)

#: Colour of the exclusion mask in the rough layer (Okabe-Ito bluish green, over both classes).
EXCLUDE_COLOR = "#009E73"
#: Layers whose buffers are made and filled only while they are visible.
LAZY_LAYERS = frozenset({"texture", "prediction"})


def texture_to_uint8(texture: np.ndarray) -> np.ndarray:
    """Scale a float texture map to uint8 for display (robust to outliers)."""
    t = np.asarray(texture, dtype=np.float32)
    hi = float(np.percentile(t[:: max(1, t.shape[0] // 256), :: max(1, t.shape[1] // 256)], 99.5))
    if hi <= 0:
        return np.zeros(t.shape, dtype=np.uint8)
    return np.clip(t * (255.0 / hi), 0, 255).astype(np.uint8)


def rgb_qimage(image: np.ndarray) -> QImage:
    """A QImage copy of an ``(M, N, 3) uint8`` array."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    rows, cols = image.shape[:2]
    return QImage(image.data, cols, rows, cols * 3, QImage.Format.Format_RGB888).copy()


class LayerStack(QObject):
    """Owns the image and overlay items of the open document in a scene."""

    def __init__(self, scene: QGraphicsScene, layers: LayersModel) -> None:
        super().__init__(scene)
        self.scene = scene
        self.layers = layers
        self.document: Any = None
        self.texture_class: str = CLASSES[0]
        self.image_view: str = "colour"  # a core.views view of the image layer
        self._texture_u8: dict[str, np.ndarray] = {}
        self.image_item: QGraphicsPixmapItem | None = None
        self.overlays: dict[str, OverlayImage] = {}
        self.items: dict[str, OverlayItem] = {}
        self._stale: set[str] = set()
        layers.layerChanged.connect(self._apply_layer_state)
        layers.colorsChanged.connect(self.render_all)
        layers.predictionChanged.connect(lambda: self.render("prediction"))

    # -- document --------------------------------------------------------------

    def set_document(self, document: Any) -> None:
        """Show ``document`` (None clears the scene)."""
        for item in [self.image_item, *self.items.values()]:
            if item is not None:
                self.scene.removeItem(item)
        self.image_item = None
        self.items.clear()
        self.overlays.clear()
        self._texture_u8.clear()
        self.document = document
        if document is None:
            return
        self.image_item = QGraphicsPixmapItem(QPixmap.fromImage(rgb_qimage(self._view_pixels())))
        self.image_item.setZValue(0)
        self.scene.addItem(self.image_item)
        for name in ("rough", "gt"):
            self._ensure(name)
        # Texture and prediction buffers are made the first time they are shown
        # (each is 4 bytes per pixel: 96 MB at 6000x4000).
        self._stale.update(LAZY_LAYERS)
        for name in LAYERS:
            self._apply_layer_state(name)
        self.render_all()

    def _ensure(self, name: str) -> None:
        if name in self.overlays or self.document is None:
            return
        overlay = OverlayImage(self.document.shape[:2])
        item = OverlayItem(overlay)
        item.setZValue(LAYERS.index(name))
        state = self.layers.state(name)
        item.setVisible(state.visible)
        item.setOpacity(state.opacity)
        self.overlays[name] = overlay
        self.items[name] = item
        self.scene.addItem(item)

    def on_change(self, change: Any) -> None:
        """Apply a ``DocumentChange`` from the document bridge."""
        if self.document is None:
            return
        if change.kind == "rough" and change.rect is not None:
            region = change.rect.slices
            self.render("rough", region)
            self.render("gt", region)
        elif change.kind == "params":
            self._texture_u8.clear()
            self.render("texture")
            self.render("gt")
        else:
            self._texture_u8.clear()
            self.render_all()

    def _view_pixels(self) -> np.ndarray:
        from core.views import skin_view

        doc = self.document
        return doc.image if self.image_view == "colour" else skin_view(doc.image, self.image_view)

    def set_image_view(self, view: str) -> None:
        """Show the image layer through a view-only filter (:mod:`core.views`)."""
        from core.views import VIEWS

        if view not in VIEWS:
            raise ValueError(f"unknown image view {view!r}; choose one of {', '.join(VIEWS)}")
        if view == self.image_view:
            return
        self.image_view = view
        if self.image_item is not None and self.document is not None:
            self.image_item.setPixmap(QPixmap.fromImage(rgb_qimage(self._view_pixels())))

    def cycle_image_view(self) -> str:
        """Next view (colour → gray → green → CLAHE → colour); returns its name."""
        from core.views import VIEWS

        self.set_image_view(VIEWS[(VIEWS.index(self.image_view) + 1) % len(VIEWS)])
        return self.image_view

    def set_texture_class(self, cls: str) -> None:
        if cls not in CLASSES:
            return  # the exclusion mask has no texture map: keep the last class's
        if cls != self.texture_class:
            self.texture_class = cls
            self.render("texture")

    # -- rendering ---------------------------------------------------------------

    def render_all(self) -> None:
        for name in LAYERS[1:]:
            self.render(name)

    def render(self, name: str, region: Region | None = None) -> None:
        """Recompute overlay ``name`` inside ``region`` (None = all) and repaint it."""
        doc = self.document
        if doc is None or name not in LAYERS[1:]:
            return
        if name in LAZY_LAYERS and not self.layers.state(name).visible:
            # Full-image layers that are hidden are rendered when shown again.
            self._stale.add(name)
            return
        self._ensure(name)
        if region is None:
            self._stale.discard(name)
        sl = region if region is not None else (slice(0, doc.shape[0]), slice(0, doc.shape[1]))
        colors = [self.layers.color(cls) for cls in CLASSES]
        target = self.overlays[name].array
        if name == "rough":
            masks = [doc.rough(cls)[sl] for cls in CLASSES] + [doc.exclude[sl]]
            target[sl] = compose_masks(masks, [*colors, EXCLUDE_COLOR])
        elif name == "gt":
            target[sl] = compose_magnitudes([doc.gt(cls)[sl] for cls in CLASSES], colors)
        elif name == "texture":
            target[sl] = compose_gray(self._texture(self.texture_class)[sl], alpha=255)
        elif name == "prediction":
            maps = self.layers.prediction()
            if maps is None or any(m.shape != tuple(doc.shape[:2]) for m in maps.values()):
                target[sl] = 0
            else:
                zero = np.zeros(doc.shape[:2], dtype=np.uint8)
                target[sl] = compose_magnitudes(
                    [maps.get(cls, zero)[sl] for cls in CLASSES], colors
                )
        self.items[name].update_region(region)

    def _texture(self, cls: str) -> np.ndarray:
        if cls not in self._texture_u8:
            textures = self.document.textures
            self._texture_u8[cls] = texture_to_uint8(getattr(textures, cls))
        return self._texture_u8[cls]

    def _apply_layer_state(self, name: str) -> None:
        state = self.layers.state(name)
        item = self.image_item if name == "image" else self.items.get(name)
        if item is not None:
            item.setVisible(state.visible)
            item.setOpacity(state.opacity)
        if state.visible and name in self._stale:
            self.render(name)
