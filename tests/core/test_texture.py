"""Texture maps (Eq. 1, Eq. 2) against an independent scipy computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from core.gt.texture import (
    DEFAULT_PORE_THRESHOLD,
    InvalidImageError,
    pore_response,
    pore_texture,
    to_gray,
    wrinkle_texture,
)

# float32 arithmetic on 0-255 values: a few ULPs of 255 (~1.5e-5) per operation.
TOL = 1e-3

_K = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16.0


def _smooth(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    a = ndi.correlate1d(a, kernel, axis=0, mode="mirror")
    return ndi.correlate1d(a, kernel, axis=1, mode="mirror")


def _reduce(g: np.ndarray) -> np.ndarray:
    """Burt-Adelson REDUCE: 5-tap smoothing (reflect-101 border), keep every other sample."""
    return _smooth(g, _K)[::2, ::2]


def _expand(g: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Burt-Adelson EXPAND: zero-insert to twice the size, smooth with 2×kernel, crop."""
    up = np.zeros((2 * g.shape[0], 2 * g.shape[1]))
    up[::2, ::2] = g
    return _smooth(up, 2.0 * _K)[: shape[0], : shape[1]]


def _reference_pore(gray: np.ndarray) -> np.ndarray:
    g0 = gray.astype(np.float64)
    g1 = _reduce(g0)
    g2 = _reduce(g1)
    l0 = g0 - _expand(g1, g0.shape)
    l1 = g1 - _expand(g2, g1.shape)
    return -(l0 + _expand(l1, g0.shape))


def _reference_wrinkle(gray: np.ndarray, sigma: float) -> np.ndarray:
    g = gray.astype(np.float64)
    blur = ndi.gaussian_filter(g, sigma, mode="mirror", truncate=4.0)
    return np.clip((1.0 - g / (1.0 + blur)) * 255.0, 0.0, 255.0)


def _reference_gray(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (31, 17), (64, 64), (65, 97), (160, 192)])
def test_pore_response_matches_scipy_burt_adelson(rng, shape):
    gray = rng.uniform(0, 255, shape).astype(np.float32)
    np.testing.assert_allclose(pore_response(gray), _reference_pore(gray), atol=TOL, rtol=0)


@pytest.mark.parametrize("sigma", [0.7, 2.0, 4.0, 9.0])
@pytest.mark.parametrize("shape", [(5, 7), (64, 80), (97, 65)])
def test_wrinkle_texture_matches_scipy_gaussian(rng, shape, sigma):
    # Both truncate the Gaussian at radius int(4σ + 0.5): the kernels are identical,
    # so only float32 rounding separates them.
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    ref = _reference_wrinkle(_reference_gray(rgb), sigma)
    np.testing.assert_allclose(wrinkle_texture(rgb, sigma=sigma), ref, atol=TOL, rtol=0)


def test_pore_texture_thresholds_the_response(rng):
    rgb = rng.integers(0, 256, (48, 52, 3), dtype=np.uint8)
    t = _reference_pore(_reference_gray(rgb))
    th = 6.0
    out = pore_texture(rgb, threshold=th)
    expected = np.where(t > th, t, 0.0)
    # Pixels within TOL of Th may fall on either side; compare the others exactly.
    clear = np.abs(t - th) > TOL
    np.testing.assert_allclose(out[clear], expected[clear], atol=TOL, rtol=0)
    assert out.dtype == np.float32 and (out >= 0).all()
    assert (out[out > 0] > th).all()


def test_wrinkle_texture_highlights_a_dark_line():
    img = np.full((40, 40), 180, dtype=np.uint8)
    img[:, 20] = 120  # a dark vertical line
    t = wrinkle_texture(img, sigma=4.0)
    assert t[:, 20].min() > 50
    assert t[:, 5].max() < 5  # flat skin: 255 / (1 + 180) ≈ 1.4


def test_pore_texture_highlights_a_dark_blob():
    img = np.full((41, 43), 170.0, dtype=np.float32)
    img[19:22, 20:23] = 140.0
    t = pore_texture(img / 255.0, threshold=DEFAULT_PORE_THRESHOLD)
    assert t[20, 21] > 10
    assert t[:8, :8].max() == 0


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((12, 10), np.uint8),
        np.zeros((12, 10, 1), np.uint8),
        np.zeros((12, 10, 3), np.uint16),
        np.zeros((12, 10, 4), np.float32),
        np.zeros((12, 10, 3), np.float64),
    ],
    ids=["gray-u8", "gray1-u8", "rgb-u16", "rgba-f32", "rgb-f64"],
)
def test_accepted_dtypes_and_channels(image):
    assert wrinkle_texture(image).shape == (12, 10)
    assert pore_texture(image).shape == (12, 10)
    assert wrinkle_texture(image).dtype == np.float32


