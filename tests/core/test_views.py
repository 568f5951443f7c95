"""View-only skin filters: colour, gray, green channel, CLAHE."""

from __future__ import annotations

import numpy as np
import pytest

from core.gt.texture import to_gray
from core.gt.views import VIEWS, ViewError, skin_view


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.empty((48, 64, 3), np.uint8)
    img[..., 0] = 200
    img[..., 1] = 150 + rng.integers(-3, 4, (48, 64))  # faint texture in green
    img[..., 2] = 120
    img[20:22, 10:50, 1] -= 6  # a faint 2-px crease
    return img


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_is_a_new_rgb_image_and_leaves_the_input(view):
    img = _image()
    before = img.copy()
    out = skin_view(img, view)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.shares_memory(out, img)
    np.testing.assert_array_equal(img, before)


def test_gray_and_green_views():
    img = _image()
    gray = skin_view(img, "gray")
    assert np.array_equal(gray[..., 0], gray[..., 2])
    assert np.abs(gray[..., 0].astype(float) - to_gray(img)).max() <= 0.5
    green = skin_view(img, "green")
    assert all(np.array_equal(green[..., k], img[..., 1]) for k in range(3))


def test_clahe_raises_the_contrast_of_faint_texture():
    img = _image()
    out = skin_view(img, "clahe")

    def crease_contrast(a):
        g = to_gray(a)
        return float(g[25:40, 10:50].mean() - g[20:22, 10:50].mean())

    assert crease_contrast(out) > 2 * crease_contrast(img)
    assert to_gray(out).std() > 2 * to_gray(img).std()


def test_bad_views():
    with pytest.raises(ViewError, match="unknown image view 'sepia'"):
        skin_view(_image(), "sepia")
    with pytest.raises(ViewError, match="uint8"):
        skin_view(np.zeros((4, 4)), "gray")
    with pytest.raises(ViewError, match="clip_limit"):
        skin_view(_image(), "clahe", clip_limit=0)
