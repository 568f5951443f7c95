"""``create_model(name, **config)``: the registry of segmentation networks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from core.errors import SettingError
from core.model.nets import DEFAULT_ZERO_PAD, AttentionUNet, UNet, ZeroPadded
from core.model.unetpp import UNetPlusPlus
from core.model_spec import MAX_WIDTH, NETS
from core.schemas import NetOptions, validate


@dataclass(frozen=True)
class ModelSpec:
    """A registered network: its limits (:mod:`core.model_spec`) and builder."""

    name: str
    default_width: int
    build: Callable[..., nn.Module]
    description: str
    zero_pad: bool = False
    max_width: int = MAX_WIDTH


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


_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "unet": _unet,
    "reduced-unet": _unet,
    "reduced-unet-attention": _attention,
    "proposed": _proposed,
    "unet++": _unetpp,
}

MODELS: dict[str, ModelSpec] = {
    name: ModelSpec(name, s.default_width, _BUILDERS[name], s.description, s.zero_pad, s.max_width)
    for name, s in NETS.items()
}

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def model_config(name: str, **config: Any) -> dict[str, Any]:
    """Return the complete, validated configuration of network ``name``.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES`.
    **config
        ``width`` (base channels, 1 to :data:`~core.model_spec.MAX_WIDTH`),
        ``in_channels`` (3), ``out_channels`` (2) and, for ``proposed``, ``zero_pad``
        (pixels per side, default 32 so Z = 64, at most
        :data:`~core.model_spec.MAX_ZERO_PAD`). Integers only: ``True`` is not a width.

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
    given = {k: v for k, v in config.items() if v is not None}
    validate(NetOptions, given, what=f"model {name!r} options", error=SettingError)
    full.update(given)
    return full


def create_model(name: str, **config: Any) -> nn.Module:
    """Build network ``name`` with the options of :func:`model_config` (weights random)."""
    return MODELS[name].build(**model_config(name, **config))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
