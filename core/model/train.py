"""Training: ``train(dataset_dir, out=..., model=...)`` is a generator of Progress.

The same generator drives ``skintrace train`` (progress bar or JSON lines) and the app.
It trains on the ``train`` split of a GT dataset, validates on ``val`` after every
epoch (loss and IoU per class, with the mask rule of :mod:`core.model.masks`), keeps the
best checkpoint (lowest validation loss) in ``OUT/best`` and the resumable state of the
last epoch in ``OUT/last``, stops early after ``patience`` epochs without improvement,
and stops cleanly when its CancelToken is set (raising ``Cancelled`` after the best
checkpoint is safely on disk).

Optimiser Adam; learning rate on a cosine schedule from ``lr`` to ``lr / 100`` over
``epochs``. Under ``torchrun`` each rank trains on its shard of the data (DDP); rank 0
writes the checkpoints. Random streams are keyed by (seed, epoch), so runs are
reproducible and a resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from core.classes import CLASSES
from core.dataset import read_manifest
from core.errors import Cancelled, CheckpointError, DatasetError, SettingError, SkinTraceError
from core.leftovers import clean_folder
from core.model import ddp
from core.model.checkpoint import BEST, CONFIG, save_checkpoint
from core.model.data import Augment, GTDataset, data_hash, pad_collate
from core.model.device import amp_dtype, resolve_device, set_threads
from core.model.infer import OutOfMemoryError
from core.model.losses import SegmentationLoss, balanced_class_weights
from core.model.memory import check_memory
from core.model.registry import count_parameters, create_model, model_config
from core.model.train_config import TrainConfig
from core.model.train_state import LAST, STATE_JSON, load_state, save_state
from core.progress import CancelToken, Progress


def model_options(cfg: TrainConfig) -> dict[str, Any]:
    """Options for ``create_model`` (only those set), checked by the registry."""
    opts: dict[str, Any] = {}
    if cfg.width is not None:
        opts["width"] = cfg.width
    if cfg.zero_pad is not None:
        opts["zero_pad"] = cfg.zero_pad
    return model_config(cfg.model, **opts)


def cosine_lr(base: float, epoch: int, epochs: int) -> float:
    """Learning rate of ``epoch`` (0-based): cosine from ``base`` to ``base / 100``."""
    low = base / 100.0
    return low + (base - low) * 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, epochs)))


def _shard(n: int, seed: int, epoch: int, env: ddp.DistEnv, shuffle: bool) -> list[int]:
    """This rank's indices: a (seed, epoch) permutation split evenly across ranks."""
    order = np.random.default_rng((seed, epoch, 7)).permutation(n) if shuffle else np.arange(n)
    if env.distributed:
        per_rank = n // env.world_size if shuffle else math.ceil(n / env.world_size)
        order = order[env.rank :: env.world_size][:per_rank]
    return [int(i) for i in order]


def _check_training_memory(
    cfg: TrainConfig, model_opts: dict[str, Any], items: tuple[Any, ...], device: torch.device
) -> None:
    """Refuse before building the network if a batch of the largest image cannot fit."""
    pixels = max(((item.rows or 0) * (item.cols or 0) for item in items), default=0)
    if pixels <= 0:
        return  # an older manifest without sizes: nothing to plan with
    check_memory(
        cfg.model,
        model_opts,
        device=device,
        tile=math.isqrt(pixels - 1) + 1,
        batch_size=min(cfg.batch_size, len(items)),
        training=True,
        what=f"training {cfg.model} with batches of {min(cfg.batch_size, len(items))}",
        advice="lower --batch-size or --width, or use a machine with more memory",
    )


