"""One training config: round trips, partial configs, refusals, and the core entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import SettingError
from core.model.run import main, parse_event
from core.model.train_config import (
    DEFAULTS,
    JOB_FORMAT,
    TrainConfig,
    TrainJob,
    read_job,
    write_job,
)

ROOT = Path(__file__).resolve().parents[2]
TINY = {"model": "proposed", "width": 4, "zero_pad": 8, "epochs": 1, "batch_size": 2}


def test_config_round_trips_through_json():
    cfg = TrainConfig(
        model="unet",
        width=8,
        epochs=3,
        lr=5e-3,
        loss="weighted-mse",
        class_weights=(1.0, 2.5),
        device="cuda:1",
        precision="bf16",
        augment=False,
        threads=2,
    )
    text = json.dumps(cfg.to_dict(), allow_nan=False)
    assert TrainConfig(**json.loads(text)) == cfg
    assert TrainConfig.from_partial(json.loads(json.dumps(cfg.partial()))) == cfg
    assert cfg.to_dict()["class_weights"] == [1.0, 2.5]
    assert DEFAULTS.partial() == {} and TrainConfig() == DEFAULTS
    with pytest.raises(ValidationError):  # frozen: a config is a value
        cfg.epochs = 5  # type: ignore[misc]


def test_partial_config_merges_with_the_defaults():
    cfg = TrainConfig.from_partial({"epochs": 5, "width": 4})
    assert cfg.epochs == 5 and cfg.width == 4
    assert cfg.replace(epochs=DEFAULTS.epochs) == TrainConfig(width=4)
    assert cfg.partial() == {"epochs": 5, "width": 4}
    # every other option is the default
    same = {k: v for k, v in cfg.to_dict().items() if k not in ("epochs", "width")}
    assert same == {k: v for k, v in DEFAULTS.to_dict().items() if k not in ("epochs", "width")}
    assert TrainConfig.from_partial(None) == DEFAULTS


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": True}, "epochs"),
        ({"epochs": "3"}, "epochs"),
        ({"epochs": 2.0}, "epochs"),
        ({"lr": float("nan")}, "learning rate"),
        ({"lr": -1.0}, "learning rate"),
        ({"width": 100_000}, "width"),
        ({"batch_size": 10**9}, "batch_size"),
        ({"class_weights": [1.0, -1.0]}, "class_weights"),
        ({"class_weights": [1.0]}, "class_weights"),
        ({"device": "gpu; rm -rf"}, "device"),
        ({"model": "vit"}, "unknown model 'vit'"),
        ({"loss": "l1"}, "unknown loss 'l1'"),
        ({"precision": "fp8"}, "unknown precision"),
        ({"optimizer": "sgd"}, "unknown training option 'optimizer'"),
        ({"num_workers": -1}, "--workers"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_config_is_refused_with_one_line(bad, named):
    with pytest.raises(SettingError, match="^config.json: ") as exc:
        TrainConfig.from_partial(bad, what="config.json")
    message = str(exc.value)
    assert named in message and "\n" not in message
    assert isinstance(exc.value, ValueError)  # Python callers get ValueErrors too


def test_job_file_round_trip_and_refusals(tmp_path):
    job = TrainJob(dataset=tmp_path / "ds", out=tmp_path / "o", config=TrainConfig(epochs=4))
    path = write_job(tmp_path / "job.json", job)
    assert read_job(path) == job
    doc = json.loads(path.read_text())
    assert doc["config"] == {"epochs": 4}  # the partial config, not every default
    # relative paths are relative to the job file's folder
    rel = {**doc, "dataset": "ds", "out": "o", "resume": True}
    path.write_text(json.dumps(rel))
    assert read_job(path) == TrainJob(tmp_path / "ds", tmp_path / "o", TrainConfig(epochs=4), True)
    for change, named in [
        ({"format": "pickle"}, f"not a {JOB_FORMAT} document"),
        ({"format_version": 2}, "format version 2"),
        ({"dataset": 3}, "dataset"),
        ({"resume": "yes"}, "resume"),
        ({"extra": 1}, "extra"),
        ({"config": {"epochs": 0}}, "config: epochs"),
    ]:
        path.write_text(json.dumps({**doc, **change}))
        with pytest.raises(SettingError, match=named) as exc:
            read_job(path)
        assert str(exc.value).startswith(str(path)) and "\n" not in str(exc.value)
    path.write_text(json.dumps({**doc, "pad": "x" * (2 << 20)}))
    with pytest.raises(SettingError, match="at most 1.0 MiB"):
        read_job(path)


def test_entry_point_refuses_a_bad_job_with_one_line(tmp_path, capsys):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"format": JOB_FORMAT, "format_version": 1, "dataset": "d"}))
    assert main([str(job)]) == 1
    out, err = capsys.readouterr()
    event = parse_event(out.strip())
    assert event is not None and event["event"] == "error" and "out" in event["message"]
    assert err.count("\n") == 1 and err.startswith("skintrace: error: ")
    assert main([]) == 2


def test_parse_event_skips_what_is_not_a_progress_line():
    assert parse_event(b'{"event": "epoch", "epoch": 1}') == {"event": "epoch", "epoch": 1}
    for line in (b"", b"hello", b"[1]", b'{"event": "boom"}', b"{" * 100_000, b'{"a": 1}'):
        assert parse_event(line) is None


def test_entry_point_trains_one_epoch_in_a_real_process(tmp_path):
    from tests.core.test_model_data import make_dataset

    dataset = make_dataset(tmp_path / "ds", n=4)
    config = TrainConfig(**TINY, device="cpu", threads=1)
    job = write_job(
        tmp_path / "job.json", TrainJob(dataset=dataset, out=tmp_path / "run", config=config)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "core.model.run", str(job)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    events = [parse_event(line) for line in lines]
    assert None not in events  # every stdout line is a progress object
    assert [e["event"] for e in events] == ["start", "epoch", "done"]  # type: ignore[index]
    start, epoch, end = events
    assert start["epochs"] == 1 and start["width"] == 4 and start["out"] == str(tmp_path / "run")
    assert epoch["epoch"] == 1 and epoch["epochs"] == 1 and 0 <= epoch["iou_wrinkle"] <= 1
    assert end["reason"] == "completed" and end["best_epoch"] == 1
    assert (Path(end["best_checkpoint"]) / "config.json").is_file()
    saved = json.loads((Path(end["best_checkpoint"]) / "config.json").read_text())
    assert TrainConfig(**saved["metadata"]["train_config"]) == config


def test_evaluation_entry_point_refuses_with_one_line(tmp_path, capsys):
    from core.model import eval_run

    assert eval_run.main([str(tmp_path), "--json", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skintrace: error: nothing to evaluate") and err.count("\n") == 1
    assert not (tmp_path / "r.json").exists()
