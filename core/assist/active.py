"""Active learning: order the images still to annotate by the model's uncertainty.

The measure (documented in docs/model-assisted.md)
-------------------------------------------------
A pre-label map holds, per class and pixel, the network's sigmoid output scaled to
0-255. Reading it back as a probability ``p = map / 255``, each pixel's uncertainty is
its binary entropy in bits,

    H(p) = -p log2 p - (1 - p) log2 (1 - p),

0 where the model is sure (p = 0 or 1) and 1 where it cannot decide (p = 0.5). The
image's uncertainty is the mean of H over every pixel of both classes, a number in
[0, 1]. Images with the highest uncertainty are the ones the model learns most from
once annotated, so "next" in uncertainty order opens them first.

Baseline pre-labels are 0/255 masks: their entropy is 0 everywhere, so until a model
exists every image scores 0 and the uncertainty order falls back to file order (the
sort is stable). Images without a score come after every scored one, in file order.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from core.classes import CLASSES

#: An image id (any hashable: the catalog's are ints).
_Id = TypeVar("_Id", bound=Hashable)

# Binary entropy of p = k / 255 for every uint8 k: a lookup table keeps the measure
# cheap (one gather per pixel) and exact for the stored maps.
_P = np.arange(256, dtype=np.float64) / 255.0
with np.errstate(divide="ignore", invalid="ignore"):
    _H = -(_P * np.log2(_P) + (1.0 - _P) * np.log2(1.0 - _P))
_ENTROPY_LUT = np.nan_to_num(_H, nan=0.0).astype(np.float32)
_ENTROPY_LUT[0] = _ENTROPY_LUT[255] = 0.0


def entropy_map(prob_map: np.ndarray) -> np.ndarray:
    """Per-pixel binary entropy (bits) of a ``uint8`` probability map.

    Parameters
    ----------
    prob_map : (M, N) ndarray of uint8
        A class's pre-label map (probability × 255).

    Returns
    -------
    entropy : (M, N) ndarray of float32
        Values in [0, 1]; 1 at ``p = 0.5``.
    """
    arr = np.asarray(prob_map)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 map (probability × 255), got {arr.dtype}")
    return _ENTROPY_LUT[arr]


def uncertainty(maps: Mapping[str, np.ndarray]) -> float:
    """The image's uncertainty: mean binary entropy over all pixels of both classes.

    Parameters
    ----------
    maps : mapping of class name to (M, N) ndarray of uint8
        A pre-label, one map per class in :data:`core.classes.CLASSES`.

    Returns
    -------
    float
        In [0, 1]; 0 for a confident (or 0/255 baseline) pre-label.
    """
    missing = [c for c in CLASSES if c not in maps]
    if missing:
        raise ValueError(f"uncertainty needs maps for {', '.join(CLASSES)}; missing {missing}")
    shapes = {np.asarray(maps[c]).shape for c in CLASSES}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"the class maps must be 2-D and the same shape, got {sorted(shapes)}")
    total = 0.0
    for c in CLASSES:
        total += float(entropy_map(maps[c]).mean(dtype=np.float64))
    return total / len(CLASSES)


def uncertainty_order(ids: Sequence[_Id], scores: Mapping[_Id, float | None]) -> list[_Id]:
    """``ids`` ordered by decreasing uncertainty; ties and unscored images keep ``ids`` order.

    Parameters
    ----------
    ids : sequence
        Image ids in file order.
    scores : mapping
        Uncertainty per id; a missing or None score sorts after every scored id.
    """
    position = {image_id: i for i, image_id in enumerate(ids)}

    def key(image_id: _Id) -> tuple[int, float, int]:
        score = scores.get(image_id)
        if score is None:
            return (1, 0.0, position[image_id])
        return (0, -float(score), position[image_id])

    return sorted(ids, key=key)


def save_uncertainty(project: Any, image_id: int, value: float, *, source: str) -> None:
    """Store an image's uncertainty (and the pre-label source it came from) in the project
    (table ``prelabel_state``)."""
    project.set_prelabel_state(image_id, uncertainty=float(value), source=source)


def load_uncertainties(
    project: Any, ids: Sequence[int], *, source: str | None = None
) -> dict[int, float]:
    """Stored uncertainties of ``ids``; with ``source``, only scores made by that source."""
    stored = project.prelabel_state()  # one query, not one per image
    out: dict[int, float] = {}
    for image_id in ids:
        entry = stored.get(image_id)
        if entry is None or entry.uncertainty is None:
            continue
        if source is not None and entry.source != source:
            continue
        out[image_id] = entry.uncertainty
    return out
