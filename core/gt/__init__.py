"""The ground-truth engine of Yoon et al. (2023), Section 3.1: texture maps, GT, the
annotation document, metrics, agreement between annotators, view filters.

The names of the former ``core.gt`` module are re-exported from
:mod:`core.gt.engine`; code in this repository imports them from there.
"""

from __future__ import annotations

from core.gt.engine import (
    AUTO,
    AUTO_FIELDS,
    DEFAULT_PORE_GAIN,
    DEFAULT_WRINKLE_GAIN,
    DEFAULT_WRINKLE_THRESHOLD,
    GTParams,
    GTParamsError,
    TextureMaps,
    compute_gt,
    compute_textures,
    gt_from_rough,
    texture_steps,
)

__all__ = [
    "AUTO",
    "AUTO_FIELDS",
    "DEFAULT_PORE_GAIN",
    "DEFAULT_WRINKLE_GAIN",
    "DEFAULT_WRINKLE_THRESHOLD",
    "GTParams",
    "GTParamsError",
    "TextureMaps",
    "compute_gt",
    "compute_textures",
    "gt_from_rough",
    "texture_steps",
]
