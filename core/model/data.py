"""A torch ``Dataset`` over the GT dataset format (``core.dataset``), with augmentation.

Samples are ``(image, target, valid)``: ``image`` ``(3, M, N)`` float in [0, 1],
``target`` ``(2, M, N)`` GT magnitudes / 255 (channel 0 wrinkle, 1 pore), ``valid``
``(1, M, N)`` 1 where the pixel is real (0 on padding added by :func:`pad_collate`).

Augmentation keeps positions meaningful, because the proposed network learns *where*
wrinkles and pores occur: per-channel colour gain, brightness and contrast, a small
scale (±5 %) and shift (±3 % of the size) and a horizontal flip (it swaps the left and
right cheeks, which are alike). No vertical flips, rotations or crops. Every random draw
comes from ``numpy.random.default_rng((seed, epoch, index))``, so an epoch's batches are
the same whatever the number of workers or processes, and a resumed run repeats them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from core.classes import CLASSES
from core.dataset import DatasetItem, DatasetManifest, read_manifest
from core.errors import DatasetError
from core.imageio import PNG_SIGNATURE, load_image
from core.model.masks import mask_levels_from_gt


@dataclass(frozen=True)
class Augment:
    """Ranges of the position-preserving augmentation (all relative)."""

    color: float = 0.08
    brightness: float = 0.12
    contrast: float = 0.12
    scale: float = 0.05
    shift: float = 0.03
    hflip: bool = True


def load_gt(path: Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a GT magnitude PNG as ``(M, N) uint8``; checks it matches the image size."""
    # Bytes + imdecode, not cv2.imread: imread cannot open non-ASCII paths on Windows.
    try:
        data = np.frombuffer(Path(path).read_bytes(), np.uint8)
    except OSError as exc:
        raise DatasetError(f"cannot read GT map {path}: {exc.strerror}") from None
    # Only PNG reaches OpenCV's decoders (the closed list of core.imageio).
    is_png = data[: len(PNG_SIGNATURE)].tobytes() == PNG_SIGNATURE
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if is_png else None
    if arr is None:
        raise DatasetError(f"cannot read GT map {path}: not a PNG image")
    if arr.ndim == 3:
        arr = arr[..., 0]
    if arr.dtype != np.uint8:
        raise DatasetError(f"GT map {path} must be 8-bit, got {arr.dtype}")
    if shape is not None and arr.shape != shape:
        raise DatasetError(f"GT map {path} is {arr.shape}, its image is {shape}")
    return arr


def load_item(item: DatasetItem) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The image ``(M, N, 3) uint8`` and GT maps ``{class: (M, N) uint8}`` of one item."""
    image = load_image(item.image).pixels
    gt: dict[str, np.ndarray] = {c: load_gt(item.gt[c], image.shape[:2]) for c in CLASSES}
    return image, gt


def data_hash(manifest: DatasetManifest) -> str:
    """SHA-256 over the items' ids, splits and content hashes and the GT parameters."""
    payload = {
        "gt_params": dict(manifest.gt_params),
        "items": [[i.id, i.split, i.content_hash, dict(i.gt_params or {})] for i in manifest.items],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def augment_pair(
    image: np.ndarray, gt: np.ndarray, rng: np.random.Generator, aug: Augment
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one random draw of ``aug`` to ``image`` (M, N, 3) and ``gt`` (M, N, 2) float32."""
    rows, cols = image.shape[:2]
    s = 1.0 + rng.uniform(-aug.scale, aug.scale)
    dr, dc = rng.uniform(-aug.shift, aug.shift, size=2) * (rows, cols)
    flip = aug.hflip and rng.random() < 0.5
    sx = -s if flip else s
    # scale about the centre, then shift; x = column, y = row for OpenCV
    cx, cy = (cols - 1) / 2.0, (rows - 1) / 2.0
    mat = np.array([[sx, 0.0, cx - sx * cx + dc], [0.0, s, cy - s * cy + dr]], np.float32)
    border = cv2.BORDER_REFLECT_101
    image = cv2.warpAffine(image, mat, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=border)
    gt = cv2.warpAffine(gt, mat, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=border)
    gain = 1.0 + rng.uniform(-aug.color, aug.color, size=3).astype(np.float32)
    contrast = 1.0 + rng.uniform(-aug.contrast, aug.contrast)
    bright = rng.uniform(-aug.brightness, aug.brightness)
    mean = image.mean()
    image = (image - mean) * contrast + mean
    image = np.clip(image * gain + bright, 0.0, 1.0).astype(np.float32)
    return image, gt


class GTDataset(Dataset):
    """Images and GT targets of one split of a GT dataset folder.

    Parameters
    ----------
    manifest : DatasetManifest or path
        The dataset (``read_manifest`` is called on a path).
    split : {"train", "val", "all"}
    augment : Augment, optional
        Augmentation ranges; ``None`` for none (validation).
    seed : int
        Base of the per-sample random streams.
    cache : bool
        Keep decoded images and targets in memory after the first read.
    """

    def __init__(
        self,
        manifest: DatasetManifest | str | Path,
        split: str = "train",
        *,
        augment: Augment | None = None,
        seed: int = 0,
        cache: bool = True,
        items: Sequence[DatasetItem] | None = None,
    ) -> None:
        self.manifest = (
            manifest if isinstance(manifest, DatasetManifest) else read_manifest(manifest)
        )
        self.items = tuple(items) if items is not None else self.manifest.split(split)
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.cache = cache
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's augmentation draws."""
        self.epoch = epoch

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image (M, N, 3) float32 in [0, 1], target (M, N, 2) float32 in [0, 1])``."""
        image, target = self.raw_uint8(index)
        return image.astype(np.float32) / 255.0, target.astype(np.float32) / 255.0

    def raw_uint8(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image (M, N, 3) uint8, GT (M, N, 2) uint8)``, cached as uint8 when ``cache``."""
        if index in self._cache:
            return self._cache[index]
        image, gt = load_item(self.items[index])
        pair = (image, np.stack([gt[c] for c in CLASSES], axis=-1))
        if self.cache:
            self._cache[index] = pair
        return pair

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        image, target = self.raw(index)
        if self.augment is not None:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            image, target = augment_pair(image, target, rng, self.augment)
        valid = torch.ones((1, *image.shape[:2]), dtype=torch.float32)
        return (
            torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
            torch.from_numpy(np.ascontiguousarray(target.transpose(2, 0, 1))),
            valid,
        )

    def mask_levels(self) -> dict[str, float]:
        """Mask levels of this split's GT (see :mod:`core.model.masks`); reads GT maps only."""
        maps = ({c: load_gt(item.gt[c]) for c in CLASSES} for item in self.items)
        return mask_levels_from_gt(maps)


def pad_collate(
    batch: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack samples, zero-padding smaller ones at the bottom/right (``valid`` marks real pixels)."""
    rows = max(b[0].shape[1] for b in batch)
    cols = max(b[0].shape[2] for b in batch)
    out = []
    for k in range(3):
        first = batch[0][k]
        stacked = first.new_zeros((len(batch), first.shape[0], rows, cols))
        for i, sample in enumerate(batch):
            t = sample[k]
            stacked[i, :, : t.shape[1], : t.shape[2]] = t
        out.append(stacked)
    return out[0], out[1], out[2]
