"""The one rule that turns a predicted magnitude map into a binary mask (no torch).

Networks regress the GT magnitude (0-255, stored as uint8 maps). A pixel belongs to the
mask when its predicted magnitude is at least half the *typical* GT magnitude of the
class: the midpoint between background (0) and the median non-zero GT value of the
training split. Training measures these levels once and stores them in the checkpoint
(``metadata["mask_levels"]``), so the rule is fixed for a given model. Baselines output
0/255 maps, for which any level in (0, 255] gives the same mask: every method is judged
with the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from core.classes import CLASSES

#: Level used when a checkpoint carries no measured levels (half of mid-scale).
DEFAULT_MASK_LEVEL = 64.0


def mask_levels_from_gt(gt_maps: Iterable[Mapping[Any, np.ndarray]]) -> dict[str, float]:
    """Half the median non-zero GT magnitude of each class over ``gt_maps``.

    Parameters
    ----------
    gt_maps : iterable of dict[str, (M, N) uint8]
        GT magnitude maps per class.

    Returns
    -------
    dict[str, float]
        The mask level of each class on the 0-255 scale (at least 1).
    """
    counts = {c: np.zeros(256, dtype=np.int64) for c in CLASSES}
    for maps in gt_maps:
        for c in CLASSES:
            counts[c] += np.bincount(np.asarray(maps[c], dtype=np.uint8).ravel(), minlength=256)
    levels: dict[str, float] = {}
    for c in CLASSES:
        hist = counts[c][1:]
        total = int(hist.sum())
        if total == 0:
            levels[c] = DEFAULT_MASK_LEVEL
            continue
        median = int(np.searchsorted(np.cumsum(hist), (total + 1) / 2)) + 1
        levels[c] = max(1.0, 0.5 * median)
    return levels


def maps_to_masks(
    maps: Mapping[Any, np.ndarray], levels: Mapping[Any, float] | None = None
) -> dict[str, np.ndarray]:
    """Binary masks ``map >= level`` per class (``(M, N) bool``)."""
    levels = levels or {}
    return {
        c: np.asarray(maps[c]) >= float(levels.get(c, DEFAULT_MASK_LEVEL))
        for c in CLASSES
        if c in maps
    }
