"""Device choice (CUDA, MPS, CPU), mixed-precision dtype and CPU thread count."""

from __future__ import annotations

import torch

from core.errors import SettingError, SkinTraceError

#: More CPU threads than any machine has cores is a typo (and overflows torch's int).
MAX_THREADS = 4096


class DeviceError(SkinTraceError):
    """The requested compute device is not available."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a device.

    ``"auto"`` picks CUDA, then Apple MPS, then the CPU. Asking for a device that is not
    present raises :class:`DeviceError` instead of failing later inside torch.
    """
    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError("no CUDA device is available; use --device cpu or auto")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"{name} does not exist: {torch.cuda.device_count()} CUDA device(s) present"
            )
        return dev
    if name == "mps":
        if not _mps_available():
            raise DeviceError("Apple MPS is not available; use --device cpu or auto")
        return torch.device("mps")
    raise DeviceError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def amp_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``device``: bf16 or fp16 on CUDA, ``None`` (fp32) elsewhere.

    ``precision`` is ``"auto"`` (bf16 where supported, else fp16), ``"bf16"``, ``"fp16"``
    or ``"fp32"`` (no autocast).
    """
    if precision not in ("auto", "bf16", "fp16", "fp32"):
        raise SettingError(f"precision must be auto, bf16, fp16 or fp32, not {precision!r}")
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def set_threads(threads: int | None) -> None:
    """Limit torch's CPU threads (process-wide); ``None`` leaves the current setting."""
    if threads is None:
        return
    if not 1 <= threads <= MAX_THREADS:
        raise SettingError(f"threads must be between 1 and {MAX_THREADS}, got {threads}")
    torch.set_num_threads(threads)
