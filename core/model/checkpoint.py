"""Checkpoint folders: ``model.safetensors`` + ``config.json``; loading never unpickles.

``config.json`` holds ``{"format": "skintrace-checkpoint", "format_version": 1,
"name": ..., "config": {...}, "metadata": {...}}`` where ``metadata`` carries at least
``params``, ``date`` and ``torch_version`` and, after training, ``data_hash``,
``metrics`` and ``mask_levels``. The folder is replaced as a whole: the new checkpoint is
written to a sibling temporary folder and swapped in, so a crash never leaves a
half-written checkpoint and the previous one survives until the new one is complete.

Checkpoints are untrusted input (labs exchange them). Reading one never unpickles and
validates before it builds: ``config.json`` is read within size and depth limits and
checked against :class:`core.schemas.CheckpointDocument` (width, zero_pad, mask levels
...); ``model.safetensors`` must be a regular file inside the folder whose header
declares exactly the tensors, dtypes and shapes of the network the config describes,
and whose size matches them, before its bytes are read (:func:`verify_checkpoint`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from core.atomic import (
    atomic_write_bytes,
    atomic_write_text,
    disk_full_error,
    is_disk_full,
    make_temp_dir,
    previous_folder,
    replace_folder,
)
from core.bounded import TensorEntry, read_bytes_bounded
from core.errors import CheckpointError, SettingError
from core.leftovers import clean_folder, replace_folder_leftovers, temp_name_prefix
from core.model.registry import count_parameters, create_model, model_config
from core.schemas import (
    CHECKPOINT_CONFIG,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CHECKPOINT_WEIGHTS,
    MAX_WEIGHTS_BYTES,
    check_checkpoint_folder,
    read_checkpoint_document,
)

FORMAT = CHECKPOINT_FORMAT
FORMAT_VERSION = CHECKPOINT_VERSION
WEIGHTS = CHECKPOINT_WEIGHTS
CONFIG = CHECKPOINT_CONFIG

#: safetensors dtype names of the torch dtypes a state dict holds.
_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


@dataclass(frozen=True)
class CheckpointInfo:
    """What ``config.json`` says about a checkpoint."""

    path: Path
    name: str
    config: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


def unwrap(model: nn.Module) -> nn.Module:
    """The bare network inside a DistributedDataParallel or compiled wrapper."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return getattr(model, "_orig_mod", model)


