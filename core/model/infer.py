"""Inference: ``Predictor(checkpoint_dir).predict(images)`` → per-class uint8 maps.

Images of the same size are batched; on CUDA the forward pass runs in bf16/fp16
autocast. Images larger than ``tile`` pixels on a side are processed as overlapping
tiles whose predictions are blended with a smooth (raised-cosine) weight, so seams do
not show and memory stays bounded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from core.classes import CLASSES
from core.errors import CheckpointError, SettingError, SkinTraceError
from core.model.checkpoint import load_checkpoint, verify_checkpoint
from core.model.device import amp_dtype, resolve_device, set_threads
from core.model.masks import DEFAULT_MASK_LEVEL, maps_to_masks
from core.model.memory import check_memory

#: Tile side above which an image is processed in overlapping tiles.
DEFAULT_TILE = 1024
#: Overlap between neighbouring tiles, in pixels.
DEFAULT_OVERLAP = 128


class OutOfMemoryError(SkinTraceError):
    """The GPU ran out of memory."""


def to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    """Stack ``(M, N, 3) uint8`` images into a ``(B, 3, M, N)`` float tensor in [0, 1]."""
    arr = np.stack([check_image(im) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate one input image; returns it as a contiguous ``(M, N, 3) uint8`` array."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an (M, N, 3) uint8 RGB image, got shape {image.shape} {image.dtype}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"empty image of shape {image.shape}")
    return np.ascontiguousarray(image)


def _window(n: int, overlap: int) -> np.ndarray:
    """1-D blending weight: raised-cosine ramps of length ``overlap`` at both ends."""
    w = np.ones(n, dtype=np.float32)
    ramp = min(overlap, n // 2)
    if ramp > 0:
        t = (np.arange(ramp, dtype=np.float32) + 0.5) / ramp
        w[:ramp] = 0.5 - 0.5 * np.cos(np.pi * t)
        w[n - ramp :] = w[:ramp][::-1]
    return w


def _starts(size: int, tile: int, step: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return starts


class Predictor:
    """Run a trained checkpoint on images.

    Parameters
    ----------
    checkpoint_dir : path
        A checkpoint folder (``model.safetensors`` + ``config.json``).
    device : str
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.
    batch_size : int
        Images per forward pass.
    threads : int, optional
        Torch CPU threads (process-wide); the app uses 1-2 in the background.
    precision : str
        ``"auto"``, ``"bf16"``, ``"fp16"`` or ``"fp32"``; only used on CUDA.
    tile, overlap : int
        Images with a side above ``tile`` are predicted in tiles overlapping by ``overlap``.
    """

    def __init__(
        self,
        checkpoint_dir: str | os.PathLike[str],
        *,
        device: str = "auto",
        batch_size: int = 4,
        threads: int | None = None,
        precision: str = "auto",
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
    ) -> None:
        if batch_size < 1:
            raise SettingError(f"batch_size must be >= 1, got {batch_size}")
        if tile < 32 or not 0 <= overlap < tile // 2:
            raise SettingError(f"need tile >= 32 and 0 <= overlap < tile/2, got {tile}, {overlap}")
        set_threads(threads)
        self.device = resolve_device(device)
        # Validate config and weights header, then plan the memory, before any tensor
        # is allocated (the header check is cheap; the estimate traces the network).
        info = verify_checkpoint(checkpoint_dir)
        pad = int(info.config.get("zero_pad") or 0)
        if pad > tile:
            raise CheckpointError(
                f"{info.path} pads its input by {pad} px per side, more than the {tile} px "
                f"tile; predict with a tile of at least {pad} px"
            )
        check_memory(
            info.name, info.config, device=self.device, tile=tile, what=f"checkpoint {info.path}"
        )
        self.model, self.info = load_checkpoint(checkpoint_dir, device=self.device)
        self.batch_size = batch_size
        self.dtype = amp_dtype(self.device, precision)
        self.tile = tile
        self.overlap = overlap

    @property
    def mask_levels(self) -> dict[str, float]:
        """The per-class mask levels stored with the checkpoint (see core.model.masks)."""
        stored = self.info.metadata.get("mask_levels") or {}
        return {c: float(stored.get(c, DEFAULT_MASK_LEVEL)) for c in CLASSES}

    def predict(self, images: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Predicted magnitude maps, one ``dict[class, (M, N) uint8]`` per input image."""
        return list(self.iter_predict(images))

    def predict_masks(self, images: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Binary masks by the documented rule (``map >= mask level``)."""
        return [maps_to_masks(m, self.mask_levels) for m in self.iter_predict(images)]

    def iter_predict(self, images: Sequence[np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        """Like :meth:`predict`, yielding results in input order as they are ready."""
        images = [check_image(im) for im in images]
        i = 0
        while i < len(images):
            shape = images[i].shape
            if max(shape[:2]) > self.tile:
                yield self._to_maps(self._predict_tiled(images[i]))
                i += 1
                continue
            j = i + 1
            while j < len(images) and j - i < self.batch_size and images[j].shape == shape:
                j += 1
            probs = self._forward(to_tensor(images[i:j]))
            for k in range(j - i):
                yield self._to_maps(probs[k])
            i = j

    def _to_maps(self, probs: np.ndarray) -> dict[str, np.ndarray]:
        u8 = np.clip(np.rint(probs * 255.0), 0, 255).astype(np.uint8)
        return {c: np.ascontiguousarray(u8[k]) for k, c in enumerate(CLASSES)}

    @torch.inference_mode()
    def _forward(self, x: torch.Tensor) -> np.ndarray:
        """Sigmoid outputs ``(B, 2, M, N) float32`` for a batch on the CPU."""
        x = x.to(self.device, non_blocking=True)
        try:
            if self.dtype is not None:
                with torch.autocast(device_type=self.device.type, dtype=self.dtype):
                    out = self.model(x)
            else:
                out = self.model(x)
        except torch.OutOfMemoryError:
            raise OutOfMemoryError(
                "the GPU ran out of memory during inference; lower the batch size or the "
                "tile size, or use --device cpu"
            ) from None
        return torch.sigmoid(out.float()).cpu().numpy()

    def _predict_tiled(self, image: np.ndarray) -> np.ndarray:
        rows, cols = image.shape[:2]
        tile, step = self.tile, self.tile - self.overlap
        acc = np.zeros((len(CLASSES), rows, cols), dtype=np.float32)
        weight = np.zeros((rows, cols), dtype=np.float32)
        boxes = [
            (r, c, min(tile, rows), min(tile, cols))
            for r in _starts(rows, tile, step)
            for c in _starts(cols, tile, step)
        ]
        for b in range(0, len(boxes), self.batch_size):
            chunk = boxes[b : b + self.batch_size]
            crops = [image[r : r + h, c : c + w] for r, c, h, w in chunk]
            probs = self._forward(to_tensor(crops))
            for (r, c, h, w), p in zip(chunk, probs, strict=True):
                wgt = np.outer(_window(h, self.overlap), _window(w, self.overlap))
                acc[:, r : r + h, c : c + w] += p * wgt
                weight[r : r + h, c : c + w] += wgt
        return acc / np.maximum(weight, 1e-6)
