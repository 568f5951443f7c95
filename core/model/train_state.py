"""The resumable state of a training run: ``last/`` = checkpoint + optimizer + JSON state.

Nothing is pickled: the optimizer's tensors go to safetensors, everything else to
``train_state.json``, which is read back bounded and type-checked (a damaged file is a
one-line refusal to resume).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from core.bounded import MAX_MANIFEST_BYTES, read_json_bounded
from core.errors import CheckpointError
from core.model.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint

if TYPE_CHECKING:
    from core.model.train_config import TrainConfig

LAST = "last"
STATE_JSON = "train_state.json"
OPTIM = "optimizer.safetensors"


def _optimizer_blobs(opt: torch.optim.Optimizer) -> tuple[bytes, dict[str, Any]]:
    """Split an optimiser state into safetensors tensors and JSON (no pickling)."""
    state = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    return st_save(tensors), {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(opt: torch.optim.Optimizer, blob: bytes, meta: dict[str, Any]) -> None:
    tensors = st_load(blob)
    state: dict[int, dict[str, Any]] = {}
    for flat, value in [*tensors.items(), *meta.get("scalars", {}).items()]:
        pid, key = flat.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_state(
    out: Path,
    net: torch.nn.Module,
    cfg: TrainConfig,
    model_opts: dict[str, Any],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    meta: dict[str, Any],
    history: list[dict[str, Any]],
    epoch: int,
    best_loss: float,
    best_epoch: int,
    bad_epochs: int,
) -> None:
    blob, opt_meta = _optimizer_blobs(optimizer)
    state = {
        "epoch": epoch,
        "best_val_loss": best_loss if math.isfinite(best_loss) else None,
        "best_epoch": best_epoch,
        "bad_epochs": bad_epochs,
        "history": history,
        "train_config": cfg.to_dict(),
        "optimizer": opt_meta,
        "scaler": scaler.state_dict() if scaler.is_enabled() else None,
    }
    text = json.dumps(state, indent=1, allow_nan=False).encode()
    save_checkpoint(
        out / LAST,
        net,
        name=cfg.model,
        config=model_opts,
        metadata=meta,
        extra_files={OPTIM: blob, STATE_JSON: text},
    )


def load_state(
    out: Path,
    cfg: TrainConfig,
    model_opts: dict[str, Any],
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
) -> dict[str, Any]:
    last = out / LAST
    info = read_checkpoint_info(last)
    if info.name != cfg.model or info.config != model_opts:
        raise CheckpointError(
            f"{last} was trained as {info.name} {info.config}, not {cfg.model} {model_opts}; "
            "resume with the same --model and --width"
        )
    loaded, _ = load_checkpoint(last, device=device)
    net.load_state_dict(loaded.state_dict())
    state = _read_state(last / STATE_JSON)
    try:
        _restore_optimizer(optimizer, (last / OPTIM).read_bytes(), state["optimizer"])
        if state.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, SafetensorError) as exc:
        raise CheckpointError(
            f"cannot resume: the optimizer state in {last} is damaged ({exc}); start a new "
            "run with another --out"
        ) from None
    if state["best_val_loss"] is None:
        state["best_val_loss"] = math.inf
    return state


#: Fields of train_state.json and the types a resume needs.
_STATE_FIELDS: dict[str, tuple[type, ...]] = {
    "epoch": (int,),
    "best_val_loss": (int, float, type(None)),
    "best_epoch": (int,),
    "bad_epochs": (int,),
    "history": (list,),
    "optimizer": (dict,),
}


def _read_state(path: Path) -> dict[str, Any]:
    """Read and check ``train_state.json``; one-line CheckpointError saying why not."""

    def damaged(why: str) -> CheckpointError:
        return CheckpointError(
            f"cannot resume: {path} is damaged ({why}); start a new run with another --out"
        )

    try:
        # Bounded: a huge or deeply nested file is refused before it is parsed.
        state = read_json_bounded(
            path, error=CheckpointError, max_bytes=MAX_MANIFEST_BYTES, root=path.parent
        )
    except CheckpointError as exc:
        why = str(exc).removeprefix(str(path)).strip(" :")
        corrupt = "is corrupt or cannot be read: "
        raise damaged(
            f"not valid JSON: {why.removeprefix(corrupt)}" if why.startswith(corrupt) else why
        ) from None
    if not isinstance(state, dict):
        raise damaged(f"expected a JSON object, found {type(state).__name__}")
    for key, types in _STATE_FIELDS.items():
        if key not in state:
            raise damaged(f"{key!r} is missing")
        value = state[key]
        if not isinstance(value, types) or isinstance(value, bool):
            raise damaged(f"{key!r} is {value!r}")
    if state["epoch"] < 0:
        raise damaged(f"epoch {state['epoch']} is negative")
    if not all(isinstance(h, dict) for h in state["history"]):
        raise damaged("'history' must be a list of objects")
    return state
