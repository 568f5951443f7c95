"""Image-processing baselines: sensible masks on synthetic faces, no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from core.demo.synthetic import make_face
from core.gt.baselines import baseline_maps, frangi_wrinkles, kmeans_1d, kmeans_pores


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
    code = "import sys, core.gt.baselines, core.model.masks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- skin restriction


def _precision(pred: np.ndarray, truth: np.ndarray, tolerance: int = 2) -> float:
    """Share of predicted pixels within ``tolerance`` px of a true one."""
    import cv2

    near = cv2.dilate(truth.astype(np.uint8), np.ones((2 * tolerance + 1,) * 2, np.uint8)) > 0
    return float((pred & near).sum() / max(int(pred.sum()), 1))


def test_skin_mask_keeps_the_face_and_drops_hair_clothes_and_background():
    from core.demo.projects import astronaut_crop
    from core.gt.baselines import skin_mask

    rows, cols = 160, 192
    skin = skin_mask(astronaut_crop(shape=(rows, cols)))
    assert skin.shape == (rows, cols) and skin.dtype == bool
    at = {
        name: bool(skin[int(r * rows), int(c * cols)])
        for name, (r, c) in {
            "cheek": (0.5, 0.3),
            "forehead": (0.33, 0.5),
            "hair": (0.09, 0.39),
            "suit": (0.95, 0.05),
            "collar": (0.85, 0.3),
            "background": (0.3, 0.85),
        }.items()
    }
    assert at == {
        "cheek": True,
        "forehead": True,
        "hair": False,
        "suit": False,
        "collar": False,
        "background": False,
    }
    # a gray image has no colour to judge: all of it may hold pre-labels
    assert skin_mask(np.full((8, 9), 120, np.uint8)).all()


def _face_with_clothes(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic face whose bottom fifth is a blue striped shirt with a collar edge."""
    import cv2

    face = make_face(seed, shape=(320, 384))
    image = np.array(face.image)
    top = 256
    image[top:] = (40, 60, 140)
    for col in range(10, 384, 24):  # dark stripes: thin ridges like wrinkles
        cv2.line(image, (col, top + 4), (col + 8, 319), (20, 30, 80), 2)
    image[top : top + 3] = (15, 15, 20)  # a dark collar line across the whole width
    return image, face.wrinkle


def test_baselines_stay_on_skin_and_precision_improves():
    from core.gt.baselines import FrangiParams, baseline_masks, frangi_wrinkles, kmeans_pores

    image, wrinkle = _face_with_clothes(0)
    raw = FrangiParams(max_depth=np.inf, max_straight_length=np.inf)
    before = {"wrinkle": frangi_wrinkles(image, params=raw), "pore": kmeans_pores(image)}
    after = baseline_masks(image)
    assert before["wrinkle"][256:].sum() > 200  # the unrestricted filter marks the shirt
    assert not after["wrinkle"][256:].any() and not after["pore"][256:].any()
    # ... and most of the labelled wrinkles are still found, with fewer false pixels
    assert after["wrinkle"][wrinkle].mean() > 0.5
    assert _precision(after["wrinkle"], wrinkle) > _precision(before["wrinkle"], wrinkle) + 0.2
    # skin=None looks at the whole image again
    assert (baseline_masks(image, skin=None)["pore"] == before["pore"]).all()


def test_drop_non_wrinkles_keeps_shallow_lines_only():
    import cv2

    from core.gt.baselines import drop_non_wrinkles

    gray = np.full((200, 300), 200.0, np.float32)
    shallow = np.zeros(gray.shape, np.uint8)
    cv2.ellipse(shallow, (150, 120), (60, 20), 0, 200, 340, 1, 2)
    deep = np.zeros(gray.shape, np.uint8)
    cv2.line(deep, (20, 40), (90, 50), 1, 2)
    straight = np.zeros(gray.shape, np.uint8)
    cv2.line(straight, (5, 180), (295, 182), 1, 2)
    gray[shallow > 0] *= 0.8  # a wrinkle: 20 % darker than the skin around it
    gray[deep > 0] *= 0.4  # an eyebrow hair or an eye outline
    gray[straight > 0] *= 0.8  # as shallow, but straight across the whole image
    mask = (shallow | deep | straight) > 0
    kept = drop_non_wrinkles(mask, gray)
    assert kept[shallow > 0].all()
    assert not kept[deep > 0].any() and not kept[straight > 0].any()
    assert not drop_non_wrinkles(np.zeros_like(mask), gray).any()


def test_region_must_match_the_image():
    with pytest.raises(ValueError, match="region shape"):
        frangi_wrinkles(np.zeros((8, 8)), region=np.ones((4, 4), bool))
