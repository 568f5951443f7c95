"""Overlay layers drawn over the image: ARGB32 QImages whose pixels are numpy views.

Only the dirty region of an overlay is recomputed (with numpy, in place) and only that
region is repainted, so painting on a 6000x4000 image never rebuilds a full pixmap.

The three annotation layers share the class colours but never look alike, so they are
told apart by their pattern as well as by hue (colour-blind safe):

- **rough masks** (:func:`compose_rough`): a solid outline, diagonal hatching and a faint
  tint inside: "a region someone marked";
- **ground truth** (:func:`compose_magnitudes` with ``floor=GT_ALPHA_FLOOR``): solid
  colour, strong even where the texture is weak, drawn above the rough masks;
- **prediction** (:func:`compose_contours`): hollow outlines drawn just outside each
  predicted area, nothing inside, so a pre-label left on never passes for painted
  strokes or ground truth (a predicted pore is a ring, a predicted wrinkle a double line).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

Region = tuple[slice, slice]


def _rgb(color: str) -> tuple[int, int, int]:
    c = QColor(color)
    if not c.isValid():
        raise ValueError(f"not a colour: {color!r}")
    return c.red(), c.green(), c.blue()


def premultiplied(color: str, alpha: np.ndarray) -> np.ndarray:
    """Premultiplied ARGB32 pixels (uint32) of ``color`` with per-pixel ``alpha`` (uint8)."""
    r, g, b = _rgb(color)
    a = alpha.astype(np.uint32)
    return (
        (a << 24)
        | (((a * r + 127) // 255) << 16)
        | (((a * g + 127) // 255) << 8)
        | ((a * b + 127) // 255)
    )


def compose_masks(masks: Sequence[np.ndarray], colors: Sequence[str]) -> np.ndarray:
    """Opaque class colours where each binary mask is set; later masks draw on top."""
    out = np.zeros(masks[0].shape, dtype=np.uint32)
    for mask, color in zip(masks, colors, strict=True):
        r, g, b = _rgb(color)
        out[mask] = (0xFF << 24) | (r << 16) | (g << 8) | b
    return out


def magnitude_alpha(values: np.ndarray, *, floor: int = 110) -> np.ndarray:
    """Alpha for a uint8 magnitude map: 0 where 0, else ``floor``..255 growing with the value."""
    v = values.astype(np.uint16)
    a = floor + (v * (255 - floor) + 127) // 255
    return np.where(v > 0, a, 0).astype(np.uint8)


def compose_magnitudes(
    maps: Sequence[np.ndarray], colors: Sequence[str], *, floor: int = 110
) -> np.ndarray:
    """Class colours with alpha growing with each uint8 map; later maps draw on top."""
    out = np.zeros(maps[0].shape, dtype=np.uint32)
    for values, color in zip(maps, colors, strict=True):
        nonzero = values > 0
        if nonzero.any():
            px = premultiplied(color, magnitude_alpha(values, floor=floor))
            out[nonzero] = px[nonzero]
    return out


#: Alpha of the weakest ground-truth pixel (the strongest is opaque): GT reads as solid.
GT_ALPHA_FLOOR = 190
#: Rough masks: hatch period and line width (image pixels) and the tint between lines.
HATCH_PERIOD, HATCH_WIDTH, ROUGH_TINT = 6, 2, 60


def edges(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (beyond the array counts as inside)."""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def hatch_lines(shape: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Diagonal hatch lines, ``(row + col) % HATCH_PERIOD < HATCH_WIDTH`` in image
    coordinates, over an array whose top-left pixel is image ``origin``.

    A read-only view of one diagonal (rows + cols bytes), not a full-size array.
    """
    rows, cols = shape
    start = origin[0] + origin[1]
    diagonal = (np.arange(start, start + rows + cols) % HATCH_PERIOD) < HATCH_WIDTH
    step = diagonal.strides[0]
    return np.lib.stride_tricks.as_strided(
        diagonal, shape=(rows, cols), strides=(step, step), writeable=False
    )


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The smallest (row slice, col slice) holding every True pixel of ``mask``."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def compose_rough(
    masks: Sequence[np.ndarray],
    colors: Sequence[str],
    *,
    origin: tuple[int, int] = (0, 0),
    pad: int = 0,
) -> np.ndarray:
    """Rough masks as outline + diagonal hatching + faint tint; later masks draw on top.

    ``masks`` may carry ``pad`` extra pixels of context on every side (so the outline is
    right at a region's border); the result is cropped to the unpadded area, whose
    top-left pixel is image ``origin`` (keeps the hatching continuous across regions).
    """
    shape = masks[0].shape
    out = np.zeros((shape[0] - 2 * pad, shape[1] - 2 * pad), dtype=np.uint32)
    for mask, color in zip(masks, colors, strict=True):
        mask = np.asarray(mask, dtype=bool)
        box = _bbox(mask[pad : shape[0] - pad, pad : shape[1] - pad])
        if box is None:
            continue
        # work inside the painted part only, with one pixel of context for the outline
        (r0, r1), (c0, c1) = (box[0].start, box[0].stop), (box[1].start, box[1].stop)
        pr0, pc0 = max(0, pad + r0 - 1), max(0, pad + c0 - 1)
        part = mask[pr0 : min(shape[0], pad + r1 + 1), pc0 : min(shape[1], pad + c1 + 1)]
        inner = (slice(pad + r0 - pr0, pad + r1 - pr0), slice(pad + c0 - pc0, pad + c1 - pc0))
        m = part[inner]
        hatch = hatch_lines(m.shape, (origin[0] + r0, origin[1] + c0))
        line = (edges(part)[inner] | hatch) & m
        tint = m & ~line
        r, g, b = _rgb(color)
        target = out[r0:r1, c0:c1]
        target[line] = (0xFF << 24) | (r << 16) | (g << 8) | b
        target[tint] = premultiplied(color, np.array([ROUGH_TINT], np.uint8))[0]
    return out


def outer_ring(area: np.ndarray) -> np.ndarray:
    """Pixels outside ``area`` that touch it (8-neighbours): its outline, drawn outside."""
    grown = area.copy()
    grown[1:, :] |= area[:-1, :]
    grown[:-1, :] |= area[1:, :]
    horizontal = grown.copy()
    grown[:, 1:] |= horizontal[:, :-1]
    grown[:, :-1] |= horizontal[:, 1:]
    return grown & ~area


def compose_contours(maps: Sequence[np.ndarray], colors: Sequence[str]) -> np.ndarray:
    """Class-colour outlines just outside each map's non-zero area; nothing inside."""
    out = np.zeros(maps[0].shape, dtype=np.uint32)
    for values, color in zip(maps, colors, strict=True):
        area = np.asarray(values) > 0
        if not area.any():
            continue
        r, g, b = _rgb(color)
        out[outer_ring(area)] = (0xFF << 24) | (r << 16) | (g << 8) | b
    return out


def compose_gray(values: np.ndarray, *, alpha: int = 255) -> np.ndarray:
    """Gray pixels from a uint8 map (used for the texture layer)."""
    v = values.astype(np.uint32) * alpha // 255
    return (np.uint32(alpha) << 24) | (v << 16) | (v << 8) | v


class OverlayImage:
    """An ``(M, N)`` uint32 numpy buffer shared with an ARGB32-premultiplied QImage."""

    def __init__(self, shape: tuple[int, int]) -> None:
        rows, cols = int(shape[0]), int(shape[1])
        self.array = np.zeros((rows, cols), dtype=np.uint32)
        # The QImage reads the numpy memory directly; we never call a non-const QImage
        # method on it, so it never detaches into a copy.
        self.qimage = QImage(
            self.array.data, cols, rows, cols * 4, QImage.Format.Format_ARGB32_Premultiplied
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.array.shape

    def clear(self) -> None:
        self.array.fill(0)


class OverlayItem(QGraphicsItem):
    """Draws an :class:`OverlayImage` at scene (0, 0), one scene unit per image pixel.

    Repaints only the exposed rectangle; callers invalidate just the dirty region
    with :meth:`update_region`.
    """

    def __init__(self, overlay: OverlayImage, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.overlay = overlay
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        rows, cols = self.overlay.shape
        return QRectF(0, 0, cols, rows)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        exposed = option.exposedRect.intersected(self.boundingRect()).toAlignedRect()
        if exposed.isEmpty():
            return
        painter.drawImage(exposed, self.overlay.qimage, exposed)

    def update_region(self, region: Region | None) -> None:
        """Schedule a repaint of ``region`` (row slice, col slice); None = everything."""
        if region is None:
            self.update()
            return
        rs, cs = region
        self.update(QRectF(cs.start, rs.start, cs.stop - cs.start, rs.stop - rs.start))
