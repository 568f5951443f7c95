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
#: Threshold Th of Eq. 2 on the Laplacian-pyramid response t (gray levels, 0–255 scale).
DEFAULT_PORE_THRESHOLD: float = 8.0

#: Gaussian kernels are truncated at this many σ (as scipy.ndimage's default).
GAUSS_TRUNCATE: float = 4.0

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


def wrinkle_texture_from_gray(gray: np.ndarray, *, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """Eq. 1 on an already converted :func:`to_gray` image (no validation of the image)."""
    sigma = _check_positive("sigma", sigma)
    k = gaussian_kernel_size(sigma)
    blur: np.ndarray = cv2.GaussianBlur(
        gray, (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
    )
    # T = (1 - I / (1 + I_G)) * 255, in place to keep 6000×4000 maps cheap.
    blur += np.float32(1.0)
    np.divide(gray, blur, out=blur)
    blur *= np.float32(-255.0)
    blur += np.float32(255.0)
    np.clip(blur, 0.0, 255.0, out=blur)
    return blur


def wrinkle_texture(image: np.ndarray, *, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """Wrinkle texture map, Eq. 1: ``T = (1 - I / (1 + I_Gσ)) × 255`` clipped to [0, 255].

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        Gray, RGB or RGBA; uint8, uint16 or float on [0, 1].
    sigma : float, optional
        Standard deviation of the Gaussian blur ``I_Gσ`` in pixels (kernel truncated
        at 4σ, border ``BORDER_REFLECT_101``).

    Returns
    -------
    T : (M, N) float32 ndarray
        Values in [0, 255]; dark thin structures (wrinkles) are high.
    """
    return wrinkle_texture_from_gray(to_gray(image), sigma=sigma)


def pore_response(gray: np.ndarray) -> np.ndarray:
    """Unthresholded Eq. 2 response ``t = -(L0 + Expand(L1))`` of a :func:`to_gray` image.

    ``L_i = G_i - Expand(G_{i+1})`` with ``G_{i+1} = Reduce(G_i)``, the Burt–Adelson
    pyramid with the 5-tap kernel [1, 4, 6, 4, 1]/16 (OpenCV ``pyrDown``/``pyrUp``;
    odd sizes expand to the exact size of the finer level).
    """
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


def threshold_pore_response(t: np.ndarray, *, threshold: float) -> np.ndarray:
    """Hard threshold of Eq. 2: ``T = t`` where ``t > threshold``, else 0 (float32)."""
    th = float(threshold)
    if not math.isfinite(th) or th < 0:
        raise InvalidImageError(f"pore threshold must be a finite number ≥ 0; got {threshold!r}")
    out = t.astype(np.float32, copy=True)
    out[~(out > np.float32(th))] = 0.0
    return out


def pore_texture(image: np.ndarray, *, threshold: float = DEFAULT_PORE_THRESHOLD) -> np.ndarray:
    """Pore texture map, Eq. 2: ``t = -(L0 + Expand(L1))``; ``T = t`` where ``t > Th``, else 0.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        Gray, RGB or RGBA; uint8, uint16 or float on [0, 1]. Odd sizes are fine.
    threshold : float, optional
        ``Th`` in gray levels (0–255 scale), ≥ 0.

    Returns
    -------
    T : (M, N) float32 ndarray
        ≥ 0; small dark blobs (pores) are positive.
    """
    return threshold_pore_response(pore_response(to_gray(image)), threshold=threshold)
