"""Checkpoints: safetensors + JSON round trip, never unpickled, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import CheckpointError
from core.model.checkpoint import (
    CONFIG,
    WEIGHTS,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
)
from core.model.registry import MODEL_NAMES, create_model

torch.set_num_threads(2)


def _trained_like(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model(name, width=4)
    # move BN running stats away from their defaults so buffers are checked too
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32))
    return model.eval()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_round_trip_gives_identical_outputs(tmp_path, name):
    model = _trained_like(name)
    save_checkpoint(tmp_path / "ck", model, name=name, config={"width": 4}, metadata={"x": 1})
    loaded, info = load_checkpoint(tmp_path / "ck")
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert info.name == name
    assert info.config["width"] == 4
    assert info.metadata["x"] == 1
    assert info.metadata["params"] == sum(p.numel() for p in model.parameters())
    assert info.metadata["torch_version"] == torch.__version__


def test_saving_replaces_the_folder_and_leaves_no_temporaries(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, _trained_like("unet", 0), name="unet", config={"width": 4})
    save_checkpoint(ck, _trained_like("unet", 1), name="unet", config={"width": 4})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert sorted(p.name for p in ck.iterdir()) == [CONFIG, WEIGHTS]


def test_interrupted_swap_falls_back_to_previous(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, _trained_like("unet"), name="unet", config={"width": 4})
    ck.rename(tmp_path / ".ck.previous")  # crash after moving the old one aside
    _, info = load_checkpoint(ck)
    assert info.name == "unet"


def test_weights_file_is_safetensors_not_pickle(tmp_path):
    save_checkpoint(tmp_path / "ck", _trained_like("unet"), name="unet", config={"width": 4})
    head = (tmp_path / "ck" / WEIGHTS).read_bytes()[:16]
    assert not head.startswith(b"\x80")  # pickle protocol marker
    header_len = int.from_bytes(head[:8], "little")
    header = json.loads((tmp_path / "ck" / WEIGHTS).read_bytes()[8 : 8 + header_len])
    assert "inc.block.0.weight" in header


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_checkpoint(tmp_path / "empty")
    save_checkpoint(tmp_path / "ck", _trained_like("unet"), name="unet", config={"width": 4})
    (tmp_path / "ck" / WEIGHTS).unlink()
    with pytest.raises(CheckpointError, match="incomplete"):
        load_checkpoint(tmp_path / "ck")


def test_corrupt_weights_and_config(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, _trained_like("unet"), name="unet", config={"width": 4})
    blob = (ck / WEIGHTS).read_bytes()
    (ck / WEIGHTS).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(ck)
    (ck / CONFIG).write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_checkpoint_info(ck)


def test_incompatible_checkpoints(tmp_path):
    ck = tmp_path / "ck"
    save_checkpoint(ck, _trained_like("unet"), name="unet", config={"width": 4})
    doc = json.loads((ck / CONFIG).read_text())
    doc["config"]["width"] = 8  # weights no longer fit the declared network
    (ck / CONFIG).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(ck)
    doc["name"] = "transformer"
    (ck / CONFIG).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="unknown model"):
        load_checkpoint(ck)
    doc["name"], doc["format_version"] = "unet", 99
    (ck / CONFIG).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="version"):
        load_checkpoint(ck)
    doc["format_version"] = 1
    doc["config"] = {"width": 4, "zero_pad": 3}
    (ck / CONFIG).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="incompatible model config"):
        load_checkpoint(ck)


def test_metadata_must_be_json(tmp_path):
    with pytest.raises(TypeError):
        save_checkpoint(
            tmp_path / "ck", _trained_like("unet"), name="unet", config={}, metadata={"a": np}
        )
    assert not (tmp_path / "ck").exists()
