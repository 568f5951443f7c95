"""Ground truth = thresholded texture × rough mask; parameters; texture reuse."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.gt.engine import (
    GTParams,
    GTParamsError,
    TextureMaps,
    compute_gt,
    compute_textures,
    gt_from_rough,
)
from core.gt.texture import pore_texture, wrinkle_texture


def test_params_round_trip_and_unknown_keys():
    p = GTParams(sigma=3.5, wrinkle_threshold=12, pore_threshold=2.5, pore_gain=4)
    d = p.to_dict()
    assert d["sigma"] == 3.5 and d["pore_gain"] == 4.0
    assert GTParams.from_dict({**d, "future_option": 1}) == p
    assert GTParams.from_dict({}) == GTParams()


@pytest.mark.parametrize(
    "bad",
    [
        {"sigma": 0},
        {"sigma": -1},
        {"sigma": float("nan")},
        {"wrinkle_threshold": 300},
        {"pore_threshold": -0.1},
        {"pore_gain": 0},
        {"sigma": "wide"},
    ],
)
def test_params_validate_ranges(bad):
    with pytest.raises(GTParamsError, match=next(iter(bad))):
        GTParams.from_dict(bad)


def test_params_are_frozen():
    with pytest.raises(AttributeError):
        GTParams().sigma = 2.0  # type: ignore[misc]


def test_gt_from_rough_by_hand():
    texture = np.array([[0.0, 10.0, 30.4], [30.6, 300.0, 20.0]], dtype=np.float32)
    rough = np.array([[True, True, True], [True, True, False]])
    gt = gt_from_rough(texture, rough, threshold=20.0)
    np.testing.assert_array_equal(gt, [[0, 0, 30], [31, 255, 0]])
    assert gt.dtype == np.uint8
    gt2 = gt_from_rough(texture, rough, threshold=5.0, gain=0.01)
    # kept pixels are at least 1 even when gain × T rounds to 0
    np.testing.assert_array_equal(gt2, [[0, 1, 1], [1, 3, 0]])


def test_gt_is_zero_outside_rough_and_binary_mask_is_threshold_and_rough(rng):
    texture = rng.uniform(0, 60, (30, 40)).astype(np.float32)
    rough = rng.random((30, 40)) < 0.4
    gt = gt_from_rough(texture, rough, threshold=25.0, gain=3.0)
    np.testing.assert_array_equal(gt > 0, (texture > 25.0) & rough)
    np.testing.assert_array_equal(
        gt[gt > 0], np.clip(np.rint(texture[gt > 0] * 3.0), 1, 255).astype(np.uint8)
    )


def test_gt_from_rough_refuses_an_auto_threshold():
    with pytest.raises(GTParamsError, match="TextureMaps.threshold"):
        gt_from_rough(np.zeros((3, 4), np.float32), np.zeros((3, 4), bool), threshold=None)


def test_gt_from_rough_shape_mismatch():
    with pytest.raises(GTParamsError, match="same shape"):
        gt_from_rough(np.zeros((3, 4), np.float32), np.zeros((4, 3), bool), threshold=1)


def test_compute_gt_from_image_equals_from_textures(rng):
    img = rng.integers(0, 256, (50, 61, 3), dtype=np.uint8)
    params = GTParams(sigma=3.0, wrinkle_threshold=10, pore_threshold=3)
    rough = {"wrinkle": rng.random((50, 61)) < 0.5, "pore": rng.random((50, 61)) < 0.5}
    tex = compute_textures(img, params)
    a = compute_gt(img, rough, params)
    b = compute_gt(tex, rough, params)
    for cls in ("wrinkle", "pore"):
        np.testing.assert_array_equal(a[cls], b[cls])
    np.testing.assert_array_equal(tex.wrinkle, wrinkle_texture(img, sigma=3.0))
    np.testing.assert_array_equal(tex.pore, pore_texture(img, threshold=3.0))
    expected = gt_from_rough(tex.pore, rough["pore"], threshold=3.0, gain=params.pore_gain)
    np.testing.assert_array_equal(a["pore"], expected)


def test_compute_gt_missing_class_is_zero_and_unknown_class_refused(rng):
    img = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    gt = compute_gt(img, {"wrinkle": np.ones((20, 20), bool)}, GTParams())
    assert gt["pore"].dtype == np.uint8 and not gt["pore"].any()
    with pytest.raises(ValueError, match="unknown class"):
        compute_gt(img, {"acne": np.ones((20, 20), bool)}, GTParams())


def test_textures_reused_only_when_their_parameter_is_unchanged(rng):
    img = rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)
    p = GTParams(sigma=3.0, pore_threshold=2.0, wrinkle_threshold=20)
    tex = compute_textures(img, p)
    assert not tex.wrinkle.flags.writeable and not tex.pore.flags.writeable
    same_sigma = compute_textures(img, replace(p, pore_threshold=5.0), reuse=tex)
    assert same_sigma.wrinkle is tex.wrinkle and same_sigma.pore is not tex.pore
    same_th = compute_textures(img, replace(p, sigma=6.0), reuse=tex)
    assert same_th.pore is tex.pore and same_th.wrinkle is not tex.wrinkle
    np.testing.assert_array_equal(same_th.wrinkle, wrinkle_texture(img, sigma=6.0))
    only_threshold = compute_textures(
        img, GTParams(sigma=3.0, pore_threshold=2.0, wrinkle_threshold=99), reuse=tex
    )
    assert only_threshold.wrinkle is tex.wrinkle and only_threshold.pore is tex.pore


def test_compute_gt_refuses_stale_textures(rng):
    img = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    tex = compute_textures(img, GTParams(sigma=3.0))
    assert isinstance(tex, TextureMaps) and tex.shape == (20, 20)
    with pytest.raises(GTParamsError, match="recompute"):
        compute_gt(tex, {}, GTParams(sigma=4.0))


# -- calibrated thresholds (issue #9) ----------------------------------------------------


def test_thresholds_default_to_auto_and_round_trip_as_auto():
    d = GTParams()
    assert d.wrinkle_threshold is None and d.pore_threshold is None
    assert d.is_auto("wrinkle") and d.is_auto("pore")
    assert d.to_dict()["pore_threshold"] == "auto" == d.to_dict()["wrinkle_threshold"]
    assert GTParams.from_dict(d.to_dict()) == d
    assert GTParams.from_dict({"pore_threshold": "AUTO", "wrinkle_threshold": None}) == d
    # numbers (what older projects stored) stay fixed thresholds
    old = GTParams.from_dict({"sigma": 5, "wrinkle_threshold": 20, "pore_threshold": 8})
    assert old.wrinkle_threshold == 20.0 and old.pore_threshold == 8.0
    assert not old.is_auto("pore")
    with pytest.raises(GTParamsError, match="pore_threshold must be a number .* or 'auto'"):
        GTParams.from_dict({"pore_threshold": "automatic"})
    with pytest.raises(GTParamsError, match="wrinkle_threshold"):
        GTParams.from_dict({"wrinkle_threshold": True})


def test_calibrated_maps_report_the_chosen_values():
    from core.demo.synthetic import make_face
    from core.gt.texture import auto_pore_threshold, pore_response, to_gray

    face = make_face(2, shape=(160, 192))
    tex = compute_textures(face.image, GTParams())
    t = pore_response(to_gray(face.image))
    assert tex.pore_used == auto_pore_threshold(t)
    np.testing.assert_array_equal(tex.pore, np.where(t > tex.pore_used, t, 0))
    assert tex.chosen("pore", GTParams()) == tex.pore_used
    assert 8.0 <= tex.chosen("wrinkle", GTParams()) <= 20.0
    fixed = GTParams(wrinkle_threshold=17.0, pore_threshold=3.0)
    tex_fixed = compute_textures(face.image, fixed)
    assert tex_fixed.chosen("wrinkle", fixed) == 17.0 and tex_fixed.chosen("pore", fixed) == 3.0
    # switching a threshold between auto and fixed recomputes its map
    with pytest.raises(GTParamsError, match="recompute"):
        compute_gt(tex, {}, fixed)


def test_default_pore_gt_follows_exposure_where_a_fixed_threshold_does_not():
    from core.demo.synthetic import make_face

    face = make_face(0)
    dim = (face.image.astype(np.float32) * 0.5).astype(np.uint8)

    def pore_iou(img, params):
        gt = compute_gt(img, {"pore": face.rough_pore}, params)["pore"] > 0
        return (gt & face.pore).sum() / (gt | face.pore).sum()

    auto_bright, auto_dim = pore_iou(face.image, GTParams()), pore_iou(dim, GTParams())
    fixed = GTParams(pore_threshold=8.0)
    fixed_bright, fixed_dim = pore_iou(face.image, fixed), pore_iou(dim, fixed)
    assert auto_bright >= fixed_bright - 0.01  # no worse than the old default
    assert auto_dim > 0.8 and auto_dim > fixed_dim + 0.1
