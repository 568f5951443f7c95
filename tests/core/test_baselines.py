"""Image-processing baselines: sensible masks on synthetic faces, no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from core.baselines import baseline_maps, frangi_wrinkles, kmeans_1d, kmeans_pores
from core.synthetic import make_face


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@pytest.fixture(scope="module")
def faces():
    return [make_face(seed, shape=(320, 384)) for seed in (0, 1)]


def test_frangi_finds_the_wrinkles(faces):
    for face in faces:
        mask = frangi_wrinkles(face.image)
        assert mask.shape == face.shape and mask.dtype == bool
        assert _iou(mask, face.wrinkle) > 0.25
        # better than chance: most of the known wrinkle pixels are found
        assert mask[face.wrinkle].mean() > 0.5


def test_kmeans_finds_the_pores_and_not_the_wrinkles(faces):
    for face in faces:
        mask = kmeans_pores(face.image)
        assert _iou(mask, face.pore) > 0.3
        # the roundness filter keeps long wrinkles out
        assert (mask & face.wrinkle).sum() < 0.2 * face.wrinkle.sum()


def test_baselines_on_flat_image_find_nothing():
    flat = np.full((64, 80, 3), 180, np.uint8)
    maps = baseline_maps(flat)
    assert maps["wrinkle"].max() == 0 and maps["pore"].max() == 0


def test_baseline_maps_are_0_or_255(faces):
    maps = baseline_maps(faces[0].image)
    for m in maps.values():
        assert m.dtype == np.uint8 and set(np.unique(m)) <= {0, 255}


def test_kmeans_1d_separates_clusters():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(-10, 1, 200), rng.normal(0, 1, 500), rng.normal(10, 1, 100)])
    labels, centers = kmeans_1d(v, 3)
    np.testing.assert_allclose(centers, [-10, 0, 10], atol=0.5)
    assert (labels[:200] == 0).all() and (labels[-100:] == 2).all()
    with pytest.raises(ValueError, match="k >= 2"):
        kmeans_1d(v, 1)


def test_bad_image_shape():
    with pytest.raises(ValueError, match="image"):
        frangi_wrinkles(np.zeros((4, 4, 2)))


def test_baselines_do_not_import_torch():
    code = "import sys, core.baselines, core.model.masks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
