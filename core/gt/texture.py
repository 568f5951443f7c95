"""Texture maps of the paper (Yoon et al. 2023, Table 1): Eq. 1 for wrinkles, Eq. 2 for pores.

Both maps start from the BT.601 grayscale image ``I`` on a 0–255 scale
(:func:`to_gray`). Borders are reflected without repeating the edge pixel
(OpenCV ``BORDER_REFLECT_101``, scipy ``mode="mirror"``: ``dcb|abcd|cba``).

Input scale: ``uint8`` is used as is, ``uint16`` is scaled by 255/65535 and float
images are taken to be on [0, 1] (scikit-image convention) and scaled by 255.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.errors import SkinTraceError

#: Gaussian σ of Eq. 1 in pixels for 768×640 face crops (see docs/ground-truth.md).
DEFAULT_SIGMA: float = 5.0
#: Fixed threshold Th of Eq. 2 on the Laplacian-pyramid response t (gray levels, 0–255
#: scale) of :func:`pore_texture`; GT parameters default to the calibrated per-image
#: threshold instead (:func:`auto_pore_threshold`).
DEFAULT_PORE_THRESHOLD: float = 8.0

#: Gaussian kernels are truncated at this many σ (as scipy.ndimage's default).
GAUSS_TRUNCATE: float = 4.0

#: Image shape (rows, cols) the pixel sizes σ and the pyramid levels are meant for: a
#: 768×640 face crop, on which a pore is 2–5 px wide (see docs/ground-truth.md).
REFERENCE_SHAPE: tuple[int, int] = (640, 768)

#: Calibrated pore threshold: ``Th = AUTO_PORE_FACTOR × q`` with ``q`` the
#: ``AUTO_PORE_QUANTILE`` percentile of the unthresholded Eq. 2 response over the image,
#: at least ``AUTO_PORE_MIN`` gray levels (chosen by measurement, docs/ground-truth.md).
AUTO_PORE_FACTOR: float = 0.3
AUTO_PORE_QUANTILE: float = 99.0
AUTO_PORE_MIN: float = 1.0
#: Calibrated wrinkle threshold, per pixel: a pixel is kept where Eq. 1 exceeds
#: ``clip(AUTO_WRINKLE_FRACTION × local peak, AUTO_WRINKLE_MIN, AUTO_WRINKLE_MAX)``, the
#: local peak being the maximum of Eq. 1 (rounded to whole gray levels) over a square
#: window of ``AUTO_WRINKLE_WINDOW · 2^level`` px (± 1 to stay odd). A faint wrinkle is cut at
#: 40 % of its own depth; a deep one at the fixed 20 of old (docs/ground-truth.md).
AUTO_WRINKLE_FRACTION: float = 0.4
AUTO_WRINKLE_WINDOW: int = 5
AUTO_WRINKLE_MIN: float = 8.0
AUTO_WRINKLE_MAX: float = 20.0
#: The percentile is taken on a regular subsample of at most this many pixels (a strided
#: grid: deterministic, and cheap next to the maps themselves).
AUTO_SAMPLE_MAX: int = 40_000
#: Subsample size for the typical calibrated wrinkle threshold shown to the user.
AUTO_TYPICAL_SAMPLE: int = 10_000

_BT601 = (0.299, 0.587, 0.114)


class InvalidImageError(SkinTraceError, ValueError):
    """An image array cannot be used: wrong dimensions, dtype, size, or non-finite values."""


def _check_image(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim not in (2, 3):
        raise InvalidImageError(
            f"image must be (M, N) gray or (M, N, C) with C in 1, 3, 4; got {a.ndim} dimensions "
            f"with shape {a.shape}"
        )
    if a.ndim == 3 and a.shape[2] not in (1, 3, 4):
        raise InvalidImageError(
            f"image has {a.shape[2]} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA)"
        )
    if a.size == 0:
        raise InvalidImageError(f"image is empty (shape {a.shape})")
    if a.shape[0] < 2 or a.shape[1] < 2:
        raise InvalidImageError(f"image must be at least 2×2 pixels; got shape {a.shape}")
    if a.dtype not in (np.uint8, np.uint16) and not np.issubdtype(a.dtype, np.floating):
        raise InvalidImageError(
            f"image dtype {a.dtype} is not supported; use uint8, uint16 or float"
        )
    return a


def to_gray(image: np.ndarray) -> np.ndarray:
    """Convert an image to BT.601 luma on a 0–255 scale.

    Parameters
    ----------
    image : (M, N) or (M, N, C) ndarray
        uint8, uint16 or float (on [0, 1]); C is 1 (gray), 3 (RGB) or 4 (RGBA, alpha ignored).

    Returns
    -------
    gray : (M, N) float32 ndarray
        ``0.299 R + 0.587 G + 0.114 B`` (or the gray values), on 0–255.

    Raises
    ------
    InvalidImageError
        A ``ValueError`` for empty, smaller than 2×2, wrong-dimension, unsupported
        dtype or NaN/inf-holding images.
    """
    a = _check_image(image)
    if a.dtype == np.uint8:
        scale = 1.0
    elif a.dtype == np.uint16:
        scale = 255.0 / 65535.0
    else:
        scale = 255.0
    src = np.ascontiguousarray(a, dtype=np.float32)
    channels = 1 if src.ndim == 2 else src.shape[2]
    if channels == 1:
        gray: np.ndarray = src.reshape(src.shape[0], src.shape[1])
        gray = gray * np.float32(scale) if scale != 1.0 else gray.copy()
    else:
        weights = list(_BT601) + [0.0] * (channels - 3)
        m = np.array([weights], dtype=np.float32) * np.float32(scale)
        gray = cv2.transform(src, m).reshape(src.shape[0], src.shape[1])
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(gray).all():
        raise InvalidImageError("image holds NaN or infinite values; replace them before use")
    return gray


def _check_positive(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise InvalidImageError(f"{name} must be a positive finite number; got {value!r}")
    return v


def gaussian_kernel_size(sigma: float) -> int:
    """Odd kernel size used for a Gaussian of standard deviation ``sigma`` (radius ⌊4σ + ½⌋)."""
    return 2 * int(GAUSS_TRUNCATE * sigma + 0.5) + 1


def working_level(shape: tuple[int, ...]) -> int:
    """Pyramid level at which an image of ``shape`` is filtered so σ and Eq. 2 fit its scale.

    The scale is ``s = sqrt(M·N / (640·768))`` (the image's linear size relative to
    :data:`REFERENCE_SHAPE`); the level is ``⌊log2 s⌋`` and at least 0, so images up to
    about 2 MP are filtered at full resolution and a 6000×4000 photo at level 2 (¼ size),
    where its 10–25 px pores are 2.5–6 px wide as on a 768×640 crop.

    Parameters
    ----------
    shape : tuple of int
        ``(M, N[, C])``.

    Returns
    -------
    level : int
        0, 1, 2, ...: the maps are computed on the image reduced ``level`` times by
        ``cv2.pyrDown`` and expanded back by ``cv2.pyrUp``.
    """
    ref = REFERENCE_SHAPE[0] * REFERENCE_SHAPE[1]
    s = math.sqrt(max(int(shape[0]) * int(shape[1]), 1) / ref)
    return max(0, int(math.floor(math.log2(s)))) if s >= 1 else 0


def gaussian_pyramid(gray: np.ndarray, level: int) -> list[np.ndarray]:
    """Gaussian pyramid ``[G_0, ..., G_level]`` of a gray image (OpenCV ``pyrDown``, float32)."""
    levels: list[np.ndarray] = [np.ascontiguousarray(gray, dtype=np.float32)]
    for _ in range(level):
        levels.append(cv2.pyrDown(levels[-1]))
    return levels


def expand_pyramid(a: np.ndarray, pyramid: list[np.ndarray]) -> np.ndarray:
    """Expand an array the size of ``pyramid[-1]`` back to ``pyramid[0]``'s size (``pyrUp``)."""
    for finer in reversed(pyramid[:-1]):
        a = cv2.pyrUp(a, dstsize=(finer.shape[1], finer.shape[0]))
    return a