def save_checkpoint(
    directory: str | os.PathLike[str],
    model: nn.Module,
    *,
    name: str,
    config: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """Write ``model`` as a checkpoint folder, replacing ``directory`` as a whole.

    Parameters
    ----------
    directory : path
        The checkpoint folder to create or replace.
    model : nn.Module
        The network (DDP wrappers are unwrapped); its ``state_dict`` is saved.
    name, config
        Registry name and options: ``create_model(name, **config)`` rebuilds it.
    metadata : dict, optional
        JSON-serialisable facts (metrics, data hash, ...). ``params``, ``date`` and
        ``torch_version`` are filled in.
    extra_files : dict[str, bytes], optional
        More files written into the same folder in the same swap (training state).

    Returns
    -------
    Path
        The checkpoint folder.
    """
    target = Path(directory)
    net = unwrap(model)
    full_config = model_config(name, **config)
    meta = dict(metadata or {})
    meta.setdefault("params", count_parameters(net))
    meta["date"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    meta["torch_version"] = torch.__version__
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "config": full_config,
        "metadata": meta,
    }
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    blob = st_save(tensors, metadata={"format": FORMAT, "name": name})

    target.parent.mkdir(parents=True, exist_ok=True)
    # What a killed save next to ``target`` left: dead writers' temps, a swap of it.
    clean_folder(target.parent)
    replace_folder_leftovers(target)
    kept = "the checkpoint already there is unchanged" if target.exists() else "none was saved"
    try:
        tmp = make_temp_dir(target.parent, prefix=temp_name_prefix(target.name), suffix=".tmp")
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(target, exc, what="the checkpoint", kept=kept) from None
        raise
    try:
        atomic_write_bytes(tmp / WEIGHTS, blob)
        atomic_write_text(tmp / CONFIG, text)
        for fname, data in (extra_files or {}).items():
            if Path(fname).name != fname or fname in (WEIGHTS, CONFIG):
                raise ValueError(f"bad extra checkpoint file name {fname!r}")
            atomic_write_bytes(tmp / fname, data)
        replace_folder(tmp, target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(exc):  # name the checkpoint, not a file in its temp folder
            raise disk_full_error(target, exc, what="the checkpoint", kept=kept) from None
        raise
    return target


#: Sub-folder of a training output folder that holds the best checkpoint.
BEST = "best"


def _resolve(directory: str | os.PathLike[str]) -> Path:
    path = Path(directory)
    if path.is_dir() and not (path / CONFIG).exists() and (path / BEST / CONFIG).exists():
        return path / BEST  # a training output folder: use its best checkpoint
    if not path.exists() and previous_folder(path).is_dir():
        return previous_folder(path)  # a save was interrupted mid-swap: the old one is complete
    if not path.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {path}")
    return path


def read_checkpoint_info(directory: str | os.PathLike[str]) -> CheckpointInfo:
    """Read and validate ``config.json`` of a checkpoint folder (no weights loaded)."""
    path = _resolve(directory)
    doc, document = read_checkpoint_document(path)
    name = doc.name
    metadata = dict(document.get("metadata") or {})  # validated above; kept as written
    try:
        config = model_config(name, **doc.config.model_dump(exclude_none=True))
    except SettingError as exc:
        raise CheckpointError(f"{path} has an incompatible model config: {exc}") from None
    return CheckpointInfo(path=path, name=name, config=config, metadata=metadata)


def load_checkpoint(
    directory: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, CheckpointInfo]:
    """Rebuild the network of a checkpoint folder and load its weights (no unpickling).

    Parameters
    ----------
    directory : path
        A folder written by :func:`save_checkpoint`.
    device : str or torch.device
        Where the weights go.

    Returns
    -------
    model : nn.Module
        The network in eval mode on ``device``.
    info : CheckpointInfo
        Its name, config and metadata.

    Raises
    ------
    CheckpointError
        Missing, corrupt or incompatible checkpoint.
    """
    info = verify_checkpoint(directory)
    weights = info.path / WEIGHTS
    blob = read_bytes_bounded(
        weights, error=CheckpointError, max_bytes=MAX_WEIGHTS_BYTES, root=info.path
    )
    try:
        state = st_load(blob)
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(f"{weights} is corrupt: {exc}") from None
    del blob
    model = create_model(info.name, **info.config)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), info


def expected_tensors(name: str, config: dict[str, Any]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name to (safetensors dtype, shape) of network ``name``; built on ``meta``."""
    with torch.device("meta"):
        net = create_model(name, **config)
    return {
        k: (_DTYPES.get(v.dtype, str(v.dtype)), tuple(v.shape)) for k, v in net.state_dict().items()
    }


def verify_checkpoint(directory: str | os.PathLike[str]) -> CheckpointInfo:
    """Validate a checkpoint folder without reading its weights or allocating a network.

    ``config.json`` is validated (:func:`read_checkpoint_info`); the header of
    ``model.safetensors`` must declare exactly the tensors (names, dtypes, shapes) of the
    network that config describes, and the file size must match the header. Any
    storage that hands over a checkpoint (a project's model history, retraining, a team
    server) calls this before the model is used.

    Raises
    ------
    CheckpointError
        With one line naming the file and what is wrong.
    """
    info = read_checkpoint_info(directory)
    _, header = check_checkpoint_folder(info.path)
    _match(info, header, expected_tensors(info.name, info.config))
    return info


def _match(
    info: CheckpointInfo,
    header: dict[str, TensorEntry],
    expected: dict[str, tuple[str, tuple[int, ...]]],
) -> None:
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    bad_shape = sorted(
        k for k in set(expected) & set(header) if expected[k] != (header[k].dtype, header[k].shape)
    )
    if missing or extra or bad_shape:
        key = (missing or extra or bad_shape)[0]
        detail = key
        if key in bad_shape:
            want, got = expected[key], header[key]
            detail = f"{key} is {got.dtype} {list(got.shape)}, expected {want[0]} {list(want[1])}"
        raise CheckpointError(
            f"{info.path} does not match model {info.name!r} with its config "
            f"({len(missing)} missing, {len(extra)} unexpected, {len(bad_shape)} mis-shaped "
            f"tensors, e.g. {detail}): it was saved by an incompatible version or edited"
        )
