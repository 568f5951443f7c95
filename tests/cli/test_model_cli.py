"""skintrace train / predict / evaluate on a tiny synthetic dataset, and their errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from app.cli import main
from core.model.checkpoint import CONFIG, load_checkpoint
from tests.core.test_model_data import make_dataset

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--model", "proposed", "--width", "4", "--zero-pad", "8", "--device", "cpu"]
TINY += ["--threads", "2", "--batch-size", "2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    dataset = make_dataset(root / "ds", n=8)
    out = root / "run"
    assert main(["train", str(dataset), "--out", str(out), "--epochs", "2", "-q", *TINY]) == 0
    return dataset, out


def test_train_writes_best_and_last(trained, capsys):
    _, out = trained
    model, info = load_checkpoint(out / "best")
    assert info.name == "proposed" and info.config["width"] == 4
    assert (out / "last" / "train_state.json").exists()


def test_train_resume_with_progress_json(trained, capsys, tmp_path):
    dataset, out = trained
    run = tmp_path / "run"
    import shutil

    shutil.copytree(out, run)
    argv = ["train", str(dataset), "--out", str(run), "--epochs", "3", "--resume"]
    assert main([*argv, "--progress-json", *TINY]) == 0
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in lines] == ["start", "epoch", "done"]
    assert lines[1]["epoch"] == 3
    assert {"train_loss", "val_loss", "iou_wrinkle", "iou_pore", "best"} <= set(lines[1])


def test_train_options_reach_the_run(trained, tmp_path):
    # Each option is recorded in the checkpoint's train_config: a mis-wired one shows.
    dataset, _ = trained
    out = tmp_path / "opts"
    argv = ["train", str(dataset), "--out", str(out), "--epochs", "1", "-q", *TINY]
    extra = ["--loss", "dice", "--no-augment", "--precision", "fp32", "--seed", "3"]
    assert main([*argv, *extra, "--patience", "2", "--lr", "0.005"]) == 0
    _, info = load_checkpoint(out)
    cfg = info.metadata["train_config"]
    assert (cfg["loss"], cfg["augment"], cfg["precision"]) == ("dice", False, "fp32")
    assert (cfg["seed"], cfg["patience"], cfg["lr"], cfg["epochs"]) == (3, 2, 0.005, 1)
    assert (cfg["width"], cfg["zero_pad"], cfg["batch_size"], cfg["threads"]) == (4, 8, 2, 2)


def test_predict_writes_maps_at_input_size(trained, tmp_path, capsys):
    dataset, out = trained
    images = sorted((dataset / "images").glob("*.png"))[:2]
    argv = ["predict", str(out), *map(str, images), "--out", str(tmp_path / "p"), "--masks"]
    assert main([*argv, "--device", "cpu", "-q"]) == 0
    for img in images:
        for suffix in ("wrinkle", "pore", "wrinkle_mask", "pore_mask"):
            arr = cv2.imread(str(tmp_path / "p" / f"{img.stem}_{suffix}.png"), cv2.IMREAD_UNCHANGED)
            assert arr is not None and arr.shape == (64, 80) and arr.dtype == np.uint8
    assert "wrote maps for 2 image(s)" in capsys.readouterr().out


def test_predict_batch_size_images_share_a_forward_pass(trained, tmp_path, monkeypatch):
    from core.model.infer import Predictor

    dataset, out = trained
    images = sorted((dataset / "images").glob("*.png"))[:3]
    argv = ["predict", str(out), *map(str, images), "--device", "cpu", "-q"]
    assert main([*argv, "--out", str(tmp_path / "one"), "--batch-size", "1"]) == 0
    real_forward, batches = Predictor._forward, []

    def counting_forward(self, x):
        batches.append(int(x.shape[0]))
        return real_forward(self, x)

    monkeypatch.setattr(Predictor, "_forward", counting_forward)
    assert main([*argv, "--out", str(tmp_path / "two"), "--batch-size", "2"]) == 0
    assert batches == [2, 1]
    for img in images:
        one = cv2.imread(str(tmp_path / "one" / f"{img.stem}_pore.png"), cv2.IMREAD_UNCHANGED)
        two = cv2.imread(str(tmp_path / "two" / f"{img.stem}_pore.png"), cv2.IMREAD_UNCHANGED)
        assert np.abs(one.astype(int) - two.astype(int)).max() <= 1  # float rounding only


def test_evaluate_prints_table_and_writes_json(trained, tmp_path, capsys):
    dataset, out = trained
    js = tmp_path / "eval.json"
    argv = ["evaluate", str(dataset), "--checkpoint", str(out), "--baselines", "--json", str(js)]
    assert main([*argv, "--device", "cpu", "--split", "all", "-q"]) == 0
    text = capsys.readouterr().out
    assert "image processing" in text and "proposed" in text and "IoU pore" in text
    data = json.loads(js.read_text())
    assert [r["method"].split()[0] for r in data["results"]] == ["image", "proposed"]
    assert data["images"] == 8


def test_clear_errors(trained, tmp_path, capsys):
    dataset, out = trained
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "o"), *TINY]) == 1
    assert "is not a SkinTrace dataset" in capsys.readouterr().err
    assert main(["evaluate", str(dataset)]) == 1
    assert "nothing to evaluate" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / CONFIG).write_text('{"format": "skintrace-checkpoint", "format_version": 7}')
    assert main(["predict", str(bad), "x.png", "--out", str(tmp_path / "p")]) == 1
    assert "version" in capsys.readouterr().err
    img = sorted((dataset / "images").glob("*.png"))[0]
    assert (
        main(
            [
                "predict",
                str(out),
                str(img),
                str(tmp_path / "missing.png"),
                "--out",
                str(tmp_path / "p"),
                "-q",
            ]
        )
        == 1
    )
    assert "missing.png" in capsys.readouterr().err


def test_out_of_memory_advises_lower_batch_size(trained, tmp_path, capsys, monkeypatch):
    dataset, _ = trained

    class Exploding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("core.model.train.create_model", lambda *a, **k: Exploding())
    argv = ["train", str(dataset), "--out", str(tmp_path / "oom"), "--epochs", "1", "-q", *TINY]
    assert main(argv) == 1
    assert "lower --batch-size" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_cancels_cleanly_keeping_best(tmp_path):
    dataset = make_dataset(tmp_path / "ds", n=8)
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "app",
        "train",
        str(dataset),
        "--out",
        str(out),
        "--epochs",
        "500",
        "--progress-json",
        *TINY,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(json.loads(line))
            if lines[-1]["event"] == "epoch":
                proc.send_signal(signal.SIGTERM)
                break
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += [json.loads(s) for s in rest.splitlines()]
    assert proc.returncode == 130
    assert lines[-1]["event"] == "cancelled"
    _, info = load_checkpoint(out / "best")
    assert info.metadata["epoch"] >= 1


def test_cli_choices_match_the_registry():
    from app.cli import model_cmds
    from core.model.losses import LOSS_NAMES
    from core.model.registry import MODEL_NAMES

    assert model_cmds.MODEL_NAMES == MODEL_NAMES
    assert model_cmds.LOSSES == LOSS_NAMES


def test_building_the_parser_does_not_import_torch():
    code = (
        "import sys; from app.cli import build_parser; build_parser(); "
        "print('torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr
