"""Segmentation metrics: IoU (paper Eq. 4), Dice, precision and recall, and
boundary-tolerant scores for 1-5 px structures (clDice, precision/recall/F1 within k px).

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

IoU punishes a 1-px offset of a 2-px line as a total miss, so thin structures also get
scores that forgive small offsets (:class:`ThinCounts`):

* **precision@k / recall@k / F1@k** — a predicted pixel is correct when a ground-truth pixel
  lies within Euclidean distance ``k`` of it (precision); a ground-truth pixel is found
  when a predicted pixel lies within ``k`` of it (recall); F1 is their harmonic mean.
  ``k = 0`` gives the plain pixel precision and recall. Reported for ``k = 1, 2, 3``.
* **clDice** (Shit et al., CVPR 2021) — the harmonic mean of *topology precision*
  ``|S(X̂) ∩ X| / |S(X̂)|`` and *topology sensitivity* ``|S(X) ∩ X̂| / |S(X)|``, where
  ``S`` is the skeleton (:func:`skimage.morphology.skeletonize`): do the centrelines
  lie inside the other mask?

Empty cases follow the same rule: precision terms are 1.0 on an empty prediction (or
skeleton), recall terms 1.0 on an empty ground truth, so two empty masks score 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.morphology import skeletonize

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


#: Tolerances (px) of the tolerant precision/recall/F1 that evaluation reports.
TOLERANCES: tuple[int, ...] = (1, 2, 3)
#: Names of the plain scores, in report order.
PLAIN_SCORES: tuple[str, ...] = ("iou", "dice", "precision", "recall")


def thin_score_names(tolerances: tuple[int, ...] = TOLERANCES) -> tuple[str, ...]:
    """``("cldice", "precision@1", "recall@1", "f1@1", ...)`` for ``tolerances``."""
    names = ["cldice"]
    for k in tolerances:
        names += [f"precision@{k}", f"recall@{k}", f"f1@{k}"]
    return tuple(names)


def _ratio(num: int, den: int) -> float:
    return 1.0 if den == 0 else num / den


def _harmonic(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


@dataclass(frozen=True)
class ThinCounts:
    """Pixel counts behind the tolerant scores of one comparison (they add up over images).

    Attributes
    ----------
    tolerances : tuple of int
        The distances ``k`` (px) of ``pred_near`` and ``truth_near``.
    pred_near, truth_near : tuple of int
        Per ``k``: predicted pixels within ``k`` of the ground truth; ground-truth pixels
        within ``k`` of the prediction.
    pred_total, truth_total : int
        Positive pixels of the prediction and of the ground truth.
    skel_pred_in, skel_pred, skel_truth_in, skel_truth : int
        Prediction skeleton pixels inside the ground truth, and all of them; the same for
        the ground-truth skeleton inside the prediction (clDice).
    """

    tolerances: tuple[int, ...] = TOLERANCES
    pred_near: tuple[int, ...] = (0, 0, 0)
    truth_near: tuple[int, ...] = (0, 0, 0)
    pred_total: int = 0
    truth_total: int = 0
    skel_pred_in: int = 0
    skel_pred: int = 0
    skel_truth_in: int = 0
    skel_truth: int = 0

    def __add__(self, other: ThinCounts) -> ThinCounts:
        if self.tolerances != other.tolerances:
            raise ValueError(
                f"cannot add counts at tolerances {self.tolerances} and {other.tolerances}"
            )
        return ThinCounts(
            self.tolerances,
            tuple(a + b for a, b in zip(self.pred_near, other.pred_near, strict=True)),
            tuple(a + b for a, b in zip(self.truth_near, other.truth_near, strict=True)),
            self.pred_total + other.pred_total,
            self.truth_total + other.truth_total,
            self.skel_pred_in + other.skel_pred_in,
            self.skel_pred + other.skel_pred,
            self.skel_truth_in + other.skel_truth_in,
            self.skel_truth + other.skel_truth,
        )

    @property
    def cldice(self) -> float:
        """Centreline Dice: harmonic mean of topology precision and sensitivity."""
        return _harmonic(
            _ratio(self.skel_pred_in, self.skel_pred), _ratio(self.skel_truth_in, self.skel_truth)
        )

    def precision_at(self, k: int) -> float:
        """Fraction of predicted pixels within ``k`` px of the ground truth."""
        return _ratio(self.pred_near[self.tolerances.index(k)], self.pred_total)

    def recall_at(self, k: int) -> float:
        """Fraction of ground-truth pixels within ``k`` px of the prediction."""
        return _ratio(self.truth_near[self.tolerances.index(k)], self.truth_total)

    def f1_at(self, k: int) -> float:
        """Harmonic mean of :meth:`precision_at` and :meth:`recall_at`."""
        return _harmonic(self.precision_at(k), self.recall_at(k))

    def scores(self) -> dict[str, float]:
        """``{"cldice", "precision@k", "recall@k", "f1@k" for each k}``."""
        out = {"cldice": self.cldice}
        for k in self.tolerances:
            out[f"precision@{k}"] = self.precision_at(k)
            out[f"recall@{k}"] = self.recall_at(k)
            out[f"f1@{k}"] = self.f1_at(k)
        return out


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest positive pixel of ``mask``."""
    if not mask.any():
        return np.full(mask.shape, np.inf, np.float32)
    # OpenCV measures the distance to the nearest zero pixel: invert the mask.
    return cv2.distanceTransform(
        np.where(mask, 0, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )


def thin_counts(
    truth: np.ndarray, pred: np.ndarray, *, tolerances: tuple[int, ...] = TOLERANCES
) -> ThinCounts:
    """The counts behind clDice and precision/recall/F1 within ``k`` px.

    Parameters
    ----------
    truth, pred : (M, N) ndarray
        Boolean masks, or magnitude maps (nonzero = positive).
    tolerances : tuple of int, keyword-only
        Distances ``k`` in pixels (``>= 0``; 0 is exact overlap).

    Returns
    -------
    ThinCounts

    Examples
    --------
    A 2-px line shifted by 1 px: IoU 1/3, but every pixel is within 1 px of the other.

    >>> t = np.zeros((8, 12), bool); t[3:5, 1:11] = True
    >>> p = np.roll(t, 1, axis=0)
    >>> iou(t, p), thin_counts(t, p).f1_at(1)
    (0.3333333333333333, 1.0)
    """
    t = _binary(truth, "ground truth")
    p = _binary(pred, "prediction")
    if t.shape != p.shape:
        raise ValueError(f"ground truth {t.shape} and prediction {p.shape} differ in shape")
    tols = tuple(int(k) for k in tolerances)
    if any(k < 0 for k in tols):
        raise ValueError(f"tolerances must be >= 0 px, got {tolerances}")
    to_truth = _distance_to(t)[p]  # distance of each predicted pixel to the ground truth
    to_pred = _distance_to(p)[t]
    # A tiny slack keeps exact distances (1.0, 2.0) from rounding out of the tolerance.
    pred_near = tuple(int(np.count_nonzero(to_truth <= k + 1e-3)) for k in tols)
    truth_near = tuple(int(np.count_nonzero(to_pred <= k + 1e-3)) for k in tols)
    sp = skeletonize(p) if p.any() else p
    st = skeletonize(t) if t.any() else t
    return ThinCounts(
        tolerances=tols,
        pred_near=pred_near,
        truth_near=truth_near,
        pred_total=int(to_truth.size),
        truth_total=int(to_pred.size),
        skel_pred_in=int(np.count_nonzero(sp & t)),
        skel_pred=int(np.count_nonzero(sp)),
        skel_truth_in=int(np.count_nonzero(st & p)),
        skel_truth=int(np.count_nonzero(st)),
    )


def cldice(truth: np.ndarray, pred: np.ndarray) -> float:
    """Centreline Dice (clDice) of ``pred`` against ``truth``; 1.0 when both are empty."""
    return thin_counts(truth, pred, tolerances=()).cldice


def tolerant_f1(truth: np.ndarray, pred: np.ndarray, k: int) -> float:
    """F1 of precision and recall within ``k`` px; 1.0 when both are empty."""
    return thin_counts(truth, pred, tolerances=(k,)).f1_at(k)


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


def class_thin_counts(
    truth: Mapping[str, np.ndarray],
    pred: Mapping[str, np.ndarray],
    *,
    tolerances: tuple[int, ...] = TOLERANCES,
) -> dict[ClassName, ThinCounts]:
    """:func:`thin_counts` per class for ``{class: mask}`` mappings (both classes required)."""
    out: dict[ClassName, ThinCounts] = {}
    for name in CLASSES:
        if name not in truth or name not in pred:
            raise ValueError(f"both ground truth and prediction need a {name!r} mask")
        out[name] = thin_counts(truth[name], pred[name], tolerances=tolerances)
    return out


@dataclass
class MetricAccumulator:
    """Collects per-image, per-class counts; reports per-image means and global scores.

    With ``thin=True`` (the default) :meth:`add` also counts the tolerant scores
    (:class:`ThinCounts`: clDice and precision/recall/F1 within each of ``tolerances``
    px), which :meth:`mean` and :meth:`pooled` then report next to the plain ones.

    Examples
    --------
    >>> acc = MetricAccumulator()
    >>> acc.add(truth_masks, predicted_masks)  # doctest: +SKIP
    >>> acc.mean("wrinkle")["iou"], acc.pooled("wrinkle")["f1@2"]  # doctest: +SKIP
    """

    per_image: list[dict[ClassName, Counts]] = field(default_factory=list)
    thin: bool = True
    tolerances: tuple[int, ...] = TOLERANCES
    thin_per_image: list[dict[ClassName, ThinCounts]] = field(default_factory=list)

    def add(self, truth: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray]) -> None:
        """Add one image: ``{class: (M, N) mask}`` for ground truth and prediction."""
        self.per_image.append(class_counts(truth, pred))
        if self.thin:
            self.thin_per_image.append(class_thin_counts(truth, pred, tolerances=self.tolerances))

    def add_counts(
        self,
        counts: Mapping[str, Counts],
        thin: Mapping[str, ThinCounts] | None = None,
    ) -> None:
        """Add one image's precomputed counts (e.g. from a worker process)."""
        self.per_image.append({check_class(k): v for k, v in counts.items()})
        if thin is not None:
            self.thin_per_image.append({check_class(k): v for k, v in thin.items()})

    def __len__(self) -> int:
        return len(self.per_image)

    def _names(self) -> tuple[str, ...]:
        if self.thin_per_image or (self.thin and not self.per_image):
            return PLAIN_SCORES + thin_score_names(self.tolerances)
        return PLAIN_SCORES

    def mean(self, cls: str) -> dict[str, float]:
        """Per-image mean of each score for ``cls`` (NaN when no image was added)."""
        name = check_class(cls)
        rows = [img[name].scores() for img in self.per_image if name in img]
        thin_rows = [img[name].scores() for img in self.thin_per_image if name in img]
        out = {k: float("nan") for k in self._names()}
        for group in (rows, thin_rows):
            if group:
                out.update({k: float(np.mean([r[k] for r in group])) for k in group[0]})
        return out

    def pooled(self, cls: str) -> dict[str, float]:
        """Dataset-global scores of ``cls``: pixel counts pooled over all images first
        (NaN when no image was added)."""
        name = check_class(cls)
        out = {k: float("nan") for k in self._names()}
        rows = [img[name] for img in self.per_image if name in img]
        if rows:
            total = Counts()
            for counts in rows:
                total = total + counts
            out.update(total.scores())
        thin_rows = [img[name] for img in self.thin_per_image if name in img]
        if thin_rows:
            thin_total = thin_rows[0]
            for more in thin_rows[1:]:
                thin_total = thin_total + more
            out.update(thin_total.scores())
        return out

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{class: {"mean": per-image mean scores, "global": pooled scores}}``."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for name in CLASSES:
            out[name] = {"mean": self.mean(name), "global": self.pooled(name)}
        return out