def wrinkle_texture_from_gray(
    gray: np.ndarray,
    *,
    sigma: float = DEFAULT_SIGMA,
    level: int = 0,
    pyramid: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Eq. 1 on an already converted :func:`to_gray` image (no validation of the image).

    With ``level`` > 0 the surround ``I_Gσ`` is blurred at pyramid level ``level`` (σ in
    that level's pixels, i.e. ≈ σ·2^level full-size pixels) and expanded back; ``I``
    stays the full-resolution image. ``pyramid`` may pass ``gaussian_pyramid(gray, level)``.
    """
    sigma = _check_positive("sigma", sigma)
    k = gaussian_kernel_size(sigma)
    if level > 0:
        levels = pyramid if pyramid is not None else gaussian_pyramid(gray, level)
        small = cv2.GaussianBlur(
            levels[level], (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
        )
        blur: np.ndarray = expand_pyramid(small, levels[: level + 1])
    else:
        blur = cv2.GaussianBlur(
            gray, (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
        )
    # T = (1 - I / (1 + I_G)) * 255, in place to keep 6000×4000 maps cheap.
    blur += np.float32(1.0)
    np.divide(gray, blur, out=blur)
    blur *= np.float32(-255.0)
    blur += np.float32(255.0)
    np.clip(blur, 0.0, 255.0, out=blur)
    return blur


def wrinkle_texture(
    image: np.ndarray, *, sigma: float = DEFAULT_SIGMA, level: int = 0
) -> np.ndarray:
    """Wrinkle texture map, Eq. 1: ``T = (1 - I / (1 + I_Gσ)) × 255`` clipped to [0, 255].

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        Gray, RGB or RGBA; uint8, uint16 or float on [0, 1].
    sigma : float, optional
        Standard deviation of the Gaussian blur ``I_Gσ`` in pixels (kernel truncated
        at 4σ, border ``BORDER_REFLECT_101``).
    level : int, optional
        Pyramid level of the blur (0: full resolution; see :func:`working_level`).

    Returns
    -------
    T : (M, N) float32 ndarray
        Values in [0, 255]; dark thin structures (wrinkles) are high.
    """
    return wrinkle_texture_from_gray(to_gray(image), sigma=sigma, level=level)


def pore_response(
    gray: np.ndarray, *, level: int = 0, pyramid: list[np.ndarray] | None = None
) -> np.ndarray:
    """Unthresholded Eq. 2 response ``t = -(L0 + Expand(L1))`` of a :func:`to_gray` image.

    ``L_i = G_i - Expand(G_{i+1})`` with ``G_{i+1} = Reduce(G_i)``, the Burt–Adelson
    pyramid with the 5-tap kernel [1, 4, 6, 4, 1]/16 (OpenCV ``pyrDown``/``pyrUp``;
    odd sizes expand to the exact size of the finer level).

    With ``level`` > 0 the same two band-pass levels are taken one octave band lower per
    level, ``t = -(L_level + Expand(L_level+1))``, and expanded back to full size, so
    pores ``2^level`` times larger answer as a 768×640 crop's pores do (see
    :func:`working_level`). ``pyramid`` may pass ``gaussian_pyramid(gray, level)``.
    """
    if level > 0:
        levels = pyramid if pyramid is not None else gaussian_pyramid(gray, level)
        return expand_pyramid(pore_response(levels[level]), levels[: level + 1])
    g0 = np.ascontiguousarray(gray, dtype=np.float32)
    size0 = (g0.shape[1], g0.shape[0])
    g1 = cv2.pyrDown(g0)
    g2 = cv2.pyrDown(g1)
    size1 = (g1.shape[1], g1.shape[0])
    l1 = g1 - cv2.pyrUp(g2, dstsize=size1)
    expanded = cv2.pyrUp(l1, dstsize=size0)
    # t = -(L0 + Expand(L1)) = Expand(G1) - G0 - Expand(L1)
    t: np.ndarray = cv2.pyrUp(g1, dstsize=size0)
    t -= g0
    t -= expanded
    return t


def auto_pore_threshold(t: np.ndarray) -> float:
    """Calibrated ``Th`` for an unthresholded Eq. 2 response of one image.

    ``Th = max(AUTO_PORE_MIN, AUTO_PORE_FACTOR × percentile(t, AUTO_PORE_QUANTILE))``
    over a strided subsample of ``t`` (all pixels of small images). The response of a
    pore scales with the image's contrast and exposure, and so does the upper tail of
    ``t``; a share of that tail follows each image where a fixed gray level does not.
    The value depends only on the image, never on a rough mask, so incremental GT stays
    exact.

    Parameters
    ----------
    t : (M, N) float ndarray
        :func:`pore_response` of the image (at the level used for the map).

    Returns
    -------
    th : float
        Gray levels (0–255 scale), rounded to 0.01, in ``[AUTO_PORE_MIN, 255]``.
    """
    a = np.asarray(t)
    step = max(1, int(math.ceil(math.sqrt(a.size / AUTO_SAMPLE_MAX))))
    sample = np.ascontiguousarray(a[::step, ::step], dtype=np.float32).ravel()
    # the order statistic itself (np.partition): 10× cheaper than np.percentile here
    k = int(round(AUTO_PORE_QUANTILE / 100.0 * (sample.size - 1)))
    q = float(np.partition(sample, k)[k]) if sample.size else 0.0
    th = AUTO_PORE_FACTOR * q if math.isfinite(q) else 0.0
    return round(min(255.0, max(AUTO_PORE_MIN, th)), 2)


#: Grid of the calibrated wrinkle comparison: Eq. 1 is compared in steps of 1/2.5 = 0.4
#: gray levels, so the whole rule runs on uint8 arrays (several times cheaper than float).
_WRINKLE_GRID: float = 1.0 / AUTO_WRINKLE_FRACTION


def _wrinkle_peak_u8(texture: np.ndarray, level: int) -> np.ndarray:
    """Local peak of Eq. 1 in whole gray levels, over the rule's window (uint8)."""
    k = AUTO_WRINKLE_WINDOW * (1 << max(0, int(level)))
    k += 1 - k % 2
    se = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    peak: np.ndarray = cv2.dilate(cv2.convertScaleAbs(texture), se)
    return peak


def auto_wrinkle_threshold_map(texture: np.ndarray, *, level: int = 0) -> np.ndarray:
    """Per-pixel calibrated wrinkle threshold of an Eq. 1 map (see ``AUTO_WRINKLE_*``).

    ``clip(0.4 × peak, 8, 20)`` with ``peak`` the maximum of ``round(T)`` over the window.

    Parameters
    ----------
    texture : (M, N) float32 ndarray
        :func:`wrinkle_texture_from_gray` of the image.
    level : int, optional
        Working level (:func:`working_level`); the window grows with it.

    Returns
    -------
    threshold : (M, N) float32 ndarray
        In ``[AUTO_WRINKLE_MIN, AUTO_WRINKLE_MAX]``; depends only on the image, so GT stays
        pointwise in (texture, rough mask) and incremental updates stay exact.
    """
    peak = _wrinkle_peak_u8(np.asarray(texture, dtype=np.float32), level)
    thr = peak.astype(np.float32) * np.float32(AUTO_WRINKLE_FRACTION)
    out: np.ndarray = np.clip(thr, AUTO_WRINKLE_MIN, AUTO_WRINKLE_MAX)
    return out


def _limit_lut() -> np.ndarray:
    # grid peak (2.5 × gray levels) -> threshold in grid units: clip(0.4 × peak in gray
    # levels × 2.5) = clip(0.4 × grid peak, 20, 50), rounded
    lo, hi = round(AUTO_WRINKLE_MIN * _WRINKLE_GRID), round(AUTO_WRINKLE_MAX * _WRINKLE_GRID)
    v = np.rint(np.arange(256) * AUTO_WRINKLE_FRACTION)
    return np.clip(v, lo, hi).astype(np.uint8)


_LIMIT_LUT = _limit_lut()


def apply_auto_wrinkle_threshold(
    texture: np.ndarray, *, level: int = 0, inplace: bool = False
) -> tuple[np.ndarray, float]:
    """Zero an Eq. 1 map where it is at or below :func:`auto_wrinkle_threshold_map`.

    The comparison runs on a 0.4-gray-level grid, on uint8 arrays: with
    ``G = round(2.5 × T)`` (saturated at 255), a pixel is kept where
    ``G > clip(round(0.4 × max_window(G)), 20, 50)``, i.e. ``T > clip(0.4 × peak, 8, 20)``
    up to the grid's 0.4 gray levels.

    Parameters
    ----------
    texture : (M, N) float32 ndarray
        :func:`wrinkle_texture_from_gray` of the image.
    level : int, optional
        Working level (:func:`working_level`); the window grows with it.
    inplace : bool, optional
        Zero the dropped pixels of ``texture`` itself (a writable float32 array) instead
        of returning a new array.

    Returns
    -------
    kept : (M, N) float32 ndarray
        The map where it exceeds its calibrated threshold, else 0.
    typical : float
        The median threshold over the pixels above ``AUTO_WRINKLE_MIN`` (the line
        candidates), on a strided subsample: the value shown to the user.
    """
    t = np.asarray(texture, dtype=np.float32)
    kept = t if inplace else t.copy()
    grid = cv2.convertScaleAbs(t, alpha=_WRINKLE_GRID)  # round(2.5 T), saturated at 255
    k = AUTO_WRINKLE_WINDOW * (1 << max(0, int(level)))
    k += 1 - k % 2
    peak = cv2.dilate(grid, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    limit = cv2.LUT(peak, _LIMIT_LUT)  # threshold in grid units, 20-50
    drop = cv2.compare(grid, limit, cv2.CMP_LE)
    cv2.subtract(kept, kept, dst=kept, mask=drop)  # zero where dropped, in one pass
    step = max(1, int(math.ceil(math.sqrt(t.size / AUTO_TYPICAL_SAMPLE))))
    cand = limit[::step, ::step][t[::step, ::step] > np.float32(AUTO_WRINKLE_MIN)]
    typical = float(np.median(cand)) / _WRINKLE_GRID if cand.size else AUTO_WRINKLE_MIN
    return kept, round(typical, 2)


def threshold_pore_response(
    t: np.ndarray, *, threshold: float, inplace: bool = False
) -> np.ndarray:
    """Hard threshold of Eq. 2: ``T = t`` where ``t > threshold``, else 0 (float32).

    ``inplace`` thresholds ``t`` itself (a writable, contiguous float32 array).
    """
    th = float(threshold)
    if not math.isfinite(th) or th < 0:
        raise InvalidImageError(f"pore threshold must be a finite number ≥ 0; got {threshold!r}")
    src = np.ascontiguousarray(t, dtype=np.float32)
    out = src if inplace and src is t else src.copy()
    # THRESH_TOZERO is exactly "t where t > th, else 0", in one pass
    cv2.threshold(out, float(np.float32(th)), 0.0, cv2.THRESH_TOZERO, dst=out)
    return out


def pore_texture(
    image: np.ndarray, *, threshold: float = DEFAULT_PORE_THRESHOLD, level: int = 0
) -> np.ndarray:
    """Pore texture map, Eq. 2: ``t = -(L0 + Expand(L1))``; ``T = t`` where ``t > Th``, else 0.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        Gray, RGB or RGBA; uint8, uint16 or float on [0, 1]. Odd sizes are fine.
    threshold : float, optional
        ``Th`` in gray levels (0–255 scale), ≥ 0.
    level : int, optional
        Pyramid level of the band-pass (0: full resolution; see :func:`working_level`).

    Returns
    -------
    T : (M, N) float32 ndarray
        ≥ 0; small dark blobs (pores) are positive.
    """
    t = pore_response(to_gray(image), level=level)
    return threshold_pore_response(t, threshold=threshold)
