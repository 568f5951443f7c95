"""Evaluation shared by ``skintrace evaluate``: Tables 2 and 3 for checkpoints and baselines.

Every method is scored the same way on the chosen split of a GT dataset:

* **loss** — mean squared error between the predicted magnitude map and the GT magnitude
  map, both divided by 255, averaged over pixels and the two classes, then over images
  (the training's validation loss for ``--loss mse``);
* **IoU** (Eq. 4) per class between the predicted mask and the binary GT (``GT > 0``):
  *global* (intersections and unions summed over all images, as in the paper's tables)
  and *per image* (mean of each image's IoU; an image where both are empty counts 1),
  computed by :class:`core.gt.metrics.MetricAccumulator` (which also gives Dice, precision
  and recall, reported in ``MethodResult.scores``);
* **thin-structure scores** that forgive a 1-2 px offset, which IoU counts as a miss:
  clDice and F1 within k = 1, 2, 3 px (:class:`core.gt.metrics.ThinCounts`), pooled over the
  split, printed as a second block under the paper's table (``scores`` has them per class
  with their precision and recall, as ``"cldice"``, ``"precision@k"``, ``"recall@k"``,
  ``"f1@k"``);
* the predicted mask is ``map >= level`` (:mod:`core.model.masks`): a checkpoint's own
  levels for a network, and 0/255 maps for the baselines, which any level splits alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.classes import CLASSES
from core.dataset import read_manifest
from core.errors import DatasetError, SettingError
from core.gt.baselines import EVAL_SOURCE, baseline_maps
from core.gt.metrics import TOLERANCES, MetricAccumulator
from core.model.data import load_item
from core.model.infer import Predictor
from core.model.masks import DEFAULT_MASK_LEVEL, maps_to_masks
from core.progress import CancelToken, Progress

BASELINE = "image processing"


@dataclass(frozen=True)
class MethodResult:
    """Scores of one method (a checkpoint or the image-processing baselines)."""

    method: str
    source: str
    params: int | None
    loss: float
    iou: dict[str, float]
    iou_per_image: dict[str, float]
    images: int
    mask_levels: dict[str, float] = field(default_factory=dict)
    #: ``{class: {"mean" | "global": {"iou", "dice", "precision", "recall"}}}``.
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalReport:
    """All methods on one split of one dataset."""

    dataset: str
    split: str
    images: int
    results: tuple[MethodResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "images": self.images,
            "results": [asdict(r) for r in self.results],
        }

    def table(self) -> str:
        """A plain-text table shaped like the paper's Tables 2 and 3."""
        width = max([34, *(len(r.method) for r in self.results)])
        head = (
            f"{'Method':<{width}} {'#Params':>8} {'Loss':>8} {'IoU wrinkle':>12} {'IoU pore':>9}"
            f" {'per-image W':>12} {'per-image P':>12}"
        )
        lines = [f"{self.split} split of {self.dataset}: {self.images} image(s)", head]
        lines.append("-" * len(head))
        for r in self.results:
            params = "-" if r.params is None else f"{r.params / 1e6:.2f} M"
            lines.append(
                f"{r.method:<{width}} {params:>8} {r.loss:>8.5f} {r.iou['wrinkle']:>12.4f} "
                f"{r.iou['pore']:>9.4f} {r.iou_per_image['wrinkle']:>12.4f} "
                f"{r.iou_per_image['pore']:>12.4f}"
            )
        lines.append(
            "Loss: MSE of the maps; IoU: pixels pooled over the split (Eq. 4); "
            "per-image: mean of each image's IoU"
        )
        thin = [r for r in self.results if _has_thin(r)]
        if thin:
            lines.append("")
            lines.extend(_thin_table(thin, width))
        return "\n".join(lines)


def _has_thin(result: MethodResult) -> bool:
    return all("cldice" in result.scores.get(c, {}).get("global", {}) for c in CLASSES)


def _thin_table(results: Sequence[MethodResult], width: int) -> list[str]:
    """The thin-structure block: clDice and F1@k per class, pooled over the split."""
    names = ["cldice", *(f"f1@{k}" for k in TOLERANCES)]
    labels = {"cldice": "clDice"} | {f"f1@{k}": f"F1@{k}" for k in TOLERANCES}
    cols = [(n, c) for n in names for c in CLASSES]
    head = f"{'Thin structures':<{width}}" + "".join(
        f" {labels[n] + ' ' + c[0].upper():>9}" for n, c in cols
    )
    lines = [head, "-" * len(head)]
    for r in results:
        cells = "".join(f" {r.scores[c]['global'][n]:>9.4f}" for n, c in cols)
        lines.append(f"{r.method:<{width}}{cells}")
    lines.append(
        "clDice: centreline Dice; F1@k: precision and recall where a pixel within k px of "
        "the other mask counts as a match (W wrinkle, P pore; pooled over the split)"
    )
    return lines


