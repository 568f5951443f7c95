"""Training: beats the untrained model, best checkpoint, resume, early stop, cancel."""

from __future__ import annotations

import json

import pytest
import torch

from core.errors import Cancelled, CheckpointError, DatasetError, SkinTraceError
from core.model.checkpoint import load_checkpoint
from core.model.losses import SegmentationLoss, balanced_class_weights, dice_per_class
from core.model.train import TrainConfig, cosine_lr, train
from core.progress import CancelToken
from tests.core.test_model_data import make_dataset

torch.set_num_threads(2)

FAST = dict(model="proposed", width=8, zero_pad=8, batch_size=2, lr=1e-2, device="cpu")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("train") / "ds", n=10)


def _run(dataset, out, **options):
    events = list(train(dataset, out=out, **{**FAST, **options}))
    epochs = [p.info for p in events if p.info.get("event") == "epoch"]
    return events, epochs


@pytest.mark.slow
def test_short_training_clearly_beats_the_untrained_model(dataset, tmp_path):
    # epoch 1 at a tiny learning rate is (nearly) the untrained model
    _, untrained = _run(dataset, tmp_path / "u", epochs=1, lr=1e-9, augment=False)
    events, epochs = _run(dataset, tmp_path / "t", epochs=25)
    first, best = untrained[0], min(epochs, key=lambda e: e["val_loss"])
    assert best["val_loss"] < 0.6 * first["val_loss"]
    assert best["iou_wrinkle"] > first["iou_wrinkle"] + 0.3
    done = events[-1].info
    assert done["event"] == "done" and done["reason"] == "completed"
    assert done["best_epoch"] == best["epoch"]
    model, info = load_checkpoint(tmp_path / "t")  # the run folder resolves to best/
    assert info.metadata["metrics"]["val_loss"] == pytest.approx(best["val_loss"])
    assert info.metadata["mask_levels"]["wrinkle"] > 0
    assert len(info.metadata["data_hash"]) == 64
    # progress: batches count up to the total, epoch events carry the documented keys
    assert [p.done for p in events] == sorted(p.done for p in events)
    keys = {"epoch", "train_loss", "val_loss", "iou_wrinkle", "iou_pore", "best"}
    assert keys <= set(epochs[0])


def test_resume_continues_exactly_like_an_uninterrupted_run(dataset, tmp_path):
    _, straight = _run(dataset, tmp_path / "a", epochs=3, width=4)
    b = tmp_path / "b"
    token = CancelToken()
    with pytest.raises(Cancelled):
        for p in train(dataset, out=b, **{**FAST, "width": 4, "epochs": 3}, cancel=token):
            if p.info.get("event") == "epoch":
                token.cancel()
    # cancelled during epoch 2 → resumes from the end of epoch 1
    resumed = [
        p.info
        for p in train(dataset, out=b, resume=True, **{**FAST, "width": 4, "epochs": 3})
        if p.info.get("event") == "epoch"
    ]
    assert [e["epoch"] for e in resumed] == [2, 3]
    for a, b in zip(straight[1:], resumed, strict=True):
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-5)
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)


def test_cancel_raises_and_keeps_best_checkpoint(dataset, tmp_path):
    token = CancelToken()
    gen = train(dataset, out=tmp_path / "c", **{**FAST, "width": 4, "epochs": 5}, cancel=token)
    with pytest.raises(Cancelled, match="best checkpoint"):
        for p in gen:
            if p.info.get("event") == "epoch":
                token.cancel()
    _, info = load_checkpoint(tmp_path / "c" / "best")
    assert info.metadata["epoch"] == 1
    state = json.loads((tmp_path / "c" / "last" / "train_state.json").read_text())
    assert state["epoch"] == 1


def test_early_stopping(dataset, tmp_path):
    events, epochs = _run(dataset, tmp_path / "e", epochs=6, width=4, lr=1e-9, patience=1)
    assert events[-1].info["reason"] == "early_stopping"
    assert len(epochs) < 6


def test_refuses_to_overwrite_and_bad_resume(dataset, tmp_path):
    _run(dataset, tmp_path / "r", epochs=1, width=4)
    with pytest.raises(SkinTraceError, match="--resume"):
        _run(dataset, tmp_path / "r", epochs=1, width=4)
    with pytest.raises(CheckpointError, match="same --model"):
        list(train(dataset, out=tmp_path / "r", resume=True, **{**FAST, "width": 8}))
    with pytest.raises(CheckpointError, match="nothing to resume"):
        list(train(dataset, out=tmp_path / "new", resume=True, **FAST))


def test_wrong_dataset(tmp_path):
    with pytest.raises(DatasetError, match="manifest.json is missing"):
        list(train(tmp_path, out=tmp_path / "o", **FAST))


def test_config_validation():
    with pytest.raises(ValueError, match="unknown model"):
        TrainConfig(model="vit")
    with pytest.raises(ValueError, match="unknown loss"):
        TrainConfig(loss="l1")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


@pytest.mark.parametrize("loss", ["dice", "weighted-mse"])
def test_other_losses_train(dataset, tmp_path, loss):
    _, epochs = _run(dataset, tmp_path / loss, epochs=2, width=4, loss=loss)
    assert all(e["val_loss"] == e["val_loss"] for e in epochs)  # finite, not NaN
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] * 1.5


def test_losses_values():
    target = torch.zeros(1, 2, 4, 4)
    target[0, 0, :2] = 0.5
    valid = torch.ones(1, 1, 4, 4)
    perfect = torch.logit(target.clamp(1e-6, 1 - 1e-6))
    assert SegmentationLoss("mse")(perfect, target, valid) < 1e-9
    assert dice_per_class(torch.full_like(target, 20.0), target, valid)[0] < 0.34
    weighted = SegmentationLoss("weighted-mse", (3.0, 1.0))
    assert weighted.weights.tolist() == [1.5, 0.5]
    assert balanced_class_weights([10.0, 40.0]) == pytest.approx((1.6, 0.4))
    # padding never counts
    valid[..., 2:] = 0
    wrong = perfect.clone()
    wrong[..., 2:] = 9.0
    assert SegmentationLoss("mse")(wrong, target, valid) < 1e-9


def test_cosine_schedule():
    assert cosine_lr(1e-3, 0, 10) == pytest.approx(1e-3)
    assert cosine_lr(1e-3, 10, 10) == pytest.approx(1e-5)
    assert cosine_lr(1e-3, 3, 10) > cosine_lr(1e-3, 4, 10)


def test_a_diverging_run_stops_with_an_actionable_error(tmp_path):
    # Adam moves every weight by about lr: at 1e30 the second batch's loss is not finite.
    small = make_dataset(tmp_path / "ds", n=4)
    with pytest.raises(SkinTraceError, match=r"diverged at epoch 1 .*lower --lr"):
        _run(small, tmp_path / "o", epochs=3, width=4, lr=1e30)
