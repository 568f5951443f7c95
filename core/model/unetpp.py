"""U-Net++ (Zhou et al., 2018), the deep-learning baseline of Table 2.

Nested dense skip pathways: node X(i, j) sees every earlier node of its row i and the
upsampled X(i + 1, j - 1). Filters (w, 2w, 4w, 8w, 16w) with w = 32 as in the
reference implementation (about 9.2 M parameters), no deep supervision.
"""

from __future__ import annotations

import torch
from torch import nn

from core.model.nets import SegmentationNet
from core.model.parts import DoubleConv, OutConv, upsample2


class UNetPlusPlus(SegmentationNet):
    """U-Net++ with bilinear upsampling and a single output head on X(0, 4)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 2, *, width: int = 32) -> None:
        super().__init__()
        f = [width * 2**i for i in range(5)]
        self.pool = nn.MaxPool2d(2)
        self.depth = 5
        nodes: dict[str, nn.Module] = {}
        for i in range(5):
            nodes[f"x{i}_0"] = DoubleConv(in_channels if i == 0 else f[i - 1], f[i])
        for j in range(1, 5):
            for i in range(5 - j):
                nodes[f"x{i}_{j}"] = DoubleConv(f[i] * j + f[i + 1], f[i])
        self.nodes = nn.ModuleDict(nodes)
        self.outc = OutConv(f[0], out_channels)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        grid: dict[tuple[int, int], torch.Tensor] = {}
        for i in range(5):
            inp = x if i == 0 else self.pool(grid[(i - 1, 0)])
            grid[(i, 0)] = self.nodes[f"x{i}_0"](inp)
        for j in range(1, 5):
            for i in range(5 - j):
                row = [grid[(i, k)] for k in range(j)]
                grid[(i, j)] = self.nodes[f"x{i}_{j}"](
                    torch.cat([*row, upsample2(grid[(i + 1, j - 1)])], dim=1)
                )
        return self.outc(grid[(0, 4)])
