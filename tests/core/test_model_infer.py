"""Inference: uint8 maps at input size, batching and tiling agree with a plain forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.classes import CLASSES
from core.errors import SkinTraceError
from core.model.checkpoint import save_checkpoint
from core.model.device import DeviceError, resolve_device
from core.model.infer import Predictor, _window, to_tensor
from core.model.masks import DEFAULT_MASK_LEVEL, maps_to_masks, mask_levels_from_gt
from core.model.registry import create_model

torch.set_num_threads(2)


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(3)
    model = create_model("proposed", width=4, zero_pad=8)
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32))
    return save_checkpoint(
        tmp_path / "ck",
        model.eval(),
        name="proposed",
        config={"width": 4, "zero_pad": 8},
        metadata={"mask_levels": {"wrinkle": 100.0, "pore": 120.0}},
    )


def _images(rng, shapes):
    return [rng.integers(0, 256, size=(*s, 3), dtype=np.uint8) for s in shapes]


def test_maps_are_uint8_at_input_size(checkpoint, rng):
    pred = Predictor(checkpoint, device="cpu", batch_size=2)
    images = _images(rng, [(40, 56), (40, 56), (40, 56), (23, 31)])
    out = pred.predict(images)
    assert len(out) == 4
    for im, maps in zip(images, out, strict=True):
        assert set(maps) == set(CLASSES)
        for m in maps.values():
            assert m.dtype == np.uint8 and m.shape == im.shape[:2]


def test_batched_equals_one_by_one(checkpoint, rng):
    images = _images(rng, [(40, 56)] * 3)
    batched = Predictor(checkpoint, device="cpu", batch_size=3).predict(images)
    single = Predictor(checkpoint, device="cpu", batch_size=1).predict(images)
    for a, b in zip(batched, single, strict=True):
        for c in CLASSES:
            assert np.abs(a[c].astype(int) - b[c].astype(int)).max() <= 1


def test_tiled_prediction_matches_whole_image(tmp_path, rng):
    torch.manual_seed(5)
    model = create_model("reduced-unet", width=4).eval()
    with torch.no_grad():
        model.outc.conv.weight.mul_(200.0)  # spread the sigmoid outputs over (0, 1)
        model.outc.conv.bias.zero_()
    ck = save_checkpoint(tmp_path / "ck2", model, name="reduced-unet", config={"width": 4})
    image = _images(rng, [(96, 150)])[0]
    pred = Predictor(ck, device="cpu", tile=64, overlap=24)
    whole = pred._forward(to_tensor([image]))[0]
    tiled = pred._predict_tiled(image)
    assert tiled.shape == whole.shape == (2, 96, 150)
    assert whole.std() > 0.05
    # tiles see less context, so values differ a little, but the maps agree closely
    assert np.mean(np.abs(tiled - whole)) < 0.05
    for k in range(2):
        assert np.corrcoef(tiled[k].ravel(), whole[k].ravel())[0, 1] > 0.9
    maps = pred.predict([image])[0]
    np.testing.assert_array_equal(maps["pore"], np.rint(tiled[1] * 255).astype(np.uint8))


def test_window_is_positive_and_symmetric():
    w = _window(64, 16)
    assert (w > 0).all() and np.allclose(w, w[::-1]) and w[32] == 1.0


def test_mask_levels_from_checkpoint_and_rule(checkpoint, rng):
    pred = Predictor(checkpoint, device="cpu")
    assert pred.mask_levels == {"wrinkle": 100.0, "pore": 120.0}
    image = _images(rng, [(40, 56)])[0]
    maps = pred.predict([image])[0]
    masks = pred.predict_masks([image])[0]
    np.testing.assert_array_equal(masks["wrinkle"], maps["wrinkle"] >= 100)
    np.testing.assert_array_equal(masks["pore"], maps["pore"] >= 120)


def test_mask_levels_from_gt_are_half_the_median_foreground():
    gt = {"wrinkle": np.array([[0, 10, 20, 30]], np.uint8), "pore": np.zeros((1, 4), np.uint8)}
    levels = mask_levels_from_gt([gt, gt])
    assert levels == {"wrinkle": 10.0, "pore": DEFAULT_MASK_LEVEL}
    masks = maps_to_masks(gt, levels)
    np.testing.assert_array_equal(masks["wrinkle"], [[False, True, True, True]])


def test_bad_inputs(checkpoint):
    pred = Predictor(checkpoint, device="cpu")
    with pytest.raises(ValueError, match="uint8 RGB"):
        pred.predict([np.zeros((10, 10), np.uint8)])
    with pytest.raises(ValueError, match="uint8 RGB"):
        pred.predict([np.zeros((10, 10, 3), np.float32)])
    with pytest.raises(ValueError, match="batch_size"):
        Predictor(checkpoint, batch_size=0)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(SkinTraceError, match="no CUDA"):
            resolve_device("cuda")
