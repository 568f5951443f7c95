"""Values of :mod:`core.gt.document`: rectangles, change notices, undo history entries.

Split out of :mod:`core.gt.document` to keep it short; import them from either module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from core.classes import ClassName

ChangeKind = Literal["rough", "params", "reset"]


@dataclass(frozen=True)
class Rect:
    """A pixel rectangle ``[row0, row1) × [col0, col1)`` (exclusive ends)."""

    row0: int
    col0: int
    row1: int
    col1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices for indexing an ``(M, N[, C])`` array."""
        return (slice(self.row0, self.row1), slice(self.col0, self.col1))

    @property
    def height(self) -> int:
        return max(0, self.row1 - self.row0)

    @property
    def width(self) -> int:
        return max(0, self.col1 - self.col0)

    def union(self, other: Rect) -> Rect:
        return Rect(
            min(self.row0, other.row0),
            min(self.col0, other.col0),
            max(self.row1, other.row1),
            max(self.col1, other.col1),
        )


@dataclass(frozen=True)
class DocumentChange:
    """What changed: ``kind`` "rough" (``cls`` and ``rect`` set, ``rect`` None = whole
    image), "params" (textures and GT of both classes) or "reset" (everything)."""

    kind: ChangeKind
    cls: ClassName | None
    rect: Rect | None


@dataclass(frozen=True, eq=False)
class Patch:
    """Changed pixels of one region: local coordinates and their old and new values."""

    rect: Rect
    rows: np.ndarray
    cols: np.ndarray
    old: np.ndarray
    new: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.cols.nbytes + self.old.nbytes + self.new.nbytes


@dataclass(frozen=True, eq=False)
class HistoryEntry:
    """One undo step (a stroke, fill, clear or mask replacement).

    ``cls``, ``patches`` and ``bbox`` describe the first (usually the only) class it
    changed; ``more`` holds further classes changed in the same step as
    ``(cls, patches, bbox)`` triples (e.g. a pre-label turned into rough masks of both
    classes at once).
    """

    cls: ClassName
    patches: tuple[Patch, ...]
    bbox: Rect
    label: str
    state: int
    more: tuple[tuple[ClassName, tuple[Patch, ...], Rect], ...] = ()

    @property
    def parts(self) -> tuple[tuple[ClassName, tuple[Patch, ...], Rect], ...]:
        """Every ``(cls, patches, bbox)`` this step changed, the first class first."""
        return ((self.cls, self.patches, self.bbox), *self.more)

    @property
    def classes(self) -> tuple[ClassName, ...]:
        return tuple(part[0] for part in self.parts)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for _, patches, _ in self.parts for p in patches)


def diff_patch(rect: Rect, old: np.ndarray, new: np.ndarray) -> Patch | None:
    rows, cols = np.nonzero(old != new)
    if rows.size == 0:
        return None
    dtype = np.uint16 if max(rect.height, rect.width) <= 65535 else np.int32
    return Patch(rect, rows.astype(dtype), cols.astype(dtype), old[rows, cols], new[rows, cols])


def changed_rect(old: np.ndarray, new: np.ndarray) -> Rect | None:
    """Bounding box of the pixels where ``new`` differs from ``old`` (same shape)."""
    diff = new != old
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0] : rows[-1] + 1].any(axis=0))
    return Rect(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def capsule(
    shape: tuple[int, int], p0: tuple[float, float], p1: tuple[float, float], radius: float
) -> tuple[Rect, np.ndarray] | None:
    """Pixels whose centres lie within ``radius`` of the segment p0–p1, inside ``shape``."""
    (r0, c0), (r1, c1) = p0, p1
    row0 = max(0, math.ceil(min(r0, r1) - radius))
    row1 = min(shape[0], math.floor(max(r0, r1) + radius) + 1)
    col0 = max(0, math.ceil(min(c0, c1) - radius))
    col1 = min(shape[1], math.floor(max(c0, c1) + radius) + 1)
    if row1 <= row0 or col1 <= col0:
        return None
    rr = np.arange(row0, row1, dtype=np.float64)[:, None] - r0
    cc = np.arange(col0, col1, dtype=np.float64)[None, :] - c0
    dr, dc = r1 - r0, c1 - c0
    length2 = dr * dr + dc * dc
    if length2 > 0.0:
        t = np.clip((rr * dr + cc * dc) / length2, 0.0, 1.0)
        rr = rr - t * dr
        cc = cc - t * dc
    inside = rr * rr + cc * cc <= radius * radius
    return Rect(row0, col0, row1, col1), inside


#: Side of the square tiles a stroke backs up before their first change (undo patches).
TILE: int = 64


class Stroke:
    """State of the stroke in progress: the tiles backed up before their first change."""

    def __init__(self, cls: ClassName, erase: bool, radius: float) -> None:
        self.cls = cls
        self.erase = erase
        self.radius = radius
        self.last: tuple[float, float] | None = None
        self.tiles: dict[tuple[int, int], np.ndarray] = {}
        self.changed = False

    def backup(self, mask: np.ndarray, rect: Rect) -> None:
        """Copy the tiles of ``mask`` that ``rect`` touches, unless already copied."""
        for ti in range(rect.row0 // TILE, (rect.row1 - 1) // TILE + 1):
            for tj in range(rect.col0 // TILE, (rect.col1 - 1) // TILE + 1):
                if (ti, tj) not in self.tiles:
                    self.tiles[(ti, tj)] = mask[
                        ti * TILE : (ti + 1) * TILE, tj * TILE : (tj + 1) * TILE
                    ].copy()

    def patches(self, mask: np.ndarray) -> list[Patch]:
        """Region diffs between the backed-up tiles and ``mask`` now (one per changed tile)."""
        rows, cols = mask.shape[:2]
        out = []
        for (ti, tj), old in sorted(self.tiles.items()):
            rect = Rect(
                ti * TILE, tj * TILE, min(rows, (ti + 1) * TILE), min(cols, (tj + 1) * TILE)
            )
            patch = diff_patch(rect, old, mask[rect.slices])
            if patch is not None:
                out.append(patch)
        return out


def polygon(shape: tuple[int, int], points: np.ndarray) -> tuple[Rect, np.ndarray] | None:
    """Bounding rectangle and inside mask of the polygon through ``(row, col)`` points.

    Pixels whose centres are inside (OpenCV ``fillPoly`` rule, sub-pixel vertices); None
    when the polygon lies outside the image.
    """
    row0 = max(0, math.floor(points[:, 0].min()))
    row1 = min(shape[0], math.ceil(points[:, 0].max()) + 1)
    col0 = max(0, math.floor(points[:, 1].min()))
    col1 = min(shape[1], math.ceil(points[:, 1].max()) + 1)
    if row1 <= row0 or col1 <= col0:
        return None
    rect = Rect(row0, col0, row1, col1)
    shift = 8
    local = np.round((points[:, ::-1] - [col0, row0]) * (1 << shift)).astype(np.int32)
    poly = np.zeros((rect.height, rect.width), np.uint8)
    cv2.fillPoly(poly, [local], 1, cv2.LINE_8, shift)
    return rect, poly.astype(bool)


def check_radius(radius: object) -> float:
    """A brush radius as a positive finite float, or DocumentError-ready ValueError text."""
    r = float(radius)  # type: ignore[arg-type]
    if not math.isfinite(r) or r <= 0:
        raise ValueError(f"brush radius must be a positive number of pixels; got {radius!r}")
    return r


def readonly_view(a: np.ndarray) -> np.ndarray:
    """A view of ``a`` that cannot be written through."""
    v = a.view()
    v.setflags(write=False)
    return v
