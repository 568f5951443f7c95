"""The scene items of one open image: the image pixmap and the overlay layers.

Listens to document changes and re-renders only the dirty region of the affected
overlays, then repaints only that region.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QGraphicsScene

from core.classes import CLASSES

from .image_item import ImageItem, PreviewItem
from .layers import LAYERS, LayersModel
from .overlay import (
    GT_ALPHA_FLOOR,
    OverlayImage,
    OverlayItem,
    Region,
    compose_contours,
    compose_magnitudes,
    compose_rough,
)
from .workers import run_function

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


def _grown(region: Region, by: int, shape: tuple[int, int]) -> Region:
    """``region`` grown by ``by`` pixels on every side, inside an image of ``shape``."""
    rs, cs = region
    return (
        slice(max(0, rs.start - by), min(shape[0], rs.stop + by)),
        slice(max(0, cs.start - by), min(shape[1], cs.stop + by)),
    )


class GrayImage:
    """An ``(M, N)`` uint8 buffer shared with a Grayscale8 QImage (the texture layer):
    a quarter of an ARGB32 overlay's memory (24 MB instead of 96 MB at 6000x4000)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        rows, cols = int(shape[0]), int(shape[1])
        self.array = np.zeros((rows, cols), dtype=np.uint8)
        self.qimage = QImage(self.array.data, cols, rows, cols, QImage.Format.Format_Grayscale8)

    @property
    def shape(self) -> tuple[int, int]:
        return self.array.shape

    def clear(self) -> None:
        self.array.fill(0)


