"""Click-to-pore: find the pore under a click, or every pore in a box, by scale-space blobs.

A pore is a small dark blob. Its response is the scale-normalised Laplacian of Gaussian
``σ² ∇²(G_σ * I)`` of the gray image ``I`` (positive at dark blob centres; in gray levels),
taken over radii ``min_radius``…``max_radius`` at the image's own pixel scale; a blob's
radius is ``√2 σ`` of its best scale. Only a window around the click or box is filtered,
so a query costs the same on a 6000×4000 photo as on a 768×640 crop.

The annotation the tools make is a **rough** region: a disk of ``radius + margin`` around
each blob. GT stays rough × texture (Eq. 2 thresholded), so what lands in GT is decided
by the pore texture map and its current threshold, as for a painted stroke.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from core.errors import SkinTraceError
from core.gt.document_parts import Rect
from core.gt.texture import to_gray

#: Blob radii searched by default (px at the image's scale): the paper's 1-5 px pores.
DEFAULT_MIN_RADIUS: float = 1.0
DEFAULT_MAX_RADIUS: float = 5.0
#: Weakest response (gray levels of the normalised LoG) that counts as a blob.
DEFAULT_MIN_STRENGTH: float = 2.0
#: Rough margin around a found blob (px): the rough mask covers the pore generously.
DEFAULT_MARGIN: float = 1.5
_SCALES = 6


class PoreToolError(SkinTraceError, ValueError):
    """A pore tool was given options or a box it cannot use."""


@dataclass(frozen=True)
class Blob:
    """One pore-like blob.

    Attributes
    ----------
    row, col : float
        Centre (pixel centres are integers).
    radius : float
        ``√2 σ`` of the scale with the strongest response (px).
    strength : float
        Scale-normalised LoG response at the centre (gray levels; higher is darker).
    """

    row: float
    col: float
    radius: float
    strength: float


class PoreFinder:
    """Finds dark blobs in one image around a point or inside a box.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        The image (see :func:`core.gt.texture.to_gray`); only windows of it are read.
    min_radius, max_radius : float, keyword-only
        Blob radii searched (px), ``0.5 <= min_radius <= max_radius <= 50``.
    min_strength : float, keyword-only
        Weakest response kept (gray levels, ``>= 0``).
    """

    def __init__(
        self,
        image: np.ndarray,
        *,
        min_radius: float = DEFAULT_MIN_RADIUS,
        max_radius: float = DEFAULT_MAX_RADIUS,
        min_strength: float = DEFAULT_MIN_STRENGTH,
    ) -> None:
        lo, hi = float(min_radius), float(max_radius)
        if not (0.5 <= lo <= hi <= 50.0):
            raise PoreToolError(
                f"pore radii must satisfy 0.5 <= min <= max <= 50 px; got {min_radius}, "
                f"{max_radius}"
            )
        if not (math.isfinite(min_strength) and min_strength >= 0):
            raise PoreToolError(f"min_strength must be >= 0; got {min_strength!r}")
        self._image = image
        self.shape = (int(image.shape[0]), int(image.shape[1]))
        self.min_radius, self.max_radius = lo, hi
        self.min_strength = float(min_strength)
        radii = np.geomspace(lo, hi, _SCALES) if hi > lo else np.array([lo])
        self.sigmas = tuple(float(r) / math.sqrt(2.0) for r in radii)
        self._pad = int(math.ceil(3 * self.sigmas[-1])) + 2

    # -- filtering -------------------------------------------------------------------

    def _response(self, rect: Rect) -> tuple[Rect, np.ndarray, np.ndarray]:
        """Best normalised LoG over scales and its sigma, on ``rect`` grown by the pad."""
        m, n = self.shape
        p = self._pad
        big = Rect(max(0, rect.row0 - p), max(0, rect.col0 - p), min(m, rect.row1 + p),
                   min(n, rect.col1 + p))  # fmt: skip
        crop = self._image[big.slices]
        gray = to_gray(crop) if crop.shape[0] >= 2 and crop.shape[1] >= 2 else None
        if gray is None:
            empty = np.zeros((big.height, big.width), np.float32)
            return big, empty, empty
        best = np.full(gray.shape, -np.inf, np.float32)
        best_sigma = np.zeros(gray.shape, np.float32)
        for sigma in self.sigmas:
            blur = cv2.GaussianBlur(gray, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
            resp = cv2.Laplacian(blur, cv2.CV_32F, ksize=1) * np.float32(sigma * sigma)
            better = resp > best
            best[better] = resp[better]
            best_sigma[better] = sigma
        return big, best, best_sigma

    def _peaks(self, best: np.ndarray) -> np.ndarray:
        size = 2 * max(1, int(round(self.min_radius))) + 1
        peak = (best == ndimage.maximum_filter(best, size=size, mode="nearest")) & (
            best >= self.min_strength
        )
        return np.argwhere(peak & (best > 0))

    def _blob(self, big: Rect, best: np.ndarray, sig: np.ndarray, r: int, c: int) -> Blob:
        return Blob(
            row=float(big.row0 + r),
            col=float(big.col0 + c),
            radius=float(math.sqrt(2.0) * sig[r, c]),
            strength=float(best[r, c]),
        )

    # -- queries ---------------------------------------------------------------------

    def at(self, row: float, col: float, *, search: float | None = None) -> Blob | None:
        """The blob nearest ``(row, col)`` whose centre lies within ``search`` px of it.

        ``search`` defaults to ``max_radius + 1``: the click must fall on the pore or
        right next to it. Returns None when no blob there is strong enough.
        """
        if not (math.isfinite(row) and math.isfinite(col)):
            raise PoreToolError(f"click position must be finite; got {(row, col)!r}")
        reach = self.max_radius + 1.0 if search is None else float(search)
        r0, c0 = int(round(row)), int(round(col))
        m, n = self.shape
        if not (0 <= r0 < m and 0 <= c0 < n):
            return None
        k = int(math.ceil(reach))
        rect = Rect(max(0, r0 - k), max(0, c0 - k), min(m, r0 + k + 1), min(n, c0 + k + 1))
        big, best, sig = self._response(rect)
        found: Blob | None = None
        best_key = (math.inf, 0.0)
        for pr, pc in self._peaks(best):
            d = math.hypot(big.row0 + pr - row, big.col0 + pc - col)
            key = (round(d, 6), -float(best[pr, pc]))
            if d <= reach and key < best_key:
                best_key, found = key, self._blob(big, best, sig, int(pr), int(pc))
        return found

    def in_box(
        self,
        row0: float,
        col0: float,
        row1: float,
        col1: float,
        *,
        texture: np.ndarray | None = None,
    ) -> list[Blob]:
        """Every blob whose centre lies in the box, strongest first.

        Parameters
        ----------
        row0, col0, row1, col1 : float
            Two opposite corners (any order), inclusive.
        texture : (M, N) ndarray, optional
            The thresholded pore texture map (Eq. 2 at the current threshold): a blob is
            kept only if some pixel of it is above the threshold (nonzero here), i.e. if
            it would reach the GT.

        Returns
        -------
        list of Blob
            Overlapping blobs are reduced to the strongest one.
        """
        vals = (row0, col0, row1, col1)
        if not all(math.isfinite(v) for v in vals):
            raise PoreToolError(f"box corners must be finite; got {vals!r}")
        m, n = self.shape
        ra, rb = sorted((row0, row1))
        ca, cb = sorted((col0, col1))
        rect = Rect(max(0, math.ceil(ra)), max(0, math.ceil(ca)), min(m, math.floor(rb) + 1),
                    min(n, math.floor(cb) + 1))  # fmt: skip
        if rect.row1 <= rect.row0 or rect.col1 <= rect.col0:
            return []
        if texture is not None and texture.shape[:2] != self.shape:
            raise PoreToolError(
                f"texture map {texture.shape} does not match the image {self.shape}"
            )
        big, best, sig = self._response(rect)
        above: np.ndarray | None = None
        if texture is not None:
            # Distance of each pixel to the nearest pixel above the threshold: a blob
            # reaches GT when one lies within its radius.
            hot = np.asarray(texture[big.slices]) > 0
            above = cv2.distanceTransform(
                np.where(hot, 0, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
            ) if hot.any() else np.full(hot.shape, np.inf, np.float32)  # fmt: skip
        blobs: list[Blob] = []
        for pr, pc in self._peaks(best):
            blob = self._blob(big, best, sig, int(pr), int(pc))
            if not (rect.row0 <= blob.row < rect.row1 and rect.col0 <= blob.col < rect.col1):
                continue
            if above is not None and above[pr, pc] > blob.radius + 0.5:
                continue
            blobs.append(blob)
        blobs.sort(key=lambda b: -b.strength)
        return _strongest_of_overlapping(blobs)


def _strongest_of_overlapping(blobs: list[Blob]) -> list[Blob]:
    """Drop every blob whose centre lies within the radius of a stronger kept one.

    ``blobs`` comes strongest first; neighbours come from a k-d tree, so thousands of
    blobs in a large box cost milliseconds, not a pairwise loop.
    """
    if len(blobs) < 2:
        return blobs
    centres = np.array([(b.row, b.col) for b in blobs])
    radii = np.array([b.radius for b in blobs])
    near = cKDTree(centres).query_ball_point(centres, r=float(radii.max()))
    dropped = np.zeros(len(blobs), np.bool_)
    kept: list[Blob] = []
    for i, b in enumerate(blobs):
        if dropped[i]:
            continue
        kept.append(b)
        for j in near[i]:
            if j > i and math.hypot(*(centres[j] - centres[i])) <= max(radii[i], radii[j]):
                dropped[j] = True
    return kept


def blob_region(
    shape: tuple[int, int], blobs: list[Blob], *, margin: float = DEFAULT_MARGIN
) -> tuple[Rect, np.ndarray] | None:
    """The rough region of ``blobs``: disks of ``radius + margin`` around each centre.

    Returns
    -------
    (Rect, (h, w) bool ndarray) or None
        The bounding rectangle (clipped to ``shape``) and which of its pixels are inside;
        None when no pixel of the image is covered.
    """
    if not blobs:
        return None
    m, n = int(shape[0]), int(shape[1])
    rs = [b.radius + margin for b in blobs]
    row0 = max(0, min(math.floor(b.row - r) for b, r in zip(blobs, rs, strict=True)))
    col0 = max(0, min(math.floor(b.col - r) for b, r in zip(blobs, rs, strict=True)))
    row1 = min(m, max(math.ceil(b.row + r) + 1 for b, r in zip(blobs, rs, strict=True)))
    col1 = min(n, max(math.ceil(b.col + r) + 1 for b, r in zip(blobs, rs, strict=True)))
    if row1 <= row0 or col1 <= col0:
        return None
    rect = Rect(row0, col0, row1, col1)
    inside = np.zeros((rect.height, rect.width), np.bool_)
    for b, r in zip(blobs, rs, strict=True):
        # each disk touches only its own small box, so a thousand blobs stay cheap
        r0, r1 = max(row0, math.floor(b.row - r)), min(row1, math.ceil(b.row + r) + 1)
        c0, c1 = max(col0, math.floor(b.col - r)), min(col1, math.ceil(b.col + r) + 1)
        if r1 <= r0 or c1 <= c0:
            continue
        rr, cc = np.ogrid[r0:r1, c0:c1]
        inside[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] |= (rr - b.row) ** 2 + (
            cc - b.col
        ) ** 2 <= r * r
    if not inside.any():
        return None
    return rect, inside


def pore_at(image: np.ndarray, row: float, col: float, **options: float) -> Blob | None:
    """:meth:`PoreFinder.at` in one call (``options`` go to :class:`PoreFinder`)."""
    return PoreFinder(image, **options).at(row, col)


def find_pores(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    *,
    texture: np.ndarray | None = None,
    **options: float,
) -> list[Blob]:
    """:meth:`PoreFinder.in_box` in one call; ``box`` is ``(row0, col0, row1, col1)``."""
    return PoreFinder(image, **options).in_box(*box, texture=texture)
