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

Both look only at skin (:func:`skin_mask`: skin colour, not too dark, away from the
region's border), so hair, eyebrows, eyes and clothes are not pre-labeled, and the
wrinkle mask drops what a wrinkle cannot be (:func:`drop_non_wrinkles`: structures much
darker than the skin around them, and very long straight lines). The skin mask is one
replaceable function (``skin=`` of :func:`baseline_masks`), so face zones can take its
place once they exist.
"""

from __future__ import annotations

from collections.abc import Callable
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
    #: Fragments whose 90th-percentile darkening below the skin around them exceeds this
    #: fraction are dropped (eyebrow hairs, eye outlines, hair strands: wrinkles are
    #: shallower).
    max_depth: float = 0.33
    #: Fragments at least this long (fraction of the image's longer side) whose width is
    #: under ``straight_ratio`` of their length are dropped (borders, collars, frames).
    max_straight_length: float = 0.75
    straight_ratio: float = 0.05


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


@dataclass(frozen=True)
class SkinParams:
    """Options of :func:`skin_mask` (pixel sizes are for a 768×640 image and scale with
    the square root of the image's area)."""

    #: Chroma of skin in YCrCb (OpenCV's 8-bit scale), inclusive ranges.
    cr_range: tuple[float, float] = (135.0, 180.0)
    cb_range: tuple[float, float] = (77.0, 135.0)
    #: Hue of skin in degrees (red to orange; blond hair is yellower), and the least
    #: HSV saturation (grey and beige backgrounds are less saturated).
    max_hue: float = 34.0
    min_saturation: float = 0.08
    #: Skin is at least this fraction of the median luminance of skin-coloured pixels.
    min_luma: float = 0.45
    #: The colour test is made on the image blurred by this sigma, so thin dark lines
    #: (wrinkles) stay inside the skin while broad dark areas (brows, hair) do not.
    smooth_sigma: float = 4.0
    #: Skin regions smaller than this fraction of the image are dropped.
    min_region: float = 0.01
    #: The skin region is shrunk by this many pixels: edges at its border (hairline,
    #: eye outline, collar) are not skin texture.
    margin: float = 6.0


#: A function ``image -> (M, N) bool`` telling where pre-labels may be (see :func:`skin_mask`).
SkinFn = Callable[[np.ndarray], np.ndarray]

#: Area of the paper's 768×640 crop, the reference for pixel sizes.
_REF_PIXELS = 768 * 640


def size_scale(shape: tuple[int, ...]) -> float:
    """Linear scale of an image against the paper's 768×640 crop (1.0 at that size)."""
    return float(np.sqrt(int(shape[0]) * int(shape[1]) / _REF_PIXELS))


#: ``source`` of the baselines in evaluation reports (``skintrace evaluate --json``).
EVAL_SOURCE = "core.gt.baselines"


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


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def skin_mask(image: np.ndarray, *, params: SkinParams | None = None) -> np.ndarray:
    """Where the skin is: skin-coloured, not much darker than the face, away from borders.

    The colour test (YCrCb chroma ranges, and luminance at least ``min_luma`` of the
    skin's median) is made on a blurred copy, so wrinkles and pores stay inside while
    eyebrows, eyes, hair, clothes and background fall out. Small regions are dropped and
    the rest shrunk by ``margin`` so that the borders themselves are excluded.

    Parameters
    ----------
    image : (M, N, 3) ndarray
        RGB image (uint8 scale). A gray image has no colour: all of it is skin.
    params : SkinParams, optional

    Returns
    -------
    mask : (M, N) bool ndarray
    """
    p = params or SkinParams()
    img = np.asarray(image)
    if img.ndim == 2:
        return np.ones(img.shape, dtype=bool)
    _gray(img)  # validates the shape
    scale = size_scale(img.shape)
    rgb = np.ascontiguousarray(img[..., :3], dtype=np.uint8)
    sigma = max(0.5, p.smooth_sigma * scale)
    smooth = cv2.GaussianBlur(rgb, (0, 0), sigma)
    ycc = cv2.cvtColor(smooth, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = (ycc[..., i].astype(np.float32) for i in range(3))
    chroma = (cr >= p.cr_range[0]) & (cr <= p.cr_range[1])
    chroma &= (cb >= p.cb_range[0]) & (cb <= p.cb_range[1])
    hsv = cv2.cvtColor(smooth, cv2.COLOR_RGB2HSV)  # hue in 0..180 (2° steps)
    hue = hsv[..., 0].astype(np.float32) * 2.0
    chroma &= (hue <= p.max_hue) | (hue >= 340.0)
    chroma &= hsv[..., 1] >= p.min_saturation * 255.0
    if not chroma.any():
        return np.zeros(chroma.shape, dtype=bool)
    skin = chroma & (y >= p.min_luma * float(np.median(y[chroma])))
    skin = _drop_small(skin, max(1, round(p.min_region * skin.size)))
    margin = round(p.margin * scale)
    if margin > 0:
        # Pixels outside the image are skin: only borders inside the image shrink it.
        skin = cv2.erode(
            skin.astype(np.uint8), _disk(margin), borderType=cv2.BORDER_CONSTANT, borderValue=1
        ).astype(bool)
    return skin


def drop_non_wrinkles(
    mask: np.ndarray, image: np.ndarray, *, params: FrangiParams | None = None
) -> np.ndarray:
    """Remove the fragments of a wrinkle mask that cannot be wrinkles.

    Dropped: fragments whose 90th-percentile darkening against the skin around them (a grey
    closing wider than the filter's scales) exceeds ``max_depth`` (eyebrow hairs, eye
    outlines, hair strands, dark borders), and very long straight fragments (at least
    ``max_straight_length`` of the image's longer side, thinner than ``straight_ratio``
    of their length: collars, frames, straight edges).

    Parameters
    ----------
    mask : (M, N) bool ndarray
    image : (M, N[, 3]) ndarray
    params : FrangiParams, optional

    Returns
    -------
    mask : (M, N) bool ndarray
    """
    p = params or FrangiParams()
    mask = np.asarray(mask, dtype=bool)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.copy()
    depth = _depth(_gray(image), p)
    keep = np.ones(n, dtype=bool)
    for i in range(1, n):
        x, y, w, h = stats[i, :4]
        box = (slice(y, y + h), slice(x, x + w))
        keep[i] = np.percentile(depth[box][labels[box] == i], 90) <= p.max_depth
    long_side = p.max_straight_length * max(mask.shape)
    wide = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    for j in np.flatnonzero(keep & (wide >= long_side)):
        if j == 0:
            continue
        points = np.column_stack(np.nonzero(labels == j)[::-1]).astype(np.float32)
        (_, _), (w, h), _ = cv2.minAreaRect(points)
        if max(w, h) >= long_side and min(w, h) < p.straight_ratio * max(w, h):
            keep[j] = False
    keep[0] = False
    return keep[labels]


def frangi_wrinkles(
    image: np.ndarray, *, params: FrangiParams | None = None, region: np.ndarray | None = None
) -> np.ndarray:
    """Wrinkle mask from the Frangi filter on dark ridges.

    Parameters
    ----------
    image : (M, N[, 3]) ndarray
        RGB or gray image (uint8 scale).
    params : FrangiParams, optional
    region : (M, N) bool ndarray, optional
        Where wrinkles may be (e.g. :func:`skin_mask`); the whole image by default. The
        threshold is taken from the response inside it, and fragments that cannot be
        wrinkles are dropped (:func:`drop_non_wrinkles`).

    Returns
    -------
    mask : (M, N) bool ndarray
    """
    p = params or FrangiParams()
    gray = _gray(image) / 255.0
    inside = _region(region, gray.shape)
    if not inside.any():
        return np.zeros(gray.shape, dtype=bool)
    response = frangi(gray, sigmas=p.sigmas, beta=p.beta, gamma=p.gamma, black_ridges=True)
    response = np.nan_to_num(response, nan=0.0)
    top = float(np.percentile(response[inside], 99.5))
    if top <= 0:
        return np.zeros(gray.shape, dtype=bool)
    found = _drop_small((response > p.threshold * top) & inside, p.min_area)
    return drop_non_wrinkles(found, image, params=p)


def _depth(gray: np.ndarray, p: FrangiParams) -> np.ndarray:
    """Darkening of each pixel below the skin around it (a grey closing), 0 to 1."""
    radius = max(2, round(3 * max(p.sigmas)))
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, _disk(radius))
    return 1.0 - gray / np.maximum(background, 1.0)


def _region(region: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if region is None:
        return np.ones(shape, dtype=bool)
    r = np.asarray(region, dtype=bool)
    if r.shape != shape:
        raise ValueError(f"region shape {r.shape} does not match the image {shape}")
    return r


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


def kmeans_pores(
    image: np.ndarray, *, params: PoreParams | None = None, region: np.ndarray | None = None
) -> np.ndarray:
    """Pore mask: high-pass, k-means darkest cluster, opening, small round components.

    Parameters
    ----------
    image : (M, N[, 3]) ndarray
    params : PoreParams, optional
    region : (M, N) bool ndarray, optional
        Where pores may be (e.g. :func:`skin_mask`); the whole image by default. The
        clusters are fitted to the high-pass values inside it.

    Returns
    -------
    mask : (M, N) bool ndarray
    """
    p = params or PoreParams()
    gray = _gray(image)
    inside = _region(region, gray.shape)
    if inside.sum() < p.clusters:
        return np.zeros(gray.shape, dtype=bool)
    high = gray - cv2.GaussianBlur(gray, (0, 0), p.highpass_sigma)
    _, centers = kmeans_1d(high[inside], p.clusters, iterations=p.iterations)
    darkest = high < (centers[0] + centers[1]) / 2.0
    candidate = (darkest & inside).astype(np.uint8)
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


def baseline_masks(image: np.ndarray, *, skin: SkinFn | None = skin_mask) -> dict[str, np.ndarray]:
    """Both baseline masks, ``{"wrinkle": (M, N) bool, "pore": (M, N) bool}``.

    ``skin`` tells where they may be (:func:`skin_mask` by default; a face-zone
    function can replace it); None looks at the whole image, as the paper's baselines.
    """
    region = None if skin is None else skin(image)
    return {
        "wrinkle": frangi_wrinkles(image, region=region),
        "pore": kmeans_pores(image, region=region),
    }


def baseline_maps(image: np.ndarray, *, skin: SkinFn | None = skin_mask) -> dict[str, np.ndarray]:
    """Both baselines as 0/255 ``uint8`` maps, comparable with a network's predicted maps."""
    masks = baseline_masks(image, skin=skin)
    return {c: masks[c].astype(np.uint8) * 255 for c in CLASSES}