class LayerStack(QObject):
    """Owns the image and overlay items of the open document in a scene."""

    def __init__(self, scene: QGraphicsScene, layers: LayersModel) -> None:
        super().__init__(scene)
        self.scene = scene
        self.layers = layers
        self.document: Any = None
        self.texture_class: str = CLASSES[0]
        self.image_view: str = "colour"  # a core.gt.views view of the image layer
        self.image_item: ImageItem | None = None
        self.preview_item: PreviewItem | None = None
        self.overlays: dict[str, OverlayImage | GrayImage] = {}
        self.items: dict[str, OverlayItem] = {}
        self._stale: set[str] = set()
        layers.layerChanged.connect(self._apply_layer_state)
        layers.colorsChanged.connect(self.render_all)
        layers.predictionChanged.connect(lambda: self.render("prediction"))

    # -- document --------------------------------------------------------------

    def set_document(self, document: Any) -> None:
        """Show ``document`` (None clears the scene)."""
        for item in [self.image_item, self.preview_item, *self.items.values()]:
            if item is not None:
                self.scene.removeItem(item)
        self.image_item = self.preview_item = None
        self.items.clear()
        if self.overlays:
            # Freed in a worker: a 6000x4000 image's buffers (~120 MB) take milliseconds
            # to give back, the GUI thread's time in an image switch.
            retired = list(self.overlays.values())
            self.overlays.clear()
            run_function(retired.clear)
        self.document = document
        if document is None:
            return
        # Drawn from the document's own pixels (the colour view): no pixmap copy (96 MB
        # at 6000x4000).
        self.image_item = ImageItem(np.ascontiguousarray(self._view_pixels()))
        self.image_item.setZValue(0)
        self.scene.addItem(self.image_item)
        # Overlay buffers are made the first time they have something to show: texture
        # and prediction only while visible, rough and GT once painted (1 and 4 bytes
        # per pixel: 24 and 96 MB at 6000x4000).
        self._stale.update(LAZY_LAYERS)
        for name in LAYERS:
            self._apply_layer_state(name)
        self.render_all()

    def show_preview(self, preview: QImage, shape: tuple[int, int]) -> None:
        """Show a small ``preview`` stretched over ``shape`` while that image loads
        (the previous document is cleared)."""
        self.set_document(None)
        self.preview_item = PreviewItem(preview, shape)
        self.preview_item.setZValue(0)
        self.scene.addItem(self.preview_item)

    def _ensure(self, name: str) -> None:
        if name in self.overlays or self.document is None:
            return
        shape = self.document.shape[:2]
        overlay = GrayImage(shape) if name == "texture" else OverlayImage(shape)
        item = OverlayItem(overlay)  # type: ignore[arg-type]
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
            # a stroke moves the outline of the pixels next to it too
            self.render("rough", _grown(region, 1, self.document.shape[:2]))
            self.render("gt", region)
        elif change.kind == "params":
            self.render("texture")
            self.render("gt")
        else:
            self.render_all()

    def _view_pixels(self) -> np.ndarray:
        from core.gt.views import skin_view

        doc = self.document
        return doc.image if self.image_view == "colour" else skin_view(doc.image, self.image_view)

    def set_image_view(self, view: str) -> None:
        """Show the image layer through a view-only filter (:mod:`core.gt.views`)."""
        from core.gt.views import VIEWS

        if view not in VIEWS:
            raise ValueError(f"unknown image view {view!r}; choose one of {', '.join(VIEWS)}")
        if view == self.image_view:
            return
        self.image_view = view
        if self.image_item is not None and self.document is not None:
            self.image_item.set_array(np.ascontiguousarray(self._view_pixels()))

    def cycle_image_view(self) -> str:
        """Next view (colour → gray → green → CLAHE → colour); returns its name."""
        from core.gt.views import VIEWS

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
        if (name in LAZY_LAYERS and not self.layers.state(name).visible) or (
            name == "texture" and doc.textures is None
        ):
            # Full-image layers that are hidden (or whose maps are still being
            # computed) are rendered when shown (or computed).
            self._stale.add(name)
            return
        if region is None and name not in self.overlays and self._blank(name):
            # Nothing to draw yet: no buffer (96 MB at 6000x4000) until there is.
            self._stale.discard(name)
            return
        self._ensure(name)
        if region is None:
            self._stale.discard(name)
        sl = region if region is not None else (slice(0, doc.shape[0]), slice(0, doc.shape[1]))
        colors = [self.layers.color(cls) for cls in CLASSES]
        target = self.overlays[name].array
        if name == "rough":
            # one pixel of context around the region: the outline depends on neighbours
            rows, cols = doc.shape[:2]
            r0, r1 = max(0, sl[0].start - 1), min(rows, sl[0].stop + 1)
            c0, c1 = max(0, sl[1].start - 1), min(cols, sl[1].stop + 1)
            context = (slice(r0, r1), slice(c0, c1))
            layers = [doc.rough(cls)[context] for cls in CLASSES] + [doc.exclude[context]]
            masks = [np.pad(m, 1, mode="edge") for m in layers]
            styled = compose_rough(masks, [*colors, EXCLUDE_COLOR], origin=(r0, c0), pad=1)
            target[sl] = styled[
                sl[0].start - r0 : sl[0].stop - r0, sl[1].start - c0 : sl[1].stop - c0
            ]
        elif name == "gt":
            target[sl] = compose_magnitudes(
                [doc.gt(cls)[sl] for cls in CLASSES], colors, floor=GT_ALPHA_FLOOR
            )
        elif name == "texture":
            textures = doc.textures
            target[sl] = texture_to_uint8(getattr(textures, self.texture_class))[sl]
        elif name == "prediction":
            maps = self.layers.prediction()
            if maps is None or any(m.shape != tuple(doc.shape[:2]) for m in maps.values()):
                target[sl] = 0
            else:
                zero = np.zeros(doc.shape[:2], dtype=np.uint8)
                styled = compose_contours([maps.get(cls, zero) for cls in CLASSES], colors)
                target[sl] = styled[sl]
        self.items[name].update_region(region)

    def _blank(self, name: str) -> bool:
        """True if overlay ``name`` would be fully transparent."""
        doc = self.document
        if name == "rough":
            return not (any(doc.rough(cls).any() for cls in CLASSES) or doc.exclude.any())
        if name == "gt":
            return not any(doc.gt(cls).any() for cls in CLASSES)
        if name == "prediction":
            maps = self.layers.prediction()
            return maps is None or any(m.shape != tuple(doc.shape[:2]) for m in maps.values())
        return False

    def _apply_layer_state(self, name: str) -> None:
        state = self.layers.state(name)
        item = self.image_item if name == "image" else self.items.get(name)
        if item is not None:
            item.setVisible(state.visible)
            item.setOpacity(state.opacity)
        if state.visible and name in self._stale:
            self.render(name)
