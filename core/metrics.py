"""Segmentation metrics: IoU (paper Eq. 4), Dice, precision and recall.

All metrics compare binary masks: a prediction ``X̂`` against ground truth ``X``
(``uint8`` GT maps count as ``gt > 0``). ``IoU = |X ∩ X̂| / |X ∪ X̂|``.

Empty cases are defined so that agreeing on "nothing here" is perfect:

* IoU and Dice are 1.0 when both masks are empty, 0.0 when only one is;
* precision is 1.0 when the prediction is empty (no false positives were made);
* recall is 1.0 when the ground truth is empty (nothing to find).

Two averages are reported over a dataset: the **per-image mean** (each image's score,
then the mean; every image counts the same) and the **global** score (pixel counts
pooled over all images first; large structures count more), as
:class:`MetricAccumulator` collects them (``mean`` and ``pooled``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from core.classes import CLASSES, ClassName, check_class


@dataclass(frozen=True)
class Counts:
    """Pixel counts of one binary comparison: true/false positives, false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def iou(self) -> float:
        union = self.tp + self.fp + self.fn
        return 1.0 if union == 0 else self.tp / union

    @property
    def dice(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 1.0 if denom == 0 else 2 * self.tp / denom

    @property
    def precision(self) -> float:
        denom = self.tp + self.fp
        return 1.0 if denom == 0 else self.tp / denom

    @property
    def recall(self) -> float:
        denom = self.tp + self.fn
        return 1.0 if denom == 0 else self.tp / denom

    def scores(self) -> dict[str, float]:
        """``{"iou", "dice", "precision", "recall"}``."""
        return {
            "iou": self.iou,
            "dice": self.dice,
            "precision": self.precision,
            "recall": self.recall,
        }


def _binary(a: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an (M, N) mask; got shape {arr.shape}")
    return arr if arr.dtype == np.bool_ else arr > 0


def confusion(truth: np.ndarray, pred: np.ndarray) -> Counts:
    """Pixel counts of ``pred`` against ``truth``.

    Parameters
    ----------
    truth, pred : (M, N) ndarray
        Boolean masks, or magnitude maps (nonzero = positive).

    Returns
    -------
    Counts
    """
    t = _binary(truth, "ground truth")
    p = _binary(pred, "prediction")
    if t.shape != p.shape:
        raise ValueError(f"ground truth {t.shape} and prediction {p.shape} differ in shape")
    tp = int(np.count_nonzero(t & p))
    return Counts(tp=tp, fp=int(np.count_nonzero(p)) - tp, fn=int(np.count_nonzero(t)) - tp)


def iou(truth: np.ndarray, pred: np.ndarray) -> float:
    """IoU (Eq. 4) ``|X ∩ X̂| / |X ∪ X̂|``; 1.0 when both are empty."""
    return confusion(truth, pred).iou


def dice(truth: np.ndarray, pred: np.ndarray) -> float:
    """Dice ``2|X ∩ X̂| / (|X| + |X̂|)``; 1.0 when both are empty."""
    return confusion(truth, pred).dice


def precision(truth: np.ndarray, pred: np.ndarray) -> float:
    """``|X ∩ X̂| / |X̂|``; 1.0 when the prediction is empty."""
    return confusion(truth, pred).precision


def recall(truth: np.ndarray, pred: np.ndarray) -> float:
    """``|X ∩ X̂| / |X|``; 1.0 when the ground truth is empty."""
    return confusion(truth, pred).recall


def class_counts(
    truth: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray]
) -> dict[ClassName, Counts]:
    """:func:`confusion` per class for ``{class: mask}`` mappings (both classes required)."""
    out: dict[ClassName, Counts] = {}
    for name in CLASSES:
        if name not in truth or name not in pred:
            raise ValueError(f"both ground truth and prediction need a {name!r} mask")
        out[name] = confusion(truth[name], pred[name])
    return out


@dataclass
class MetricAccumulator:
    """Collects per-image, per-class counts; reports per-image means and global scores.

    Examples
    --------
    >>> acc = MetricAccumulator()
    >>> acc.add(truth_masks, predicted_masks)  # doctest: +SKIP
    >>> acc.mean("wrinkle")["iou"], acc.pooled("wrinkle")["iou"]  # doctest: +SKIP
    """

    per_image: list[dict[ClassName, Counts]] = field(default_factory=list)

    def add(self, truth: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray]) -> None:
        """Add one image: ``{class: (M, N) mask}`` for ground truth and prediction."""
        self.per_image.append(class_counts(truth, pred))

    def add_counts(self, counts: Mapping[str, Counts]) -> None:
        """Add one image's precomputed counts (e.g. from a worker process)."""
        self.per_image.append({check_class(k): v for k, v in counts.items()})

    def __len__(self) -> int:
        return len(self.per_image)

    def mean(self, cls: str) -> dict[str, float]:
        """Per-image mean of each score for ``cls`` (NaN when no image was added)."""
        name = check_class(cls)
        rows = [img[name].scores() for img in self.per_image if name in img]
        if not rows:
            return {k: float("nan") for k in ("iou", "dice", "precision", "recall")}
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}

    def pooled(self, cls: str) -> dict[str, float]:
        """Dataset-global scores of ``cls``: pixel counts pooled over all images first
        (NaN when no image was added)."""
        name = check_class(cls)
        rows = [img[name] for img in self.per_image if name in img]
        if not rows:
            return {k: float("nan") for k in ("iou", "dice", "precision", "recall")}
        total = Counts()
        for counts in rows:
            total = total + counts
        return total.scores()

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{class: {"mean": per-image mean scores, "global": pooled scores}}``."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for name in CLASSES:
            out[name] = {"mean": self.mean(name), "global": self.pooled(name)}
        return out
