"""Hostile or careless checkpoints and datasets given to the CLI: one line, exit 1, no write.

Every case listed in issue #12 is reproduced here through the real entry point
(``app.cli.main``): absurd widths and paddings, mask levels as text, JSON nested thousands
of levels deep, weights that are a symlink to ``/dev/zero``, and train / evaluate on a
deeply nested manifest.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from core.model.checkpoint import CONFIG, WEIGHTS, save_checkpoint
from core.model.registry import create_model
from tests.core.test_model_data import make_dataset

CPU = ["--device", "cpu", "--threads", "1", "-q"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A valid tiny checkpoint, a tiny image and a tiny dataset (made once)."""
    root = tmp_path_factory.mktemp("untrusted")
    ck = root / "ck"
    net = create_model("proposed", width=4, zero_pad=4)
    save_checkpoint(
        ck,
        net,
        name="proposed",
        config={"width": 4, "zero_pad": 4},
        metadata={"mask_levels": {"wrinkle": 20.0, "pore": 30.0}},
    )
    image = root / "face.png"
    cv2.imwrite(str(image), np.full((24, 32, 3), 120, np.uint8))
    dataset = make_dataset(root / "ds", n=3, shape=(32, 40))
    return ck, image, dataset


def _copy_checkpoint(ck: Path, dest: Path, edit=None) -> Path:
    shutil.copytree(ck, dest)
    if edit is not None:
        doc = json.loads((dest / CONFIG).read_text())
        edit(doc)
        (dest / CONFIG).write_text(json.dumps(doc))
    return dest


def _one_line_failure(capsys, rc: int, *needles: str) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 1, err
    assert "Traceback" not in captured.err + captured.out
    assert len(err.splitlines()) == 1, err
    assert err.startswith("skintrace: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


def _set(path: str, value):
    def edit(doc):
        target = doc
        *parents, last = path.split(".")
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value

    return edit


DEEP = "__deep__"


def _deep(depth: int) -> str:
    """JSON text of a list nested ``depth`` levels (json.dumps itself would recurse)."""
    return "[" * depth + "0" + "]" * depth


def _write(path: Path, doc: object, depth: int) -> None:
    path.write_text(json.dumps(doc).replace(json.dumps(DEEP), _deep(depth)))


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("config.width", 100_000, "config.width: Input should be less than or equal to 256"),
        ("config.width", 2**40, "config.width"),
        ("config.width", True, "config.width: Input should be a valid integer"),
        ("config.zero_pad", 20_000, "config.zero_pad: Input should be less than or equal to 512"),
        ("config.zero_pad", 1e9, "config.zero_pad"),
        ("metadata.mask_levels", "high", "metadata.mask_levels: Input should be a valid dict"),
        ("metadata.mask_levels", {"wrinkle": "20", "pore": "x"}, "metadata.mask_levels.wrinkle"),
        ("metadata.mask_levels", {"wrinkle": 0, "pore": 30}, "greater than 0"),
        ("metadata.mask_levels", {"wrinkle": 300, "pore": 30}, "less than or equal to 255"),
        ("config.in_channels", 4, "config.in_channels"),
        ("name", "resnet", "unknown model"),
    ],
)
def test_predict_refuses_a_bad_config_field(sources, tmp_path, capsys, field, value, needle):
    ck, image, _ = sources
    bad = _copy_checkpoint(ck, tmp_path / "bad", _set(field, value))
    out = tmp_path / "out"
    rc = main(["predict", str(bad), str(image), "--out", str(out), *CPU])
    _one_line_failure(capsys, rc, str(bad / CONFIG), needle)
    assert not out.exists()


@pytest.mark.parametrize("where", ["metadata", "config", "top"])
def test_config_nested_thousands_deep_is_refused(sources, tmp_path, capsys, where):
    ck, image, _ = sources
    if where == "top":
        bad = tmp_path / "bad"
        shutil.copytree(ck, bad)
        (bad / CONFIG).write_text(_deep(5000))
    else:
        bad = _copy_checkpoint(ck, tmp_path / "bad")
        doc = json.loads((bad / CONFIG).read_text())
        doc[where]["deep"] = DEEP
        _write(bad / CONFIG, doc, 5000)
    out = tmp_path / "out"
    rc = main(["predict", str(bad), str(image), "--out", str(out), *CPU])
    _one_line_failure(capsys, rc, str(bad / CONFIG), "nested 500")
    assert not out.exists()