def _check_out(out: Path, resume: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SettingError(f"{out} exists and is not a folder; choose another --out")
    has_run = (out / LAST).exists() or (out / BEST).exists()
    if resume and not (out / LAST / STATE_JSON).exists():
        raise CheckpointError(f"nothing to resume in {out}: no {LAST}/{STATE_JSON}")
    if not resume and has_run:
        raise SkinTraceError(
            f"{out} already holds a training run; pass --resume to continue it or choose "
            "another --out"
        )


def train(
    dataset_dir: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    resume: bool = False,
    cancel: CancelToken | None = None,
    **options: Any,
) -> Iterator[Progress]:
    """Train a network on a GT dataset, yielding progress.

    Parameters
    ----------
    dataset_dir : path
        A GT dataset folder (``manifest.json`` format version 1).
    out : path
        Output folder: ``best/`` (the checkpoint to use) and ``last/`` (resumable state).
    config : TrainConfig, optional
        All options; keyword ``options`` (e.g. ``model="unet", epochs=5``) override it.
    resume : bool
        Continue the run in ``out`` from its last completed epoch.
    cancel : CancelToken, optional
        Checked between batches; cancelling raises ``Cancelled`` with the best
        checkpoint kept.

    Yields
    ------
    Progress
        ``info["event"]`` is ``"batch"`` (``epoch``, ``batch``, ``loss``), ``"epoch"``
        (``epoch``, ``epochs``, ``train_loss``, ``val_loss``, ``iou_wrinkle``,
        ``iou_pore``, ``best`` (this epoch is the new best), ``best_val_loss``, ``lr``,
        ``images_per_s``) or, last, ``"done"`` (``reason``, ``best_checkpoint``,
        ``best_epoch``, ``best_val_loss``).
    """
    cfg = (config or TrainConfig()).replace(**options)  # validates again
    out = Path(out)
    manifest = read_manifest(dataset_dir)
    train_items = manifest.split("train")
    val_items = manifest.split("val")
    if not train_items:
        raise DatasetError(f"{manifest.root} has no training images (split 'train')")
    val_on_train = not val_items
    if val_on_train:
        val_items = train_items
    env = ddp.env_from_environ()
    if len(train_items) < env.world_size:
        raise DatasetError(
            f"{len(train_items)} training images cannot be shared by {env.world_size} processes"
        )
    # A killed earlier run into ``out`` may have left temp checkpoints or a swap. Resuming
    # needs the swap settled first (it may put ``last/`` back); a fresh run checks first,
    # so a ``best/`` put back is simply replaced by its first save.
    if resume:
        clean_folder(out, recursive=True, swaps=True)
    _check_out(out, resume)
    if not resume:
        clean_folder(out, recursive=True, swaps=True)
    set_threads(cfg.threads)
    device = ddp.init_distributed(resolve_device(cfg.device), env)
    try:
        yield from _train(
            cfg, manifest, train_items, val_items, val_on_train, out, resume, cancel, env, device
        )
    finally:
        ddp.shutdown()


def _train(
    cfg: TrainConfig,
    manifest: Any,
    train_items: tuple[Any, ...],
    val_items: tuple[Any, ...],
    val_on_train: bool,
    out: Path,
    resume: bool,
    cancel: CancelToken | None,
    env: ddp.DistEnv,
    device: torch.device,
) -> Iterator[Progress]:
    model_opts = model_options(cfg)
    train_ds = GTDataset(
        manifest,
        items=train_items,
        augment=Augment() if cfg.augment else None,
        seed=cfg.seed,
        cache=cfg.cache,
    )
    val_ds = GTDataset(manifest, items=val_items, augment=None, cache=cfg.cache)
    levels: dict[str, float] = (
        train_ds.mask_levels() if cfg.loss != "dice" else dict.fromkeys(CLASSES, 128.0)
    )
    weights = cfg.class_weights or (1.0, 1.0)
    if cfg.loss == "weighted-mse" and cfg.class_weights is None:
        weights = balanced_class_weights([max(levels[c], 1.0) for c in CLASSES])
    criterion = SegmentationLoss(cfg.loss, weights).to(device)

    _check_training_memory(cfg, model_opts, train_items, device)
    torch.manual_seed(cfg.seed)
    net = create_model(cfg.model, **model_opts).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    dtype = amp_dtype(device, cfg.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    hashed = data_hash(manifest)

    start_epoch, best_loss, best_epoch, bad_epochs = 0, math.inf, 0, 0
    history: list[dict[str, Any]] = []
    if resume:
        state = load_state(out, cfg, model_opts, net, optimizer, scaler, device)
        start_epoch = state["epoch"]
        best_loss = state["best_val_loss"]
        best_epoch = state["best_epoch"]
        bad_epochs = state["bad_epochs"]
        history = state["history"]

    model: torch.nn.Module = net
    if env.distributed:
        ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(net, device_ids=ids)

    n_train = len(_shard(len(train_ds), cfg.seed, 0, env, shuffle=True))
    steps = math.ceil(n_train / cfg.batch_size)
    total = cfg.epochs * steps
    base_meta = {
        "data_hash": hashed,
        "dataset": str(manifest.root),
        "train_items": len(train_items),
        "val_items": len(val_items) if not val_on_train else 0,
        "mask_levels": levels,
        "params": count_parameters(net),
        "train_config": cfg.to_dict(),
        "world_size": env.world_size,
        "train_items_per_rank": n_train,
    }
    reason = "completed"
    for epoch in range(start_epoch, cfg.epochs):
        lr = cosine_lr(cfg.lr, epoch, cfg.epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr
        train_ds.set_epoch(epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        loader = DataLoader(
            train_ds,
            batch_size=cfg.batch_size,
            sampler=_shard(len(train_ds), cfg.seed, epoch, env, shuffle=True),
            collate_fn=pad_collate,
            num_workers=cfg.num_workers,
        )
        model.train()
        t0 = time.perf_counter()
        loss_sum, seen = 0.0, 0
        for b, (x, y, valid) in enumerate(loader):
            stop = cancel is not None and cancel.cancelled
            if ddp.any_rank(stop, env, device):
                raise Cancelled(_cancelled_message(out, epoch))
            x, y, valid = x.to(device), y.to(device), valid.to(device)
            optimizer.zero_grad(set_to_none=True)
            try:
                with torch.autocast(
                    device.type, dtype=dtype or torch.float32, enabled=dtype is not None
                ):
                    logits = model(x)
                loss = criterion(logits.float(), y, valid)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            except torch.OutOfMemoryError:
                raise OutOfMemoryError(
                    f"the GPU ran out of memory at batch size {cfg.batch_size}; lower "
                    "--batch-size (or use --precision bf16/fp16)"
                ) from None
            value = float(loss.item())  # the one device sync of the batch
            if not math.isfinite(value):
                raise SkinTraceError(
                    f"training diverged at epoch {epoch + 1} (loss is {value}); lower --lr"
                )
            loss_sum += value * x.shape[0]
            seen += x.shape[0]
            yield Progress(
                epoch * steps + b + 1,
                total,
                f"epoch {epoch + 1}/{cfg.epochs} loss {loss_sum / seen:.4f}",
                {"event": "batch", "epoch": epoch + 1, "batch": b + 1, "loss": loss_sum / seen},
            )
        sums = ddp.all_reduce_sum(
            torch.tensor([loss_sum, seen], device=device, dtype=torch.float64), env
        )
        train_loss = float(sums[0] / sums[1].clamp_min(1))
        elapsed = time.perf_counter() - t0
        val = validate(
            model, val_ds, criterion, levels, cfg=cfg, env=env, device=device, dtype=dtype
        )
        improved = val["val_loss"] < best_loss
        if improved:
            best_loss, best_epoch, bad_epochs = val["val_loss"], epoch + 1, 0
        else:
            bad_epochs += 1
        record = {
            "epoch": epoch + 1,
            "epochs": cfg.epochs,
            "train_loss": train_loss,
            **val,
            "best": improved,
            "best_val_loss": best_loss,
            "best_epoch": best_epoch,
            "lr": lr,
            "images_per_s": float(sums[1]) / max(elapsed, 1e-9),
            "val_on_train": val_on_train,
        }
        history.append(record)
        if env.is_main:
            meta = {**base_meta, "metrics": record, "epoch": epoch + 1}
            if improved:
                save_checkpoint(out / BEST, net, name=cfg.model, config=model_opts, metadata=meta)
            save_state(
                out,
                net,
                cfg,
                model_opts,
                optimizer,
                scaler,
                meta,
                history,
                epoch + 1,
                best_loss,
                best_epoch,
                bad_epochs,
            )
        ddp.barrier(env)
        message = (
            f"epoch {epoch + 1}/{cfg.epochs} val loss {val['val_loss']:.4f} "
            f"IoU w {val['iou_wrinkle']:.3f} p {val['iou_pore']:.3f}"
        )
        yield Progress((epoch + 1) * steps, total, message, {"event": "epoch", **record})
        if bad_epochs >= cfg.patience and epoch + 1 < cfg.epochs:
            reason = "early_stopping"
            break
    yield Progress(
        total,
        total,
        f"done ({reason}); best epoch {best_epoch}",
        {
            "event": "done",
            "reason": reason,
            "best_checkpoint": str(out / BEST),
            "best_epoch": best_epoch,
            "best_val_loss": best_loss,
            "history": history,
        },
    )


@torch.inference_mode()
def validate(
    model: torch.nn.Module,
    dataset: GTDataset,
    criterion: SegmentationLoss,
    levels: dict[str, float],
    *,
    cfg: TrainConfig,
    env: ddp.DistEnv,
    device: torch.device,
    dtype: torch.dtype | None,
) -> dict[str, float]:
    """Validation loss (per image mean) and global IoU per class over ``dataset``."""
    model.eval()
    net = model.module if isinstance(model, DistributedDataParallel) else model
    ddp.broadcast_buffers(net, env)  # every rank validates rank 0's model (the one saved)
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=_shard(len(dataset), 0, 0, env, shuffle=False),
        collate_fn=pad_collate,
        num_workers=cfg.num_workers,
    )
    thresholds = torch.tensor([levels[c] / 255.0 for c in CLASSES], device=device).view(1, 2, 1, 1)
    # loss*images, images, intersection (2), union (2)
    acc = torch.zeros(6, dtype=torch.float64, device=device)
    for x, y, valid in loader:
        x, y, valid = x.to(device), y.to(device), valid.to(device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = net(x)
        for i in range(x.shape[0]):  # per-image loss so padding and batch size do not matter
            acc[0] += criterion(logits[i : i + 1].float(), y[i : i + 1], valid[i : i + 1])
        acc[1] += x.shape[0]
        pred = (torch.sigmoid(logits.float()) >= thresholds) & (valid > 0)
        truth = (y > 0) & (valid > 0)
        acc[2:4] += (pred & truth).sum(dim=(0, 2, 3)).double()
        acc[4:6] += (pred | truth).sum(dim=(0, 2, 3)).double()
    ddp.all_reduce_sum(acc, env)
    iou = [float(acc[2 + k] / acc[4 + k]) if acc[4 + k] > 0 else 1.0 for k in range(2)]
    return {
        "val_loss": float(acc[0] / acc[1].clamp_min(1)),
        "iou_wrinkle": iou[0],
        "iou_pore": iou[1],
    }


def _cancelled_message(out: Path, epoch: int) -> str:
    """What a cancel at ``epoch`` (0-based) leaves: the best checkpoint, or none yet."""
    if (out / BEST / CONFIG).is_file():
        return (
            f"training cancelled at epoch {epoch + 1}; the best checkpoint so far is kept "
            f"in {out / BEST}"
        )
    return (
        f"training cancelled at epoch {epoch + 1}, before the first checkpoint was written; "
        f"nothing was saved in {out}"
    )
