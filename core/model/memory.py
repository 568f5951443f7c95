"""Memory a network will need, estimated before it is built, and what the machine has.

A checkpoint from elsewhere may declare a network far too large for this machine.
:func:`estimate` builds the network on torch's ``meta`` device (shapes only, no memory)
and runs one forward pass there at the tile size, tracking the bytes of the tensors alive
at each step: the peak is the activation memory of inference; for training every output
is kept for the backward pass, and weights count four times (weights, gradients, two Adam
moments). :func:`check_memory` compares the total with :func:`available_bytes` and refuses
with one line before anything is allocated.
"""

from __future__ import annotations

import functools
import os
import resource
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from core.errors import SettingError, SkinTraceError
from core.model.registry import create_model, model_config

#: Bytes per value: estimates assume float32 (mixed precision only makes them smaller).
BYTES_PER_VALUE = 4
#: Side of the input actually traced on the meta device; larger tiles are scaled from it.
REFERENCE_SIDE = 512
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


@functools.lru_cache(maxsize=64)
def _estimate(
    name: str, options: tuple[tuple[str, Any], ...], tile: int, batch_size: int, training: bool
) -> MemoryEstimate:
    with torch.device("meta"):
        net = create_model(name, **dict(options))
    params = sum(p.numel() for p in net.parameters())
    buffers = sum(b.numel() for b in net.buffers())
    x = torch.empty(batch_size, int(dict(options)["in_channels"]), tile, tile, device="meta")
    mode = _PeakBytes()
    with torch.set_grad_enabled(training), mode:
        y = net(x)
    del y
    if training:
        return MemoryEstimate(params, (4 * params + buffers) * BYTES_PER_VALUE, mode.total)
    return MemoryEstimate(params, (params + buffers) * BYTES_PER_VALUE, mode.peak)


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
    # Activations grow with the pixel count and the batch: measure one input of at most
    # REFERENCE_SIDE px and scale, so an absurd tile or batch is refused, not simulated.
    ref = min(int(tile), REFERENCE_SIDE)
    base = _estimate(name, tuple(sorted(full.items())), ref, 1, training)
    pad = int(full.get("zero_pad") or 0)
    scale = batch_size * ((tile + 2 * pad) / (ref + 2 * pad)) ** 2
    return replace(base, activation_bytes=int(base.activation_bytes * scale))


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