def test_weights_symlink_to_dev_zero_is_refused(sources, tmp_path, capsys):
    ck, image, _ = sources
    bad = _copy_checkpoint(ck, tmp_path / "bad")
    (bad / WEIGHTS).unlink()
    os.symlink("/dev/zero", bad / WEIGHTS)
    out = tmp_path / "out"
    rc = main(["predict", str(bad), str(image), "--out", str(out), *CPU])
    _one_line_failure(capsys, rc, str(bad / WEIGHTS), "outside")
    assert not out.exists()


def test_config_symlink_to_a_device_is_refused(sources, tmp_path, capsys):
    ck, image, _ = sources
    bad = _copy_checkpoint(ck, tmp_path / "bad")
    (bad / CONFIG).unlink()
    os.symlink("/dev/zero", bad / CONFIG)
    rc = main(["predict", str(bad), str(image), "--out", str(tmp_path / "out"), *CPU])
    _one_line_failure(capsys, rc, str(bad / CONFIG), "outside")


def test_evaluate_refuses_a_bad_checkpoint_without_writing_json(sources, tmp_path, capsys):
    ck, _, dataset = sources
    bad = _copy_checkpoint(ck, tmp_path / "bad", _set("config.width", 2**40))
    report = tmp_path / "report.json"
    argv = ["evaluate", str(dataset), "--checkpoint", str(bad), "--json", str(report), *CPU]
    _one_line_failure(capsys, main(argv), "config.width")
    assert not report.exists()


def _nested_manifest(dataset: Path, dest: Path) -> Path:
    shutil.copytree(dataset, dest)
    doc = json.loads((dest / "manifest.json").read_text())
    doc["gt_params"] = {"deep": DEEP}
    _write(dest / "manifest.json", doc, 3000)
    return dest


def test_train_on_a_deeply_nested_manifest_is_refused(sources, tmp_path, capsys):
    _, _, dataset = sources
    bad = _nested_manifest(dataset, tmp_path / "ds")
    out = tmp_path / "run"
    argv = ["train", str(bad), "--out", str(out), "--epochs", "1", "--width", "4", *CPU]
    _one_line_failure(capsys, main(argv), str(bad / "manifest.json"), "nested 300")
    assert not out.exists()


def test_evaluate_on_a_deeply_nested_manifest_is_refused(sources, tmp_path, capsys):
    ck, _, dataset = sources
    bad = _nested_manifest(dataset, tmp_path / "ds")
    report = tmp_path / "report.json"
    argv = ["evaluate", str(bad), "--checkpoint", str(ck), "--json", str(report), *CPU]
    _one_line_failure(capsys, main(argv), str(bad / "manifest.json"), "nested 300")
    assert not report.exists()


def test_a_tile_too_large_for_this_machine_is_refused_before_building(sources, tmp_path, capsys):
    # 60000² px activations need terabytes: the estimate refuses before any tensor exists.
    ck, image, _ = sources
    out = tmp_path / "out"
    rc = main(["predict", str(ck), str(image), "--out", str(out), "--tile", "60000", *CPU])
    _one_line_failure(capsys, rc, "needs about", "60000×60000 px", "free")
    assert not out.exists()


def test_the_valid_source_checkpoint_still_predicts(sources, tmp_path, capsys):
    # The fixtures above are refused for what was changed, not for being unusable.
    ck, image, _ = sources
    out = tmp_path / "out"
    assert main(["predict", str(ck), str(image), "--out", str(out), *CPU]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["face_pore.png", "face_wrinkle.png"]


def test_train_refuses_an_absurd_width_before_reading_anything_else(sources, tmp_path, capsys):
    from app.cli import model_cmds
    from core.model_spec import MAX_WIDTH

    assert model_cmds.MAX_WIDTH == MAX_WIDTH  # the --help text says the real limit
    _, _, dataset = sources
    out = tmp_path / "run"
    argv = ["train", str(dataset), "--out", str(out), "--width", "100000", *CPU]
    _one_line_failure(capsys, main(argv), "width: Input should be less than or equal to 256")
    assert not out.exists()


def test_running_out_of_memory_anyway_is_one_line(sources, tmp_path, capsys, monkeypatch):
    ck, image, _ = sources

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("core.model.infer.Predictor.__init__", exhausted)
    rc = main(["predict", str(ck), str(image), "--out", str(tmp_path / "out"), *CPU])
    _one_line_failure(capsys, rc, "predict ran out of memory; lower --batch-size")
