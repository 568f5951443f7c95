"""Memory a network will need, estimated before it is built, and what the machine has.

A checkpoint from elsewhere may declare a network far too large for this machine.
:func:`estimate` builds the network on torch's ``meta`` device (shapes only, no memory)
to count its parameters, and computes the activations at the tile size from
:data:`ACTIVATIONS_PER_PIXEL`: for every registered network the activation memory is
exactly linear in the width and the pixel count, with coefficients measured by
:func:`trace_activations` (one forward pass on ``meta`` tracking the bytes of the tensors
alive at each step: the peak for inference; every output for training, where the backward
pass keeps them). The trace is not run at load time because its first call costs
seconds (torch imports its symbolic-shape machinery); ``tests/core/test_model_memory.py``
checks that the coefficients still match it. Training also counts the weights four times
(weights, gradients, two Adam moments). :func:`check_memory` compares the total with
:func:`available_bytes` and refuses with one line before anything is allocated.
"""

from __future__ import annotations

import functools
import os
import resource
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from core.errors import SettingError, SkinTraceError
from core.model.nets import STRIDE
from core.model.registry import create_model, model_config

#: Bytes per value: estimates assume float32 (mixed precision only makes them smaller).
BYTES_PER_VALUE = 4
#: Share of the available memory a model may plan to use (the rest: images, Python, Qt).
USABLE_SHARE = 0.9

MEMINFO = Path("/proc/meminfo")
PROC_STATUS = Path("/proc/self/status")


class NotEnoughMemoryError(SkinTraceError):
    """A network would need more memory than the machine has."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a network needs: its weights (and optimizer state) plus activations."""

    params: int
    weight_bytes: int
    activation_bytes: int

    @property
    def total(self) -> int:
        return self.weight_bytes + self.activation_bytes


class _PeakBytes(TorchDispatchMode):
    """Tracks the bytes of tensors created under it that are still alive, and the peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor) and t._base is None:  # views share storage
                n = t.numel() * BYTES_PER_VALUE
                self.live += n
                self.total += n
                weakref.finalize(t, self._free, n)
        self.peak = max(self.peak, self.live)
        return out

    def _free(self, n: int) -> None:
        self.live -= n


#: Activation values per input pixel, ``(slope, intercept)`` in ``slope × width +
#: intercept``, for inference (peak) and training (all kept); float32 at 4 bytes each.
#: Measured with :func:`trace_activations` (exactly linear for widths 4-64).
ACTIVATIONS_PER_PIXEL: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "unet": ((9.3125, 0.001), (35.071, 4.002)),
    "reduced-unet": ((9.3125, 0.001), (35.071, 4.002)),
    "reduced-unet-attention": ((11.282, 0.002), (51.044, 9.347)),
    # + the zero-padded copy of the 3-channel input
    "proposed": ((11.282, 3.002), (51.044, 12.347)),
    "unet++": ((23.157, 0.002), (103.827, 4.002)),
}


def _padded_pixels(tile: int, pad: int) -> int:
    side = tile + 2 * pad
    side = -(-side // STRIDE) * STRIDE  # the networks pad their input to the stride
    return side * side


@functools.lru_cache(maxsize=64)
def _weights(name: str, options: tuple[tuple[str, Any], ...]) -> tuple[int, int]:
    with torch.device("meta"):  # shapes only: no memory, no forward pass
        net = create_model(name, **dict(options))
    return sum(p.numel() for p in net.parameters()), sum(b.numel() for b in net.buffers())


def trace_activations(
    name: str, config: dict[str, Any], *, tile: int, training: bool = False
) -> int:
    """Activation bytes of one ``tile`` × ``tile`` input, traced on the ``meta`` device.

    The reference for :data:`ACTIVATIONS_PER_PIXEL` (slow on its first call).
    """
    full = model_config(name, **config)
    with torch.device("meta"):
        net = create_model(name, **full)
    x = torch.empty(1, int(full["in_channels"]), tile, tile, device="meta")
    mode = _PeakBytes()
    with torch.set_grad_enabled(training), mode:
        y = net(x)
    del y
    return mode.total if training else mode.peak


def estimate(
    name: str,
    config: dict[str, Any],
    *,
    tile: int,
    batch_size: int = 1,
    training: bool = False,
) -> MemoryEstimate:
    """Memory to run network ``name`` on ``batch_size`` images of ``tile`` × ``tile`` pixels.

    Parameters
    ----------
    name, config
        As for ``create_model`` (validated by ``model_config``, so widths are bounded).
    tile : int
        Side of the square input, in pixels (``proposed`` adds its zero padding itself).
    batch_size : int
        Inputs per forward pass.
    training : bool
        Include gradients, Adam state and the activations kept for the backward pass.

    Returns
    -------
    MemoryEstimate
        Parameters and bytes, assuming float32.
    """
    full = model_config(name, **config)
    if tile < 1 or batch_size < 1:
        raise SettingError(f"tile and batch size must be >= 1, got {tile} and {batch_size}")
    params, buffers = _weights(name, tuple(sorted(full.items())))
    slope, intercept = ACTIVATIONS_PER_PIXEL[name][1 if training else 0]
    pixels = _padded_pixels(int(tile), int(full.get("zero_pad") or 0))
    per_pixel = slope * int(full["width"]) + intercept
    activations = int(per_pixel * pixels * batch_size * BYTES_PER_VALUE)
    weights = ((4 if training else 1) * params + buffers) * BYTES_PER_VALUE
    return MemoryEstimate(params, weights, activations)


def cpu_available_bytes(*, meminfo: Path = MEMINFO) -> int:
    """Bytes this process can still allocate on the CPU side.

    ``MemAvailable`` of ``/proc/meminfo``, else ``os.sysconf`` free pages; further
    bounded by the address-space limit (``ulimit -v``) minus what is already mapped.
    """
    available: int | None = None
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        available = None
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 1 << 62  # unknown: do not refuse on a guess
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        available = min(available, max(0, soft - _mapped_bytes()))
    return int(available)


def _mapped_bytes() -> int:
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def available_bytes(device: torch.device | str = "cpu") -> int:
    """Free memory of ``device``: CUDA's free bytes, else (CPU, MPS, no CUDA) the CPU's."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            free, _total = torch.cuda.mem_get_info(device)
            return int(free)
        except (RuntimeError, AssertionError, ValueError):
            pass  # no driver or no such device: the CPU figure is the best we have
    return cpu_available_bytes()


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_memory(
    name: str,
    config: dict[str, Any],
    *,
    device: torch.device | str,
    tile: int,
    batch_size: int = 1,
    training: bool = False,
    what: str = "this model",
    advice: str = "use a smaller --tile or a machine with more memory",
) -> MemoryEstimate:
    """Refuse with :class:`NotEnoughMemoryError` if the estimate exceeds the free memory.

    Returns
    -------
    MemoryEstimate
        The estimate, when it fits.
    """
    est = estimate(name, config, tile=tile, batch_size=batch_size, training=training)
    free = available_bytes(device)
    if est.total > USABLE_SHARE * free:
        kind = "training" if training else "inference"
        raise NotEnoughMemoryError(
            f"{what} needs about {_size(est.total)} for {kind} ({_size(est.weight_bytes)} "
            f"for {est.params / 1e6:.1f} M parameters + {_size(est.activation_bytes)} of "
            f"activations for {batch_size} × {tile}×{tile} px), but {torch.device(device)} "
            f"has {_size(free)} free; {advice}"
        )
    return est
