"""Building blocks of the U-Net family (after milesial/Pytorch-UNet) and the paper's attention.

Every part is a small ``nn.Module``. Channel arguments are explicit so the networks in
:mod:`core.model.nets` read like Figure 3 of Yoon et al. (2023).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Module):
    """(3×3 convolution → batch norm → ReLU) twice."""

    def __init__(self, in_ch: int, out_ch: int, mid_ch: int | None = None) -> None:
        super().__init__()
        mid_ch = mid_ch or out_ch
        self.block = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Down(nn.Module):
    """2×2 max pooling then a double convolution."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_ch, out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear ×2 upsampling (align_corners=True, as in Pytorch-UNet)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class Up(nn.Module):
    """Bilinear ×2 upsampling, concatenation with the skip, then a double convolution."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = DoubleConv(in_ch, out_ch, in_ch // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, upsample2(x)], dim=1))


#: Initial output bias: sigmoid(-4) ≈ 0.018, the sparse-foreground prior, so training
#: starts from "almost nothing" instead of 0.5 everywhere.
OUTPUT_PRIOR_BIAS = -4.0


class OutConv(nn.Module):
    """1×1 convolution to the output maps (bias starts at the sparse-foreground prior)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=1)
        if self.conv.bias is not None:
            nn.init.constant_(self.conv.bias, OUTPUT_PRIOR_BIAS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class SpatialAttention(nn.Module):
    """Bottleneck spatial gate: channel max- and mean-pool, 7×7 convolution, sigmoid (CBAM)."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat(
            [x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)],
            dim=1,
        )
        return x * torch.sigmoid(self.conv(pooled))


class QueryUp(nn.Module):
    """Decoder query path of Figure 4: bilinear ×2 upsampling, 3×3 conv, batch norm, ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(upsample2(x))


class AttentionGate(nn.Module):
    """Additive attention (Oktay et al.): sigmoid(ψ(ReLU(W_g·q + W_x·k))) weighs the values."""

    def __init__(self, channels: int, inter_ch: int | None = None) -> None:
        super().__init__()
        inter_ch = inter_ch or max(1, channels // 2)
        self.w_query = nn.Sequential(nn.Conv2d(channels, inter_ch, 1), nn.BatchNorm2d(inter_ch))
        self.w_key = nn.Sequential(nn.Conv2d(channels, inter_ch, 1), nn.BatchNorm2d(inter_ch))
        self.psi = nn.Sequential(nn.Conv2d(inter_ch, 1, 1), nn.BatchNorm2d(1))

    def forward(self, query: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid(self.psi(F.relu(self.w_query(query) + self.w_key(skip))))
        return skip * alpha


class AttentionUp(nn.Module):
    """Additive attention module (AAM, Figure 4) followed by the decoder's double convolution."""

    def __init__(self, dec_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.query = QueryUp(dec_ch, skip_ch)
        self.gate = AttentionGate(skip_ch)
        self.conv = DoubleConv(2 * skip_ch, out_ch, skip_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        query = self.query(x)
        return self.conv(torch.cat([self.gate(query, skip), query], dim=1))
