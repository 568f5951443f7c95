"""Evaluation: numbers agree with an independent computation, same rule for every method."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.dataset import read_manifest
from core.errors import DatasetError
from core.gt.baselines import baseline_masks
from core.gt.metrics import thin_score_names
from core.model.checkpoint import save_checkpoint
from core.model.data import load_item
from core.model.evaluate import BASELINE, evaluate
from core.model.infer import Predictor
from core.model.registry import create_model
from tests.core.test_model_data import make_dataset

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    dataset = make_dataset(root / "ds", n=8, shape=(96, 112), val_ratio=0.4)
    torch.manual_seed(0)
    model = create_model("reduced-unet", width=4).eval()
    with torch.no_grad():  # an untrained net whose outputs straddle the levels
        model.outc.conv.weight.mul_(50.0)
        model.outc.conv.bias.fill_(-1.0)
    ck = save_checkpoint(
        root / "ck",
        model,
        name="reduced-unet",
        config={"width": 4},
        metadata={"mask_levels": {"wrinkle": 40.0, "pore": 90.0}},
    )
    return dataset, ck


def _iou(a, b):
    u = np.logical_or(a, b).sum()
    return np.logical_and(a, b).sum() / u if u else 1.0


def test_report_matches_independent_computation(setup):
    dataset, ck = setup
    report = evaluate(dataset, checkpoints=[ck], baselines=True, device="cpu")
    items = read_manifest(dataset).split("val")
    assert report.images == len(items) > 0
    base, net = report.results
    assert base.method == BASELINE and base.params is None
    assert net.params == sum(p.numel() for p in create_model("reduced-unet", width=4).parameters())
    pred = Predictor(ck, device="cpu")
    inter = {c: 0 for c in ("wrinkle", "pore")}
    union = dict(inter)
    per_image, losses = {c: [] for c in inter}, []
    b_inter, b_union = dict(inter), dict(inter)
    for item in items:
        image, gt = load_item(item)
        maps = pred.predict([image])[0]
        bmask = baseline_masks(image)
        err = []
        for c, level in (("wrinkle", 40.0), ("pore", 90.0)):
            m, t = maps[c] >= level, gt[c] > 0
            inter[c] += (m & t).sum()
            union[c] += (m | t).sum()
            per_image[c].append(_iou(m, t))
            err.append(np.mean((maps[c] / 255.0 - gt[c] / 255.0) ** 2))
            b_inter[c] += (bmask[c] & t).sum()
            b_union[c] += (bmask[c] | t).sum()
        losses.append(np.mean(err))
    for c in inter:
        assert net.iou[c] == pytest.approx(inter[c] / union[c])
        assert net.iou_per_image[c] == pytest.approx(np.mean(per_image[c]))
        assert base.iou[c] == pytest.approx(b_inter[c] / b_union[c])
    assert net.loss == pytest.approx(np.mean(losses), rel=1e-5)
    assert 0 < net.iou["wrinkle"] < 1  # the test exercises a non-trivial mask
    assert net.mask_levels == {"wrinkle": 40.0, "pore": 90.0}


def test_table_and_json(setup):
    dataset, ck = setup
    report = evaluate(dataset, checkpoints=[ck], split="all", device="cpu")
    text = report.table()
    assert "IoU wrinkle" in text and "reduced-unet" in text and "#Params" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["split"] == "all" and data["images"] == 8
    row = data["results"][0]
    assert set(row["iou"]) == {"wrinkle", "pore"}
    assert row["scores"]["pore"]["global"]["iou"] == pytest.approx(row["iou"]["pore"])
    assert set(row["scores"]["wrinkle"]["mean"]) == {
        "iou",
        "dice",
        "precision",
        "recall",
        *thin_score_names(),
    }
    # The tolerant scores are in the table, under the paper's columns.
    assert "clDice W" in text and "F1@2 P" in text
    assert text.index("IoU wrinkle") < text.index("clDice W")
    tolerant = row["scores"]["wrinkle"]["global"]
    assert tolerant["f1@3"] >= tolerant["f1@1"] >= min(tolerant["precision"], tolerant["recall"])


def test_batch_size_images_share_a_forward_pass_with_the_same_report(setup, monkeypatch):
    dataset, ck = setup
    single = evaluate(dataset, checkpoints=[ck], device="cpu", split="all", batch_size=1)
    real_forward, batches = Predictor._forward, []

    def counting_forward(self, x):
        batches.append(int(x.shape[0]))
        return real_forward(self, x)

    monkeypatch.setattr(Predictor, "_forward", counting_forward)
    batched = evaluate(dataset, checkpoints=[ck], device="cpu", split="all", batch_size=4)
    assert batches == [4, 4]  # 8 same-sized images
    (a,), (b,) = single.results, batched.results
    assert b.iou == pytest.approx(a.iou) and b.iou_per_image == pytest.approx(a.iou_per_image)
    assert b.loss == pytest.approx(a.loss, rel=1e-5)


def test_errors(setup, tmp_path):
    dataset, _ = setup
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate(dataset)
    with pytest.raises(DatasetError, match="unknown split 'test'; expected train, val or all"):
        evaluate(dataset, baselines=True, split="test")
    with pytest.raises(DatasetError):
        evaluate(tmp_path, baselines=True)


def test_table_keeps_long_method_names_whole_and_aligned():
    from core.model.evaluate import EvalReport, MethodResult

    def row(method: str, params: int | None) -> MethodResult:
        iou = {"wrinkle": 0.25, "pore": 0.5}
        return MethodResult(method, "src", params, 0.01, iou, iou, 3)

    long = "proposed (runs/2026-11-25 retrain after 300 accepted images/best)"
    report = EvalReport("ds", "val", 3, (row("image processing", None), row(long, 5_200_000)))
    lines = report.table().splitlines()
    assert lines[0] == "val split of ds: 3 image(s)"
    assert long in lines[4]  # whole, not cut at 34 characters
    columns = {line.index("IoU wrinkle") + len("IoU wrinkle") for line in lines[1:2]}
    assert {line.index("0.2500") + 6 for line in lines[3:5]} == columns  # right-aligned
