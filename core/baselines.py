"""Image-processing baselines of Section 4.2 (no torch): Frangi wrinkles, k-means pores.

The app uses them for pre-labels before any model exists, and ``skintrace evaluate
--baselines`` scores them with the same mask rule as the networks (their maps are 0/255,
see :mod:`core.model.masks`).

* Wrinkles: the multi-scale Frangi vesselness filter (Frangi et al., 1998; scikit-image)
  for dark ridges on the gray image, thresholded at a fraction of a high percentile of
  its response, small fragments removed.
* Pores (after the paper's [3]): a high-pass image (gray minus its Gaussian blur),
  one-dimensional k-means on it whose darkest cluster holds the pore candidates, then
  morphology: an opening and connected components kept only when small and round.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.filters import frangi

from core.classes import CLASSES


@dataclass(frozen=True)
class FrangiParams:
    """Options of :func:`frangi_wrinkles` (scales in pixels at the image's resolution)."""

    sigmas: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0)
    beta: float = 0.5
    gamma: float | None = None
    #: Keep responses above this fraction of the response's 99.5th percentile.
    threshold: float = 0.25
    #: Connected fragments smaller than this many pixels are dropped.
    min_area: int = 12


@dataclass(frozen=True)
class PoreParams:
    """Options of :func:`kmeans_pores`."""

    highpass_sigma: float = 3.0
    clusters: int = 3
    iterations: int = 30
    #: Component area range in pixels and the largest bounding-box aspect ratio kept.
    min_area: int = 2
    max_area: int = 80
    max_elongation: float = 2.5


#: ``source`` of the baselines in evaluation reports (``skintrace evaluate --json``).
EVAL_SOURCE = "core.baselines"


def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(image[..., :3].astype(np.float32), cv2.COLOR_RGB2GRAY)
    if image.ndim == 2:
        return image.astype(np.float32)
    raise ValueError(f"expected an (M, N) or (M, N, 3) image, got shape {image.shape}")


def _drop_small(mask: np.ndarray, min_area: int) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


def frangi_wrinkles(image: np.ndarray, *, params: FrangiParams | None = None) -> np.ndarray:
    """Wrinkle mask from the Frangi filter on dark ridges.

    Parameters
    ----------
    image : (M, N[, 3]) ndarray
        RGB or gray image (uint8 scale).
    params : FrangiParams, optional

    Returns
    -------
    mask : (M, N) bool ndarray
    """
    p = params or FrangiParams()
    gray = _gray(image) / 255.0
    response = frangi(gray, sigmas=p.sigmas, beta=p.beta, gamma=p.gamma, black_ridges=True)
    response = np.nan_to_num(response, nan=0.0)
    top = float(np.percentile(response, 99.5))
    if top <= 0:
        return np.zeros(gray.shape, dtype=bool)
    return _drop_small(response > p.threshold * top, p.min_area)


def kmeans_1d(values: np.ndarray, k: int, *, iterations: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic 1-D k-means (Lloyd) started at evenly spaced quantiles.

    Returns ``(labels, centers)`` with centers sorted ascending.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if k < 2:
        raise ValueError(f"k-means needs k >= 2 clusters, got {k}")
    centers = np.quantile(v, (np.arange(k) + 0.5) / k)
    labels = np.zeros(v.shape, dtype=np.intp)
    for _ in range(iterations):
        edges = (centers[1:] + centers[:-1]) / 2.0
        labels = np.searchsorted(edges, v)
        sums = np.bincount(labels, weights=v, minlength=k)
        counts = np.bincount(labels, minlength=k)
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centers)
        if np.allclose(new, centers):
            break
        centers = np.sort(new)
    return labels, centers


def kmeans_pores(image: np.ndarray, *, params: PoreParams | None = None) -> np.ndarray:
    """Pore mask: high-pass, k-means darkest cluster, opening, small round components.

    Parameters
    ----------
    image : (M, N[, 3]) ndarray
    params : PoreParams, optional

    Returns
    -------
    mask : (M, N) bool ndarray
    """
    p = params or PoreParams()
    gray = _gray(image)
    high = gray - cv2.GaussianBlur(gray, (0, 0), p.highpass_sigma)
    labels, _ = kmeans_1d(high, p.clusters, iterations=p.iterations)
    candidate = (labels.reshape(gray.shape) == 0).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    candidate = cv2.morphologyEx(candidate, cv2.MORPH_OPEN, kernel)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    w = stats[:, cv2.CC_STAT_WIDTH].astype(np.float64)
    h = stats[:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    elongation = np.maximum(w, h) / np.maximum(np.minimum(w, h), 1.0)
    keep = (area >= p.min_area) & (area <= p.max_area) & (elongation <= p.max_elongation)
    keep[0] = False
    return keep[comp]


def baseline_masks(image: np.ndarray) -> dict[str, np.ndarray]:
    """Both baseline masks, ``{"wrinkle": (M, N) bool, "pore": (M, N) bool}``."""
    return {"wrinkle": frangi_wrinkles(image), "pore": kmeans_pores(image)}


def baseline_maps(image: np.ndarray) -> dict[str, np.ndarray]:
    """Both baselines as 0/255 ``uint8`` maps, comparable with a network's predicted maps."""
    masks = baseline_masks(image)
    return {c: masks[c].astype(np.uint8) * 255 for c in CLASSES}
