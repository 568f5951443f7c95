"""Training interrupted before its first checkpoint says so; a damaged train_state.json
is a one-line refusal to resume."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from app.cli import main
from core.errors import Cancelled, CheckpointError
from core.model.train import train
from core.progress import CancelToken
from tests.core.test_model_data import make_dataset

torch.set_num_threads(2)

FAST = dict(model="proposed", width=4, zero_pad=8, batch_size=2, lr=1e-2, device="cpu")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("interrupts") / "ds", n=6)


@pytest.fixture(scope="module")
def one_epoch(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    list(train(dataset, out=out, epochs=1, **FAST))
    return out


def test_cancel_before_the_first_checkpoint_says_nothing_was_saved(dataset, tmp_path):
    token = CancelToken()
    token.cancel()  # Ctrl-C while the data and model were being set up
    with pytest.raises(Cancelled) as exc:
        list(train(dataset, out=tmp_path / "c", epochs=3, cancel=token, **FAST))
    message = str(exc.value)
    assert "before the first checkpoint was written" in message
    assert "best checkpoint" not in message
    assert not (tmp_path / "c" / "best").exists()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "expected a JSON object, found list"),
        (b"{}", "'epoch' is missing"),
        (None, "'epoch' is 'x'"),  # the real state with one field damaged
    ],
)
def test_a_damaged_train_state_is_a_one_line_refusal(
    dataset, one_epoch, tmp_path, capsys, content, why
):
    out = tmp_path / "r"
    shutil.copytree(one_epoch, out)
    state_file = out / "last" / "train_state.json"
    if content is None:
        state = json.loads(state_file.read_text())
        state["epoch"] = "x"
        content = json.dumps(state).encode()
    state_file.write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot resume: .*train_state.json is damaged"):
        list(train(dataset, out=out, resume=True, epochs=2, **FAST))
    argv = ["train", str(dataset), "--out", str(out), "--resume", "--epochs", "2", "-q"]
    argv += ["--model", "proposed", "--width", "4", "--zero-pad", "8", "--device", "cpu"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err and "Traceback" not in err, err
