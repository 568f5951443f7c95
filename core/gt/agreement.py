"""Agreement between annotators of the same images, and their consensus.

Each annotator's rough masks give their own GT (rough × texture, the image's GT
parameters), and the annotators are compared on that GT, pair by pair, with the paper's
IoU and the thin-structure scores of :mod:`core.gt.metrics` (clDice, F1 within 1-3 px):
two people who trace the same wrinkle 1 px apart agree by F1@1 although IoU says they
mostly disagree. A per-pixel **count map** says how many annotators marked each pixel.

A **consensus** rough mask merges them; its GT is rough × texture as always:

* ``"majority"`` — pixels marked by more than half of the annotators (for two, where both
  agree). Because GT is pointwise, the GT of the majority rough mask equals the majority
  of the annotators' GTs.
* ``"staple"`` — STAPLE (Warfield et al., IEEE TMI 2004): expectation-maximisation of each
  annotator's sensitivity and specificity and of each pixel's probability of being a
  structure; pixels with probability > 0.5. It trusts annotators in proportion to how
  well they agree with the estimate, so one careless annotator does not outvote two
  careful ones where majority voting would.

``skintrace agreement PROJECT`` runs :func:`agreement_iter` and writes a CSV.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.classes import CLASSES
from core.errors import SkinTraceError
from core.gt.metrics import TOLERANCES, confusion, thin_counts
from core.progress import CancelToken, Progress

CONSENSUS_METHODS: tuple[str, ...] = ("majority", "staple")
#: The pairwise scores reported, in CSV column order.
PAIR_SCORES: tuple[str, ...] = ("iou", "dice", "cldice", *(f"f1@{k}" for k in TOLERANCES))


class AgreementError(SkinTraceError, ValueError):
    """Agreement or consensus was asked of masks it cannot use."""


def _stack(masks: Sequence[np.ndarray]) -> np.ndarray:
    if len(masks) == 0:
        raise AgreementError("consensus needs the masks of at least one annotator")
    arrs = [np.asarray(m) for m in masks]
    shape = arrs[0].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrs):
        raise AgreementError(
            f"annotators' masks must be (M, N) of one shape; got {[a.shape for a in arrs]}"
        )
    return np.stack([a if a.dtype == np.bool_ else a > 0 for a in arrs])


def count_map(masks: Sequence[np.ndarray]) -> np.ndarray:
    """How many annotators marked each pixel: ``(M, N) uint8``."""
    return _stack(masks).sum(axis=0, dtype=np.uint8)


def staple(masks: Sequence[np.ndarray], *, iterations: int = 100, tol: float = 1e-7) -> np.ndarray:
    """STAPLE probability that each pixel is a structure, ``(M, N) float64`` in [0, 1].

    Binary STAPLE by EM on the distinct decision patterns (at most ``2**R`` for ``R``
    annotators, each weighted by its pixel count), so large images cost one pass.
    """
    d = _stack(masks)
    r = d.shape[0]
    flat = d.reshape(r, -1)
    weights = 1 << np.arange(r, dtype=np.int64)
    code = weights @ flat.astype(np.int64)
    patterns, inverse, counts = np.unique(code, return_inverse=True, return_counts=True)
    dec = ((patterns[:, None] & weights[None, :]) > 0).astype(np.float64)  # (P, R)
    n = counts.astype(np.float64)
    prior = float(np.clip(flat.mean(), 1e-6, 1 - 1e-6))
    p = np.full(r, 0.99)  # sensitivity of each annotator
    q = np.full(r, 0.99)  # specificity
    w = np.zeros(len(patterns))
    eps = 1e-9
    for _ in range(iterations):
        log_a = np.log(prior) + dec @ np.log(p + eps) + (1 - dec) @ np.log(1 - p + eps)
        log_b = np.log(1 - prior) + (1 - dec) @ np.log(q + eps) + dec @ np.log(1 - q + eps)
        new_w = 1.0 / (1.0 + np.exp(np.clip(log_b - log_a, -700, 700)))
        fg, bg = float(n @ new_w), float(n @ (1 - new_w))
        p = (n * new_w) @ dec / max(fg, eps)
        q = (n * (1 - new_w)) @ (1 - dec) / max(bg, eps)
        done = np.abs(new_w - w).max() < tol
        w = new_w
        if done:
            break
    return w[inverse].reshape(d.shape[1:])


def consensus(masks: Sequence[np.ndarray], *, method: str = "majority") -> np.ndarray:
    """Consensus ``(M, N) bool`` mask of several annotators' masks.

    Parameters
    ----------
    masks : sequence of (M, N) ndarray
        One mask per annotator (bool, or nonzero = marked).
    method : {"majority", "staple"}, keyword-only
        See the module docstring.
    """
    if method not in CONSENSUS_METHODS:
        raise AgreementError(
            f"unknown consensus {method!r}; choose one of {', '.join(CONSENSUS_METHODS)}"
        )
    if method == "majority":
        d = _stack(masks)
        return d.sum(axis=0) * 2 > d.shape[0]
    return staple(masks) > 0.5


def pair_scores(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """IoU, Dice, clDice and F1@k between two annotators' masks (symmetric)."""
    plain = confusion(a, b)
    thin = thin_counts(a, b)
    scores = {"iou": plain.iou, "dice": plain.dice, "cldice": thin.cldice}
    scores.update({f"f1@{k}": thin.f1_at(k) for k in TOLERANCES})
    return scores


