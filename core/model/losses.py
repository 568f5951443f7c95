"""Training losses on sigmoid outputs: MSE (the paper), class-weighted MSE and Dice.

All losses take logits ``(B, 2, M, N)``, targets ``(B, 2, M, N)`` in [0, 1] (GT
magnitude / 255) and a ``valid`` mask ``(B, 1, M, N)`` that excludes padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from core.errors import SettingError
from core.model.train_config import LOSS_NAMES

LossName = Literal["mse", "weighted-mse", "dice"]


def _valid_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over valid pixels, per channel → ``(C,)``."""
    weight = valid.expand_as(values)
    return (values * weight).sum(dim=(0, 2, 3)) / weight.sum(dim=(0, 2, 3)).clamp_min(1.0)


def mse_per_class(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean squared error of ``sigmoid(logits)`` per class, over valid pixels → ``(2,)``."""
    return _valid_mean((torch.sigmoid(logits.float()) - target).square(), valid)


def dice_per_class(
    logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, *, eps: float = 1.0
) -> torch.Tensor:
    """Soft Dice loss ``1 - Dice`` per class against the binary GT (``target > 0``)."""
    prob = torch.sigmoid(logits.float()) * valid
    truth = (target > 0).float() * valid
    inter = (prob * truth).sum(dim=(0, 2, 3))
    total = prob.sum(dim=(0, 2, 3)) + truth.sum(dim=(0, 2, 3))
    return 1.0 - (2.0 * inter + eps) / (total + eps)


class SegmentationLoss(torch.nn.Module):
    """The training criterion: ``mse``, ``weighted-mse`` (per-class weights) or ``dice``."""

    def __init__(self, name: str = "mse", class_weights: Sequence[float] = (1.0, 1.0)) -> None:
        super().__init__()
        if name not in LOSS_NAMES:
            raise SettingError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")
        if len(class_weights) != 2 or min(class_weights) <= 0:
            raise SettingError(f"class_weights must be two positive numbers, got {class_weights}")
        self.name = name
        w = torch.tensor([float(x) for x in class_weights])
        self.register_buffer("weights", w / w.mean())

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        if self.name == "dice":
            return dice_per_class(logits, target, valid).mean()
        per_class = mse_per_class(logits, target, valid)
        if self.name == "weighted-mse":
            return (per_class * self.get_buffer("weights")).mean()
        return per_class.mean()


def balanced_class_weights(mean_magnitude: Sequence[float]) -> tuple[float, float]:
    """Weights inversely proportional to each class's mean GT magnitude (normalised to mean 1)."""
    inv = [1.0 / max(float(m), 1e-6) for m in mean_magnitude]
    mean = sum(inv) / len(inv)
    return inv[0] / mean, inv[1] / mean
