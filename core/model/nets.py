"""The networks of Table 3: U-Net, reduced U-Net, reduced U-Net with attentions, proposed.

All networks take ``(B, 3, H, W)`` float images in [0, 1] of any size and return
``(B, 2, H, W)`` logits (channel 0 wrinkle, channel 1 pore); ``torch.sigmoid`` of the
logits are the predicted magnitude maps in [0, 1]. Inputs are padded inside to a
multiple of the network's stride (16) and the output is cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import SettingError
from core.model.parts import AttentionUp, DoubleConv, Down, OutConv, SpatialAttention, Up

#: Total downsampling factor of the four pooling steps.
STRIDE = 16

#: Zero padding of the proposed network, in pixels per side (Z = 2 * 32 = 64 in Section 3.3).
DEFAULT_ZERO_PAD = 32


def pad_to_stride(x: torch.Tensor, stride: int = STRIDE) -> torch.Tensor:
    """Pad the bottom and right edges by replication up to a multiple of ``stride``."""
    rows, cols = x.shape[-2:]
    pad_r, pad_c = -rows % stride, -cols % stride
    if pad_r == 0 and pad_c == 0:
        return x
    return F.pad(x, (0, pad_c, 0, pad_r), mode="replicate")


class SegmentationNet(nn.Module):
    """Base class: pads any input to the stride, runs :meth:`body`, crops back."""

    def body(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, cols = x.shape[-2:]
        return self.body(pad_to_stride(x))[..., :rows, :cols]


class UNet(SegmentationNet):
    """Pytorch-UNet with bilinear upsampling; ``width`` = 64 is the paper's U-Net (17.3 M)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 2, *, width: int = 64) -> None:
        super().__init__()
        w = width
        self.inc = DoubleConv(in_channels, w)
        self.down1 = Down(w, 2 * w)
        self.down2 = Down(2 * w, 4 * w)
        self.down3 = Down(4 * w, 8 * w)
        self.down4 = Down(8 * w, 8 * w)  # 16w // 2 with bilinear upsampling
        self.up1 = Up(16 * w, 4 * w)
        self.up2 = Up(8 * w, 2 * w)
        self.up3 = Up(4 * w, w)
        self.up4 = Up(2 * w, w)
        self.outc = OutConv(w, out_channels)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


class AttentionUNet(SegmentationNet):
    """Reduced U-Net with a spatial gate at the bottleneck and an AAM on every skip (5.2 M)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 2, *, width: int = 32) -> None:
        super().__init__()
        w = width
        self.inc = DoubleConv(in_channels, w)
        self.down1 = Down(w, 2 * w)
        self.down2 = Down(2 * w, 4 * w)
        self.down3 = Down(4 * w, 8 * w)
        self.down4 = Down(8 * w, 8 * w)
        self.spatial = SpatialAttention()
        self.up1 = AttentionUp(8 * w, 8 * w, 4 * w)
        self.up2 = AttentionUp(4 * w, 4 * w, 2 * w)
        self.up3 = AttentionUp(2 * w, 2 * w, w)
        self.up4 = AttentionUp(w, w, w)
        self.outc = OutConv(w, out_channels)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.spatial(self.down4(x4))
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


class ZeroPadded(nn.Module):
    """Section 3.3: zero-pad the input by ``pad`` pixels per side, run ``net``, crop back."""

    def __init__(self, net: nn.Module, *, pad: int = DEFAULT_ZERO_PAD) -> None:
        super().__init__()
        if pad < 0:
            raise SettingError(f"zero padding must be >= 0, got {pad}")
        self.net = net
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        if p == 0:
            return self.net(x)
        rows, cols = x.shape[-2:]
        y = self.net(F.pad(x, (p, p, p, p), mode="constant", value=0.0))
        return y[..., p : p + rows, p : p + cols]