@dataclass(frozen=True)
class PairRow:
    """Agreement of two annotators on one class of one image (their GT masks)."""

    image: str
    cls: str
    a: str
    b: str
    pixels_a: int
    pixels_b: int
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AgreementReport:
    """Pairwise rows over a project's images with at least two annotators."""

    rows: tuple[PairRow, ...]
    images: int
    skipped: int

    def mean(self, cls: str, score: str) -> float:
        vals = [r.scores[score] for r in self.rows if r.cls == cls]
        return float(np.mean(vals)) if vals else float("nan")

    def table(self) -> str:
        """Per pair of annotators, mean scores per class over their shared images."""
        head = f"{'annotators':<30} {'class':<8} {'images':>6}" + "".join(
            f" {s:>7}" for s in PAIR_SCORES
        )
        lines = [
            f"{self.images} image(s) with two or more annotators"
            + (f"; {self.skipped} with fewer skipped" if self.skipped else ""),
            head,
            "-" * len(head),
        ]
        groups: dict[tuple[str, str, str], list[PairRow]] = {}
        for r in self.rows:
            groups.setdefault((r.a, r.b, r.cls), []).append(r)
        for (a, b, cls), rows in sorted(groups.items()):
            means = "".join(f" {np.mean([r.scores[s] for r in rows]):>7.4f}" for s in PAIR_SCORES)
            lines.append(f"{(a + ' / ' + b)[:30]:<30} {cls:<8} {len(rows):>6}{means}")
        lines.append(
            "scores on each annotator's GT (rough × texture); F1@k: pixels within k px match"
        )
        return "\n".join(lines)

    def csv_text(self) -> str:
        """One row per image, class and pair of annotators."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["image", "class", "annotator_a", "annotator_b", "pixels_a", "pixels_b",
                    *PAIR_SCORES])  # fmt: skip
        for r in self.rows:
            w.writerow([r.image, r.cls, r.a, r.b, r.pixels_a, r.pixels_b,
                        *(f"{r.scores[s]:.6f}" for s in PAIR_SCORES)])  # fmt: skip
        return buf.getvalue()


@dataclass(frozen=True)
class ImageAgreement:
    """Agreement of the annotators of one image, on their GT (rough × texture).

    Attributes
    ----------
    annotators : tuple of str
        Everyone with kept masks of the image, sorted (fewer than two: nothing to compare,
        ``counts`` and ``rows`` are empty).
    counts : dict of str to (M, N) uint8 ndarray
        Per class, how many annotators' GT marks each pixel (:func:`count_map`).
    rows : tuple of PairRow
        Per class and pair of annotators, their scores (:func:`pair_scores`).
    """

    image: str
    annotators: tuple[str, ...]
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    rows: tuple[PairRow, ...] = ()


def image_agreement(project: Any, image_id: Any) -> ImageAgreement:
    """Count maps and pairwise scores of every annotator of one image (a worker's job).

    Each annotator's GT is rough × texture with the image's GT parameters, the
    image's exclusion mask removed (as in the annotation window).
    """
    from core.gt.engine import compute_textures, gt_from_rough
    from core.imageio import load_image

    rec = project.image(image_id)
    found = {name: project.gt_rough(rec.id, m) for name, m in project.annotations(rec.id).items()}
    names = tuple(sorted(found))
    if len(names) < 2:
        return ImageAgreement(rec.name, names)
    params = project.params(rec.id)
    textures = compute_textures(load_image(rec.path).pixels, params)
    counts: dict[str, np.ndarray] = {}
    rows: list[PairRow] = []
    for cls in CLASSES:
        gts = {
            name: gt_from_rough(
                textures[cls], found[name][cls], threshold=textures.threshold(cls, params)
            ) > 0
            for name in names
        }  # fmt: skip
        for a, b in itertools.combinations(names, 2):
            rows.append(
                PairRow(
                    rec.name,
                    cls,
                    a,
                    b,
                    int(gts[a].sum()),
                    int(gts[b].sum()),
                    pair_scores(gts[a], gts[b]),
                )  # fmt: skip
            )
        counts[cls] = count_map([gts[name] for name in names])
    return ImageAgreement(rec.name, names, counts, tuple(rows))


def agreement_iter(
    project: Any,
    *,
    statuses: Iterable[str] | None = None,
    maps_dir: str | os.PathLike[str] | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Score every pair of annotators on every image they both annotated.

    Parameters
    ----------
    project : core.project.Project
        Read-only is enough.
    statuses : iterable of str, optional
        Only images with these statuses (all images by default).
    maps_dir : path, optional
        Also write each image's per-class count map there as
        ``<image id>-<class>-agreement.png`` (0/255 scaled by the number of annotators).
    cancel : CancelToken, optional

    Yields
    ------
    Progress
        One per image; the last one's ``info["report"]`` is an :class:`AgreementReport`.
    """
    from core.imageio import save_png

    records = project.images(status=list(statuses)) if statuses else project.images()
    rows: list[PairRow] = []
    scored = skipped = 0
    out = None if maps_dir is None else os.fspath(maps_dir)
    yield Progress(0, len(records), "agreement")
    for n, rec in enumerate(records, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        found = image_agreement(project, rec.id)
        if len(found.annotators) < 2:
            skipped += 1
            yield Progress(n, len(records), rec.name)
            continue
        scored += 1
        rows.extend(found.rows)
        if out is not None:
            for cls in CLASSES:
                counts = found.counts[cls].astype(np.float32)
                scaled = np.rint(counts * (255.0 / len(found.annotators))).astype(np.uint8)
                save_png(os.path.join(out, f"{rec.id}-{cls}-agreement.png"), scaled)
        yield Progress(n, len(records), rec.name)
    report = AgreementReport(tuple(rows), scored, skipped)
    yield Progress(len(records), len(records), "done", {"report": report})
