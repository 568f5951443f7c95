"""Synthetic faces: determinism, layout, distractors, simulated annotator, GT recovery."""

from __future__ import annotations

import numpy as np
import pytest

from core.demo.synthetic import SyntheticFace, make_face, simulate_annotator
from core.gt.engine import GTParams, compute_gt

SMALL = (160, 192)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope="module")
def faces() -> list[SyntheticFace]:
    return [make_face(seed) for seed in (0, 1, 2)]


def test_same_seed_same_face_and_different_seeds_differ():
    a, b, c = make_face(7, shape=SMALL), make_face(7, shape=SMALL), make_face(8, shape=SMALL)
    for name in ("image", "wrinkle", "pore", "rough_wrinkle", "rough_pore"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.image, c.image)
    assert not np.array_equal(a.pore, c.pore)


@pytest.mark.parametrize("shape", [SMALL, (100, 333), (640, 768)])
def test_shapes_dtypes_and_read_only(shape):
    f = make_face(3, shape=shape)
    assert f.image.shape == (*shape, 3) and f.image.dtype == np.uint8
    assert f.shape == shape
    for m in (f.wrinkle, f.pore, f.rough_wrinkle, f.rough_pore, *f.regions.values()):
        assert m.shape == shape and m.dtype == np.bool_
        assert not m.flags.writeable
    assert not f.image.flags.writeable
    assert f.wrinkle.any() and f.pore.any()
    assert not (f.wrinkle & f.pore).any()


def test_too_small_shape_refused():
    with pytest.raises(ValueError, match="32×32"):
        make_face(0, shape=(20, 40))


def test_skin_toned(faces):
    mean = faces[0].image.reshape(-1, 3).mean(axis=0)
    assert mean[0] > mean[1] > mean[2]  # red > green > blue, as skin
    assert 120 < mean[0] < 250


def test_labels_live_in_their_zones(faces):
    for f in faces:
        # pores only on cheeks and nose
        assert not (f.pore & ~f.regions["pore_zone"]).any()
        # wrinkles on forehead, glabella and around the eyes, never on the cheeks
        assert not (f.wrinkle & f.regions["cheeks"]).any()
        assert f.wrinkle[f.regions["forehead"]].sum() > 0.5 * f.wrinkle.sum()


def test_unlabelled_distractors_are_there(faces):
    """Dark structures exist outside the labels: brows, eyes, moles, hair, stray dots."""
    f = faces[0]
    gray = f.image.astype(np.float32).mean(axis=2)
    local = gray < np.percentile(gray, 3)  # the darkest 3 % of pixels
    labelled = f.wrinkle | f.pore
    assert (local & ~labelled).sum() > 0.5 * local.sum()
    brow_band = np.zeros(f.shape, bool)
    brow_band[int(0.28 * 640) : int(0.37 * 640), : int(0.4 * 768)] = True
    assert (local & brow_band).sum() > 100 and not (labelled & brow_band & local).any()
    # pore-like dots on the forehead respond to Eq. 2 but carry no pore label
    from core.gt.texture import pore_texture

    t = pore_texture(f.image) > 0
    forehead_dots = t & f.regions["forehead"] & ~f.wrinkle
    assert forehead_dots.sum() > 20 and not (forehead_dots & f.pore).any()


def test_simulated_rough_masks_are_dilated_wobbly_with_misses(faces):
    f = faces[0]
    for cls in ("wrinkle", "pore"):
        known, rough = f.masks[cls], f.rough[cls]
        covered = (known & rough).sum() / known.sum()
        assert 0.75 < covered < 1.0  # some structures missed
        assert rough.sum() > 2 * known.sum()  # generous margin
    none_missed = simulate_annotator(f, seed=5, miss_rate=0.0)
    assert (f.wrinkle & ~none_missed["wrinkle"]).sum() == 0
    assert (f.pore & ~none_missed["pore"]).sum() == 0
    again = simulate_annotator(f, seed=5, miss_rate=0.0)
    np.testing.assert_array_equal(again["pore"], none_missed["pore"])
    other = simulate_annotator(f, seed=6, miss_rate=0.0)
    assert not np.array_equal(other["wrinkle"], none_missed["wrinkle"])  # wobble differs
    most_missed = simulate_annotator(f, seed=5, miss_rate=0.9)
    assert (f.pore & most_missed["pore"]).sum() < 0.3 * f.pore.sum()
    with pytest.raises(ValueError, match="miss_rate"):
        simulate_annotator(f, seed=1, miss_rate=1.5)


def test_gt_from_simulated_rough_recovers_known_masks(faces):
    """Default GTParams + the simulated annotator reach IoU ≥ 0.85 (wrinkle), ≥ 0.80 (pore).

    Measured: wrinkle 0.92, pore 0.84–0.89 on seeds 0–2 (docs/ground-truth.md).
    The gap to 1.0 is mostly the annotator's misses (8 % of structures).
    """
    for f in faces:
        gt = compute_gt(f.image, f.rough, GTParams())
        assert _iou(gt["wrinkle"] > 0, f.wrinkle) >= 0.85
        assert _iou(gt["pore"] > 0, f.pore) >= 0.80
        # the rough mask alone is far worse: the texture map is what makes GT pixel-exact
        assert _iou(f.rough_wrinkle, f.wrinkle) < 0.5


def test_texture_without_rough_mask_would_label_distractors(faces):
    """Why the rough mask matters: Eq. 1 alone fires on brows, eyes and hair."""
    f = faces[0]
    everywhere = np.ones(f.shape, bool)
    gt = compute_gt(f.image, {"wrinkle": everywhere}, GTParams())
    assert _iou(gt["wrinkle"] > 0, f.wrinkle) < 0.6