def test_dtype_scaling_is_consistent(rng):
    u8 = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    u16 = u8.astype(np.uint16) * 257
    f = u8.astype(np.float64) / 255.0
    rgba = np.concatenate([u8, np.full((20, 24, 1), 7, np.uint8)], axis=2)
    ref = to_gray(u8)
    np.testing.assert_allclose(ref, _reference_gray(u8), atol=TOL)
    for other in (u16, f, rgba):
        np.testing.assert_allclose(to_gray(other), ref, atol=TOL)


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.zeros((1, 1, 3), np.uint8), "2×2"),
        (np.zeros((1, 9), np.uint8), "2×2"),
        (np.zeros((4, 4, 3, 1), np.uint8), "dimensions"),
        (np.zeros(5, np.uint8), "dimensions"),
        (np.zeros((4, 4, 2), np.uint8), "channels"),
        (np.zeros((4, 4), np.int32), "dtype"),
        (np.array([[0.1, np.nan], [0.2, 0.3]]), "NaN"),
    ],
    ids=["empty", "one-pixel", "one-row", "4d", "1d", "2ch", "int32", "nan"],
)
def test_invalid_images_raise_value_error(image, words):
    for fn in (wrinkle_texture, pore_texture):
        with pytest.raises(ValueError, match=words):
            fn(image)


def test_invalid_parameters(rng):
    img = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    with pytest.raises(InvalidImageError, match="sigma"):
        wrinkle_texture(img, sigma=0)
    with pytest.raises(InvalidImageError, match="threshold"):
        pore_texture(img, threshold=-1)


def test_input_is_not_modified(rng):
    img = rng.integers(0, 256, (16, 18, 3), dtype=np.uint8)
    before = img.copy()
    wrinkle_texture(img)
    pore_texture(img)
    np.testing.assert_array_equal(img, before)


# -- working scale and calibrated thresholds (issue #9) ---------------------------------


@pytest.mark.parametrize(
    "shape, level",
    [((640, 768), 0), ((256, 256), 0), ((1801, 787), 0), ((1500, 2000), 1), ((4000, 6000), 2)],
)
def test_working_level_follows_image_size(shape, level):
    from core.gt.texture import working_level

    assert working_level(shape) == level
    assert working_level((*shape, 3)) == level


def test_pore_response_at_a_level_is_the_coarser_band_expanded(rng):
    from core.gt.texture import expand_pyramid, gaussian_pyramid

    g = rng.uniform(0, 255, (45, 61)).astype(np.float32)
    pyramid = gaussian_pyramid(g, 1)
    assert [p.shape for p in pyramid] == [(45, 61), (23, 31)]
    t1 = pore_response(g, level=1)
    assert t1.shape == g.shape
    # independent: the scipy pyramid of the reduced image, expanded to full size
    small = _reduce(g.astype(np.float64))
    np.testing.assert_allclose(pyramid[1], small, atol=TOL)
    ref = _expand(_reference_pore(small), g.shape)
    np.testing.assert_allclose(t1, ref, atol=2 * TOL)
    np.testing.assert_array_equal(expand_pyramid(pore_response(pyramid[1]), pyramid), t1)


def _blob_image(scale: int) -> np.ndarray:
    """Flat skin with smooth dark pores (Gaussian profile, σ 1.5·scale px) on a grid."""
    n = 96 * scale
    yy, xx = np.mgrid[0:n, 0:n]
    dark = np.zeros((n, n))
    for r in range(12 * scale, n - 8 * scale, 16 * scale):
        for c in range(12 * scale, n - 8 * scale, 16 * scale):
            dark += 30.0 * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * (1.5 * scale) ** 2))
    return (160.0 - dark).astype(np.float32)


def test_pores_four_times_as_large_answer_at_level_two_as_small_pores_at_level_zero():
    # a pore of a 6000×4000 photo is ~4× wider than on a 768×640 crop
    reference = pore_response(_blob_image(1)).max()
    large = _blob_image(4)
    at_level = pore_response(large, level=2).max()
    at_full_resolution = pore_response(large).max()
    assert at_level > 0.7 * reference  # Th chosen at the reference scale still fits
    assert at_full_resolution < 0.35 * reference  # large pores fall below it