class _Tally:
    """Running sums for one method: loss, and per-image counts in a MetricAccumulator."""

    def __init__(self) -> None:
        self.loss = 0.0
        self.metrics = MetricAccumulator()

    def add(
        self, maps: dict[str, np.ndarray], gt: dict[str, np.ndarray], levels: dict[str, float]
    ) -> None:
        errors = []
        for c in CLASSES:
            diff = maps[c].astype(np.float32) / 255.0 - gt[c].astype(np.float32) / 255.0
            errors.append(float(np.mean(diff * diff)))
        self.metrics.add({c: gt[c] > 0 for c in CLASSES}, maps_to_masks(maps, levels))
        self.loss += float(np.mean(errors))

    def result(
        self, method: str, source: str, params: int | None, levels: dict[str, float]
    ) -> MethodResult:
        n = len(self.metrics)
        return MethodResult(
            method=method,
            source=source,
            params=params,
            loss=self.loss / max(n, 1),
            iou={c: self.metrics.pooled(c)["iou"] for c in CLASSES},
            iou_per_image={c: self.metrics.mean(c)["iou"] for c in CLASSES},
            images=n,
            mask_levels=dict(levels),
            scores=self.metrics.summary(),
        )


def evaluate_iter(
    dataset_dir: str | os.PathLike[str],
    *,
    checkpoints: Sequence[str | os.PathLike[str]] = (),
    baselines: bool = False,
    split: str = "val",
    device: str = "auto",
    batch_size: int = 4,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Score checkpoints and/or baselines, ``batch_size`` images per forward pass,
    yielding progress per image.

    The last Progress has ``info["report"]``, an :class:`EvalReport`.
    """
    if not checkpoints and not baselines:
        raise SettingError("nothing to evaluate: give at least one checkpoint or baselines=True")
    if batch_size < 1:
        raise SettingError(f"batch_size must be >= 1, got {batch_size}")
    manifest = read_manifest(dataset_dir)
    items = manifest.split(split)
    if not items:
        raise DatasetError(f"{manifest.root} has no images in split {split!r}; try --split all")
    predictors = [
        Predictor(ck, device=device, batch_size=batch_size, threads=threads) for ck in checkpoints
    ]
    tallies = [_Tally() for _ in predictors]
    base_tally = _Tally()
    base_levels: dict[str, float] = dict.fromkeys(CLASSES, DEFAULT_MASK_LEVEL)
    yield Progress(0, len(items), "evaluating")
    for start in range(0, len(items), batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        # batch_size images per forward pass (same-sized ones share it), as promised.
        chunk = items[start : start + batch_size]
        loaded = [load_item(item) for item in chunk]
        images = [image for image, _ in loaded]
        for pred, tally in zip(predictors, tallies, strict=True):
            for maps, (_, gt) in zip(pred.predict(images), loaded, strict=True):
                tally.add(maps, gt, pred.mask_levels)
        for n, (item, (image, gt)) in enumerate(zip(chunk, loaded, strict=True), start + 1):
            if baselines:
                base_tally.add(baseline_maps(image), gt, base_levels)
            yield Progress(n, len(items), item.id)
    results = []
    if baselines:
        results.append(base_tally.result(BASELINE, EVAL_SOURCE, None, base_levels))
    for pred, tally in zip(predictors, tallies, strict=True):
        info = pred.info
        label = f"{info.name} ({_short(info.path)})"
        params = info.metadata.get("params")
        results.append(tally.result(label, str(info.path), params, pred.mask_levels))
    report = EvalReport(str(manifest.root), split, len(items), tuple(results))
    yield Progress(len(items), len(items), "done", {"report": report})


def _short(path: Path) -> str:
    parts = path.parts[-2:]
    return "/".join(parts)


def evaluate(dataset_dir: str | os.PathLike[str], **options: Any) -> EvalReport:
    """Run :func:`evaluate_iter` to the end and return its report."""
    last: Progress | None = None
    for progress in evaluate_iter(dataset_dir, **options):
        last = progress
    if last is None or "report" not in last.info:  # pragma: no cover - always has one
        raise RuntimeError("evaluation ended without a report")
    return last.info["report"]
