"""``create_model(name, **config)``: the registry of segmentation networks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from core.errors import SettingError
from core.model.nets import DEFAULT_ZERO_PAD, AttentionUNet, UNet, ZeroPadded
from core.model.unetpp import UNetPlusPlus


@dataclass(frozen=True)
class ModelSpec:
    """A registered network: its default base width, builder and a one-line description."""

    name: str
    default_width: int
    build: Callable[..., nn.Module]
    description: str
    zero_pad: bool = False


def _unet(*, in_channels: int, out_channels: int, width: int, **_: Any) -> nn.Module:
    return UNet(in_channels, out_channels, width=width)


def _attention(*, in_channels: int, out_channels: int, width: int, **_: Any) -> nn.Module:
    return AttentionUNet(in_channels, out_channels, width=width)


def _proposed(
    *, in_channels: int, out_channels: int, width: int, zero_pad: int, **_: Any
) -> nn.Module:
    return ZeroPadded(AttentionUNet(in_channels, out_channels, width=width), pad=zero_pad)


def _unetpp(*, in_channels: int, out_channels: int, width: int, **_: Any) -> nn.Module:
    return UNetPlusPlus(in_channels, out_channels, width=width)


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("unet", 64, _unet, "U-Net (Pytorch-UNet, bilinear), 17.3 M"),
        ModelSpec("reduced-unet", 32, _unet, "U-Net with every channel count halved, 4.3 M"),
        ModelSpec(
            "reduced-unet-attention",
            32,
            _attention,
            "reduced U-Net + bottleneck spatial attention + AAM skips, 5.2 M",
        ),
        ModelSpec(
            "proposed",
            32,
            _proposed,
            "reduced U-Net with attentions and zero-padded input (Yoon et al.), 5.2 M",
            zero_pad=True,
        ),
        ModelSpec("unet++", 32, _unetpp, "U-Net++ (Zhou et al.), the Table 2 baseline, 9.2 M"),
    )
}

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def model_config(name: str, **config: Any) -> dict[str, Any]:
    """Return the complete, validated configuration of network ``name``.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES`.
    **config
        ``width`` (base channels), ``in_channels`` (3), ``out_channels`` (2) and, for
        ``proposed``, ``zero_pad`` (pixels per side, default 32 so Z = 64).

    Returns
    -------
    dict
        Every option with its value; ``create_model(name, **model_config(name))`` rebuilds
        the same network.
    """
    if name not in MODELS:
        raise SettingError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    spec = MODELS[name]
    allowed = {"width", "in_channels", "out_channels"} | ({"zero_pad"} if spec.zero_pad else set())
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise SettingError(f"model {name!r} has no option(s) {', '.join(unknown)}")
    full: dict[str, Any] = {
        "width": spec.default_width,
        "in_channels": 3,
        "out_channels": 2,
    }
    if spec.zero_pad:
        full["zero_pad"] = DEFAULT_ZERO_PAD
    full.update({k: v for k, v in config.items() if v is not None})
    for key in ("width", "in_channels", "out_channels"):
        if not isinstance(full[key], int) or full[key] < 1:
            raise SettingError(f"model option {key} must be a positive integer, got {full[key]!r}")
    if spec.zero_pad and (not isinstance(full["zero_pad"], int) or full["zero_pad"] < 0):
        raise SettingError(f"zero_pad must be a non-negative integer, got {full['zero_pad']!r}")
    return full


def create_model(name: str, **config: Any) -> nn.Module:
    """Build network ``name`` with the options of :func:`model_config` (weights random)."""
    return MODELS[name].build(**model_config(name, **config))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
