"""Wrinkle centreline snapping: move a pointer point onto the nearby dark ridge.

A wrinkle is a dark valley in the gray image. Its ridge strength at scale σ is
``σ² (λ₁ − max(λ₂, 0))`` where ``λ₁ ≥ λ₂`` are the eigenvalues of the Hessian of
``G_σ * I`` (a Sato-style line filter: positive across a dark line, near zero on flat
skin and on round blobs such as pores, whose two eigenvalues are alike). Only a small
window around the pointer is filtered, so one snap costs the same on 6000×4000 as on a
768×640 crop (benchmarks/bench_snap.py).

:class:`CentrelineSnapper` looks inside a *corridor* (a disk around the pointer) for the
strongest ridge, preferring ones near the pointer, and returns that point with a rough
radius estimated from the ridge's best scale (width ≈ ``WIDTH_PER_SIGMA × σ``) plus a
margin. Where no ridge is strong enough the pointer point is kept with the brush radius,
so snapping never loses a stroke. The canvas feeds the points to
:meth:`core.gt.document.AnnotationDocument.stroke_to` (one stroke, one undo step), so GT
stays rough × texture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import SkinTraceError
from core.gt.document_parts import Rect
from core.gt.texture import to_gray

#: Ridge scales searched (σ in px): lines about 1 to 6 px wide.
DEFAULT_SIGMAS: tuple[float, ...] = (0.7, 1.0, 1.4, 2.0, 2.8)
#: Corridor radius around the pointer (px).
DEFAULT_CORRIDOR: float = 5.0
#: Weakest ridge strength (gray levels) that a point snaps to.
DEFAULT_MIN_STRENGTH: float = 2.0
#: Rough margin added on each side of the estimated width (px).
DEFAULT_MARGIN: float = 1.5
#: Line width per unit of best σ (calibrated on drawn lines 1-6 px wide, tests check it).
WIDTH_PER_SIGMA: float = 2.0

_KXX = np.array([[1.0, -2.0, 1.0]], np.float32)
_KYY = _KXX.T.copy()
_KXY = np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0], [-1.0, 0.0, 1.0]], np.float32) / 4


class SnapError(SkinTraceError, ValueError):
    """Snapping was given options or points it cannot use."""


@dataclass(frozen=True)
class SnapPoint:
    """Where one pointer point lands.

    Attributes
    ----------
    row, col : float
        The point to paint (on the ridge when ``snapped``).
    radius : float
        Rough brush radius for it (px).
    snapped : bool
        False when no ridge was strong enough and the pointer point was kept.
    strength : float
        Ridge strength there (gray levels; 0 when not snapped).
    """

    row: float
    col: float
    radius: float
    snapped: bool
    strength: float


def ridge_strength(
    gray: np.ndarray, sigmas: Sequence[float] = DEFAULT_SIGMAS
) -> tuple[np.ndarray, np.ndarray]:
    """Best dark-ridge strength over ``sigmas`` and the σ that gave it.

    Parameters
    ----------
    gray : (M, N) float32 ndarray
        Gray image on 0-255.
    sigmas : sequence of float
        Scales (px), each > 0.

    Returns
    -------
    strength, sigma : (M, N) float32 ndarray
        ``max_σ σ² (λ₁ − max(λ₂, 0))`` (0 where no dark ridge) and its σ.
    """
    g = np.ascontiguousarray(gray, np.float32)
    best = np.zeros(g.shape, np.float32)
    best_sigma = np.full(g.shape, float(sigmas[0]), np.float32)
    for sigma in sigmas:
        blur = cv2.GaussianBlur(g, (0, 0), float(sigma), borderType=cv2.BORDER_REFLECT)
        dxx = cv2.filter2D(blur, cv2.CV_32F, _KXX, borderType=cv2.BORDER_REFLECT)
        dyy = cv2.filter2D(blur, cv2.CV_32F, _KYY, borderType=cv2.BORDER_REFLECT)
        dxy = cv2.filter2D(blur, cv2.CV_32F, _KXY, borderType=cv2.BORDER_REFLECT)
        half = (dxx + dyy) * 0.5
        root = np.sqrt(((dxx - dyy) * 0.5) ** 2 + dxy * dxy)
        l1, l2 = half + root, half - root
        resp = (l1 - np.maximum(l2, 0.0)) * np.float32(sigma * sigma)
        better = resp > best
        best[better] = resp[better]
        best_sigma[better] = sigma
    return best, best_sigma


class CentrelineSnapper:
    """Snaps pointer points of one image onto dark ridges (wrinkle centrelines).

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        The image; only small windows of it are read.
    corridor : float, keyword-only
        How far from the pointer a ridge may be (px, > 0).
    sigmas : sequence of float, keyword-only
        Ridge scales (px).
    min_strength : float, keyword-only
        Weakest ridge that attracts the point (gray levels).
    margin : float, keyword-only
        Added to the estimated half width for the rough radius (px).
    fallback_radius : float, keyword-only
        Radius where nothing snaps (the brush radius).
    """

    def __init__(
        self,
        image: np.ndarray,
        *,
        corridor: float = DEFAULT_CORRIDOR,
        sigmas: Sequence[float] = DEFAULT_SIGMAS,
        min_strength: float = DEFAULT_MIN_STRENGTH,
        margin: float = DEFAULT_MARGIN,
        fallback_radius: float = 3.0,
    ) -> None:
        if not (math.isfinite(corridor) and 0 < corridor <= 200):
            raise SnapError(f"snap corridor must be in (0, 200] px; got {corridor!r}")
        if not sigmas or any(not (math.isfinite(s) and 0 < s <= 20) for s in sigmas):
            raise SnapError(f"ridge scales must be in (0, 20] px; got {tuple(sigmas)!r}")
        if not (math.isfinite(fallback_radius) and fallback_radius > 0):
            raise SnapError(f"fallback radius must be > 0 px; got {fallback_radius!r}")
        self._image = image
        self.shape = (int(image.shape[0]), int(image.shape[1]))
        self.corridor = float(corridor)
        self.sigmas = tuple(float(s) for s in sigmas)
        self.min_strength = float(min_strength)
        self.margin = float(margin)
        self.fallback_radius = float(fallback_radius)
        self._pad = int(math.ceil(3 * max(self.sigmas))) + 2

    def _fallback(self, row: float, col: float) -> SnapPoint:
        return SnapPoint(float(row), float(col), self.fallback_radius, False, 0.0)

    def snap(self, row: float, col: float) -> SnapPoint:
        """Where the pointer point ``(row, col)`` should paint, and how wide."""
        if not (math.isfinite(row) and math.isfinite(col)):
            raise SnapError(f"pointer position must be finite; got {(row, col)!r}")
        m, n = self.shape
        k = int(math.ceil(self.corridor)) + self._pad
        r0, c0 = int(round(row)), int(round(col))
        rect = Rect(max(0, r0 - k), max(0, c0 - k), min(m, r0 + k + 1), min(n, c0 + k + 1))
        if rect.height < 3 or rect.width < 3:
            return self._fallback(row, col)
        strength, sigma = ridge_strength(to_gray(self._image[rect.slices]), self.sigmas)
        rr, cc = np.ogrid[rect.row0 : rect.row1, rect.col0 : rect.col1]
        d2 = (rr - row) ** 2 + (cc - col) ** 2
        c2 = self.corridor * self.corridor
        # Prefer ridges near the pointer: halve a ridge's pull at the corridor's edge.
        score = np.where(d2 <= c2, strength * (1.0 - 0.5 * d2 / c2), -1.0)
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        s = float(strength[i, j])
        if s < self.min_strength or score[i, j] <= 0:
            return self._fallback(row, col)
        half_width = 0.5 * WIDTH_PER_SIGMA * float(sigma[i, j])
        return SnapPoint(
            float(rect.row0 + i), float(rect.col0 + j), half_width + self.margin, True, s
        )


def snap_polyline(
    snapper: CentrelineSnapper, points: Sequence[tuple[float, float]], *, step: float = 2.0
) -> list[SnapPoint]:
    """Snap a polyline: each segment is sampled every ``step`` px and each sample snapped.

    Parameters
    ----------
    snapper : CentrelineSnapper
    points : sequence of (row, col)
        The clicked vertices (at least one).
    step : float, keyword-only
        Sampling distance along the segments (px, > 0).

    Returns
    -------
    list of SnapPoint
        In order along the polyline, ready for one brush stroke.
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) == 0 or not np.isfinite(pts).all():
        raise SnapError("a polyline needs at least one finite (row, col) point")
    if not (math.isfinite(step) and step > 0):
        raise SnapError(f"sampling step must be > 0 px; got {step!r}")
    samples = [pts[0]]
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        count = max(1, int(math.ceil(float(np.hypot(*(b - a))) / step)))
        for t in np.linspace(0.0, 1.0, count + 1)[1:]:
            samples.append(a + (b - a) * t)
    return [snapper.snap(float(r), float(c)) for r, c in samples]