def test_wrinkle_texture_at_a_level_uses_a_wider_surround(rng):
    g = rng.uniform(60, 200, (80, 96)).astype(np.float32)
    w0 = wrinkle_texture(g / 255.0, sigma=2.0)
    w1 = wrinkle_texture(g / 255.0, sigma=2.0, level=1)
    wide = wrinkle_texture(g / 255.0, sigma=4.0)
    assert w1.shape == g.shape and w1.dtype == np.float32
    # σ 2 at level 1 is close to σ 4 at full resolution, not to σ 2
    assert np.abs(w1 - wide).mean() < 0.5 * np.abs(w0 - wide).mean()


def test_auto_pore_threshold_follows_contrast_and_has_a_floor(rng):
    from core.gt.texture import AUTO_PORE_MIN, auto_pore_threshold

    t = rng.normal(0, 2, (300, 400)).astype(np.float32)
    t[rng.random(t.shape) < 0.03] += 20.0  # pores: the upper tail
    th = auto_pore_threshold(t)
    expected = 0.3 * np.percentile(t, 99)
    assert th == pytest.approx(expected, rel=0.05)
    assert auto_pore_threshold(t * 0.5) == pytest.approx(th * 0.5, rel=0.02)
    assert auto_pore_threshold(np.zeros((50, 50), np.float32)) == AUTO_PORE_MIN


def test_auto_wrinkle_threshold_matches_a_scipy_reference(rng):
    from core.gt.texture import apply_auto_wrinkle_threshold, auto_wrinkle_threshold_map

    t = rng.uniform(0, 70, (37, 53)).astype(np.float32)
    thr = auto_wrinkle_threshold_map(t)
    peak = ndi.maximum_filter(np.clip(np.rint(t), 0, 255), size=5, mode="nearest")
    np.testing.assert_allclose(thr, np.clip(0.4 * peak, 8.0, 20.0), atol=1e-5)
    kept, typical = apply_auto_wrinkle_threshold(t)
    # compared on a 0.4-gray-level grid G = round(2.5 T): G > clip(round(0.4 max(G)), 20, 50)
    grid = np.clip(np.rint(2.5 * t.astype(np.float64)), 0, 255)
    grid_peak = ndi.maximum_filter(grid, size=5, mode="nearest")
    on_grid = grid > np.clip(np.rint(0.4 * grid_peak), 20, 50)
    np.testing.assert_array_equal(kept, np.where(on_grid, t, 0.0).astype(np.float32))
    assert np.mean(on_grid == (t > thr)) > 0.97  # the same rule up to 0.2 gray levels
    assert 8.0 <= typical <= 20.0
    own = t.copy()
    same, _ = apply_auto_wrinkle_threshold(own, inplace=True)
    assert same is own and np.array_equal(same, kept)


def _lines(depths: tuple[float, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Gray skin (noise σ 1.5) with one 3-px horizontal line per relative depth."""
    rng = np.random.default_rng(3)
    img = 150.0 + rng.normal(0, 1.5, (120, 160))
    truths = []
    for i, depth in enumerate(depths):
        r = 30 + 60 * i
        truth = np.zeros(img.shape, bool)
        truth[r - 1 : r + 2, 20:140] = True
        img[truth] *= 1.0 - depth
        truths.append(truth)
    return np.clip(img, 0, 255).astype(np.uint8), truths


def test_calibrated_wrinkle_threshold_keeps_faint_lines_a_fixed_one_drops():
    from core.gt.engine import GTParams, compute_gt

    img, truths = _lines((0.06, 0.30))  # Eq. 1 peaks ≈ 15 and ≈ 75
    bands = [ndi.binary_dilation(t, iterations=4) for t in truths]
    rough = {"wrinkle": bands[0] | bands[1]}

    def iou_in(gt, i):
        return ((gt & bands[i]) & truths[i]).sum() / ((gt & bands[i]) | truths[i]).sum()

    auto = compute_gt(img, rough, GTParams(sigma=4.0))["wrinkle"] > 0
    fixed = compute_gt(img, rough, GTParams(sigma=4.0, wrinkle_threshold=20.0))["wrinkle"] > 0
    assert iou_in(auto, 0) > 0.7 and iou_in(auto, 1) > 0.7
    assert iou_in(fixed, 0) < 0.2 and iou_in(fixed, 1) > 0.7
