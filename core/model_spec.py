"""What each registered network accepts, without torch: names, default and largest widths.

:mod:`core.model.registry` builds the networks from these entries; :mod:`core.schemas`
validates checkpoint configs against them before any tensor exists, so torch-free code
(retraining's candidate check, a catalog read back) applies the same limits.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Largest base width any network accepts: 4x the paper's U-Net (64), 8x the reduced
#: networks (32). Wider networks have billions of parameters and no use on skin images.
MAX_WIDTH = 256
#: Largest zero padding per side of ``proposed``, in pixels (the paper uses 32).
MAX_ZERO_PAD = 512
#: The networks take RGB images and predict one map per class (wrinkle, pore).
IN_CHANNELS = 3
OUT_CHANNELS = 2
#: Bounds of ``in_channels`` / ``out_channels`` when a network is built from Python.
MAX_CHANNELS = 64


@dataclass(frozen=True)
class NetSpec:
    """A registered network's name, default base width and options."""

    name: str
    default_width: int
    description: str
    zero_pad: bool = False
    max_width: int = MAX_WIDTH


NETS: dict[str, NetSpec] = {
    s.name: s
    for s in (
        NetSpec("unet", 64, "U-Net (Pytorch-UNet, bilinear), 17.3 M"),
        NetSpec("reduced-unet", 32, "U-Net with every channel count halved, 4.3 M"),
        NetSpec(
            "reduced-unet-attention",
            32,
            "reduced U-Net + bottleneck spatial attention + AAM skips, 5.2 M",
        ),
        NetSpec(
            "proposed",
            32,
            "reduced U-Net with attentions and zero-padded input (Yoon et al.), 5.2 M",
            zero_pad=True,
        ),
        NetSpec("unet++", 32, "U-Net++ (Zhou et al.), the Table 2 baseline, 9.2 M"),
    )
}

NET_NAMES: tuple[str, ...] = tuple(NETS)
