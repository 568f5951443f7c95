"""DDP: two CPU processes with the gloo backend via torchrun, on a tiny synthetic dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.model.checkpoint import load_checkpoint
from core.model.data import GTDataset
from core.model.ddp import DistEnv
from core.model.losses import SegmentationLoss
from core.model.train import TrainConfig, validate
from tests.core.test_model_data import make_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    dataset = make_dataset(tmp_path / "ds", n=10)
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "app",
        "train",
        str(dataset),
        "--model",
        "proposed",
        "--width",
        "4",
        "--zero-pad",
        "8",
        "--epochs",
        "2",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--out",
        str(out),
        "--progress-json",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    epochs = [e for e in lines if e["event"] == "epoch"]
    # only rank 0 reports, once per epoch
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert lines[-1]["event"] == "done"

    model, info = load_checkpoint(out / "last")
    n_train = info.metadata["train_items"]
    assert info.metadata["world_size"] == 2
    assert info.metadata["train_items_per_rank"] == n_train // 2

    # the all-reduced validation of the 2 ranks equals a 1-process validation of the saved model
    cfg = TrainConfig(model="proposed", width=4, zero_pad=8, batch_size=2, device="cpu")
    val = GTDataset(dataset, "val")
    assert len(val) >= 2  # both ranks had validation images
    single = validate(
        model,
        val,
        SegmentationLoss("mse"),
        info.metadata["mask_levels"],
        cfg=cfg,
        env=DistEnv(),
        device=torch.device("cpu"),
        dtype=None,
    )
    assert single["val_loss"] == pytest.approx(epochs[-1]["val_loss"], rel=1e-4)
    assert single["iou_wrinkle"] == pytest.approx(epochs[-1]["iou_wrinkle"], abs=1e-6)
