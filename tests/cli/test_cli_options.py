"""Out-of-range options and unreadable inputs: one clear line, non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from core.errors import SkinTraceError
from core.imageio import encode_png


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["train", "ds", "--out", "o", "--epochs", "0"], "--epochs"),
        (["train", "ds", "--out", "o", "--epochs", "-1"], "--epochs"),
        (["train", "ds", "--out", "o", "--batch-size", "0"], "--batch-size"),
        (["train", "ds", "--out", "o", "--lr", "-1"], "--lr"),
        (["train", "ds", "--out", "o", "--lr", "nan"], "--lr"),
        (["train", "ds", "--out", "o", "--width", "0"], "--width"),
        (["train", "ds", "--out", "o", "--width", "four"], "--width"),
        (["train", "ds", "--out", "o", "--zero-pad", "-3"], "--zero-pad"),
        (["train", "ds", "--out", "o", "--patience", "0"], "--patience"),
        (["train", "ds", "--out", "o", "--workers", "-1"], "--workers"),
        (["train", "ds", "--out", "o", "--threads", "0"], "--threads"),
        (["predict", "ck", "a.png", "--out", "o", "--tile", "10"], "--tile"),
        (["predict", "ck", "a.png", "--out", "o", "--batch-size", "0"], "--batch-size"),
        (["evaluate", "ds", "--baselines", "--batch-size", "0"], "--batch-size"),
        (["export", "p", "o", "--val-ratio", "-0.5"], "--val-ratio"),
        (["dataset", "from-masks", "i", "w", "p", "o", "--val-ratio", "2"], "--val-ratio"),
        (["new", "p", "--sigma", "inf"], "--sigma"),
        (["new", "p", "--pore-threshold", "nan"], "--pore-threshold"),
    ],
)
def test_bad_numbers_are_usage_errors_naming_the_option(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"skintrace {argv[0]}") and f"argument {option}:" in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_core_settings_errors_are_skintrace_errors():
    # Callers that bypass argparse (the app, scripts) still get one-line user errors.
    from core.model.device import set_threads
    from core.model.infer import Predictor
    from core.model.registry import model_config
    from core.model.train import TrainConfig

    with pytest.raises(SkinTraceError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(SkinTraceError, match="learning rate"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(SkinTraceError, match="width"):
        model_config("proposed", width=0)
    with pytest.raises(SkinTraceError, match="threads"):
        set_threads(0)
    with pytest.raises(SkinTraceError, match="tile"):
        Predictor("unused", tile=10)
    with pytest.raises(ValueError):  # still ValueErrors for Python callers
        TrainConfig(batch_size=0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    import torch

    from core.model import create_model, model_config, save_checkpoint

    torch.manual_seed(0)
    config = model_config("proposed", width=4, zero_pad=8)
    folder = tmp_path_factory.mktemp("ck") / "model"
    save_checkpoint(folder, create_model("proposed", **config), name="proposed", config=config)
    return folder


def _face(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.write_bytes(encode_png(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)))
    return path


def test_predict_missing_image_writes_nothing(checkpoint, tmp_path, capsys):
    good = _face(tmp_path / "good.png", 0)
    out = tmp_path / "out"
    argv = ["predict", str(checkpoint), str(good), str(tmp_path / "gone.png"), "--out", str(out)]
    assert main([*argv, "--device", "cpu", "--threads", "1", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"skintrace: error: image file not found: {tmp_path / 'gone.png'}; nothing was written"
    ]
    assert not out.exists()


def test_predict_skips_an_unreadable_image_and_keeps_the_others(checkpoint, tmp_path, capsys):
    good = _face(tmp_path / "good.png", 0)
    broken = tmp_path / "broken.png"
    broken.write_bytes(_face(tmp_path / "src.png", 1).read_bytes()[:200])  # truncated
    out = tmp_path / "out"
    argv = ["predict", str(checkpoint), str(broken), str(good), "--out", str(out)]
    assert main([*argv, "--device", "cpu", "--threads", "1", "-q"]) == 1
    captured = capsys.readouterr()
    assert "wrote maps for 1 image(s)" in captured.out
    err = captured.err.splitlines()
    assert err[0].startswith("  skipped:") and "broken.png" in err[0]
    assert err[-1] == "skintrace: error: 1 of 2 image(s) could not be read"
    assert sorted(p.name for p in out.iterdir()) == ["good_pore.png", "good_wrinkle.png"]


def test_predict_tile_smaller_than_default_overlap_works(checkpoint, tmp_path, capsys):
    # --tile 64 used to be refused because the fixed 128-pixel overlap was too large for it.
    big = tmp_path / "big.png"
    big.write_bytes(
        encode_png(np.random.default_rng(2).integers(0, 256, (100, 90, 3), dtype=np.uint8))
    )
    argv = ["predict", str(checkpoint), str(big), "--out", str(tmp_path / "o"), "--tile", "64"]
    assert main([*argv, "--device", "cpu", "--threads", "1", "-q"]) == 0
    from core.imageio import load_mask

    assert load_mask(tmp_path / "o" / "big_wrinkle.png").shape == (100, 90)


@pytest.mark.parametrize("argv", [[], ["open", "PROJECT"]])
def test_window_without_a_display_is_a_one_line_error(argv, tmp_path, capsys, monkeypatch):
    from core.project import Project

    Project.create(tmp_path / "p").close()
    argv = [str(tmp_path / "p") if a == "PROJECT" else a for a in argv]
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")

    def window(*_args, **_kw):  # Qt would abort the whole process (SIGABRT) here
        raise AssertionError("the window was started without a display")

    monkeypatch.setattr("app.gui.app.run_window", window)
    monkeypatch.setattr("core.demo.projects.ensure_demo_project", lambda: tmp_path / "p")
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skintrace: error: no display")


def test_out_paths_that_are_files_are_refused_before_any_work(checkpoint, tmp_path, capsys):
    from tests.core.test_model_data import make_dataset

    dataset = make_dataset(tmp_path / "ds", n=4)
    taken = tmp_path / "taken"
    taken.write_text("someone's notes")
    good = _face(tmp_path / "good.png", 0)
    cases = [
        ["train", str(dataset), "--out", str(taken), "--width", "4", "--epochs", "1"],
        ["predict", str(checkpoint), str(good), "--out", str(taken)],
        ["evaluate", str(dataset), "--baselines", "--json", str(tmp_path)],
    ]
    for argv in cases:
        assert main([*argv, "--device", "cpu", "--threads", "1", "-q"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("skintrace: error: "), argv
        assert "not a folder" in err[0] or "is a folder" in err[0]
    assert taken.read_text() == "someone's notes"


def test_unforeseen_file_system_errors_are_one_line(checkpoint, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    good = _face(tmp_path / "good.png", 0)
    argv = ["predict", str(checkpoint), str(good), "--out", str(blocker / "sub")]
    assert main([*argv, "--device", "cpu", "--threads", "1", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skintrace: error: ")
    assert err[0].endswith(f": {blocker / 'sub'}")  # the OS reason, then the path


def test_train_defaults_are_the_core_defaults():
    # The parser holds no training defaults: options not given take TrainConfig's.
    from app.cli import build_parser
    from app.cli.model_cmds import train_config
    from core.model.infer import DEFAULT_TILE
    from core.model.train_config import TrainConfig

    args = build_parser().parse_args(["train", "ds", "--out", "o"])
    assert train_config(args) == TrainConfig()
    given = build_parser().parse_args(
        ["train", "ds", "--out", "o", "--epochs", "7", "--workers", "1", "--no-augment"]
    )
    assert train_config(given) == TrainConfig(epochs=7, num_workers=1, augment=False)
    # The defaults the help text quotes are TrainConfig's.
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub.choices["train"]._actions}
    core = TrainConfig()
    for option, shown in [
        ("epochs", core.epochs),
        ("patience", core.patience),
        ("batch_size", core.batch_size),
        ("lr", f"{core.lr:g}"),
        ("model", core.model),
        ("loss", core.loss),
        ("seed", core.seed),
        ("precision", core.precision),
        ("workers", core.num_workers),
    ]:
        assert f"(default {shown}" in helps[option], option
    predict = build_parser().parse_args(["predict", "ck", "a.png", "--out", "o"])
    assert predict.tile == DEFAULT_TILE


@pytest.mark.parametrize("command", [["new"], ["dataset", "from-masks"]])
def test_gt_option_help_states_the_core_defaults(command, capsys):
    from core.gt.engine import GTParams

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    d = GTParams()
    assert f"(0, 100] (default {d.sigma:g})" in text
    assert d.wrinkle_threshold is None and d.pore_threshold is None
    assert "threshold, 0-255, or 'auto' (default auto: calibrated per image)" in text
    assert "(Eq. 2), 0-255, or 'auto' (default auto: calibrated per image)" in text


def test_export_help_lists_every_status(capsys):
    from core.project import Status

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"choices: {', '.join(s.value for s in Status)})" in text


def test_train_config_file_is_merged_and_refused_with_one_line(tmp_path, capsys):
    import json

    from app.cli import build_parser
    from app.cli.model_cmds import train_config
    from core.model.train_config import TrainConfig

    options = tmp_path / "options.json"
    options.write_text(json.dumps({"epochs": 100, "patience": 15, "width": 8}))
    argv = ["train", "ds", "--out", str(tmp_path / "o"), "--config", str(options)]
    args = build_parser().parse_args([*argv, "--epochs", "5"])
    assert train_config(args) == TrainConfig(epochs=5, patience=15, width=8)  # flags win
    options.write_text(json.dumps({"epochs": 0}))
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"skintrace: error: --config {options}: epochs:")
    assert not (tmp_path / "o").exists()  # refused before anything was written
