"""Precision of the baseline pre-labels before and after the skin restriction (issue #10).

"Before" is the paper's baselines on the whole image (Frangi wrinkles, k-means pores);
"after" is what the app pre-labels now: both restricted to :func:`core.gt.baselines.skin_mask`
and wrinkle fragments that cannot be wrinkles dropped (:func:`core.gt.baselines.drop_non_wrinkles`).

* generated faces (``core.demo.synthetic``, 768×640): labelled wrinkles and pores among
  unlabelled eyebrows, eyes, eyelid creases, moles and hair strands, plus the same faces
  with a striped shirt and collar over their bottom fifth (clothes);
* real faces when ``../shared/real`` (from the repository root) is there: the FFHQ faces
  with human wrinkle labels (256×256) and the Pore-Net half face with human pore labels
  (scored inside the face, the release's skin ROI being narrower than the labels).

A predicted pixel is correct when a labelled pixel lies within ``--tolerance`` pixels
(2 at 768×640, scaled with the image). Prints precision and recall per set and writes
bench-results/bench_baselines.json.

    .venv/bin/python benchmarks/bench_baselines.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REAL = ROOT.parent / "shared" / "real"

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from core.demo.synthetic import make_face  # noqa: E402
from core.gt.baselines import (  # noqa: E402
    FrangiParams,
    baseline_masks,
    frangi_wrinkles,
    kmeans_pores,
    size_scale,
)

RAW = FrangiParams(max_depth=np.inf, max_straight_length=np.inf)


def before_masks(image: np.ndarray) -> dict[str, np.ndarray]:
    """The baselines as they were: the whole image, no fragment filter."""
    return {"wrinkle": frangi_wrinkles(image, params=RAW), "pore": kmeans_pores(image)}


def with_clothes(image: np.ndarray) -> np.ndarray:
    """The bottom fifth replaced by a blue striped shirt with a dark collar line."""
    out = np.array(image)
    rows, cols = out.shape[:2]
    top = rows * 4 // 5
    out[top:] = (40, 60, 140)
    step = max(8, cols // 16)
    for col in range(step // 2, cols, step):
        cv2.line(out, (col, top + 4), (col + step // 3, rows - 1), (20, 30, 80), 2)
    out[top : top + max(2, rows // 100)] = (15, 15, 20)
    return out


def uncovered(masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The labels outside the rows :func:`with_clothes` paints over."""
    out = {}
    for c, m in masks.items():
        m = np.array(m, dtype=bool)
        m[m.shape[0] * 4 // 5 :] = False
        out[c] = m
    return out


class Tally:
    """Pixel counts for precision (within a tolerance) and recall."""

    def __init__(self) -> None:
        self.tp_pred = self.pred = self.tp_truth = self.truth = 0

    def add(self, pred: np.ndarray, truth: np.ndarray, tolerance: int) -> None:
        kernel = np.ones((2 * tolerance + 1,) * 2, np.uint8)
        near_truth = cv2.dilate(truth.astype(np.uint8), kernel) > 0
        near_pred = cv2.dilate(pred.astype(np.uint8), kernel) > 0
        self.tp_pred += int((pred & near_truth).sum())
        self.pred += int(pred.sum())
        self.tp_truth += int((truth & near_pred).sum())
        self.truth += int(truth.sum())

    def result(self) -> dict[str, float]:
        return {
            "precision": self.tp_pred / max(self.pred, 1),
            "recall": self.tp_truth / max(self.truth, 1),
            "predicted_px": self.pred,
        }


def score(
    items: list[tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]],
    classes: tuple[str, ...],
    tolerance: float,
) -> dict[str, dict[str, dict[str, float]]]:
    """``items``: (image, {class: truth}, scored region or None)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, fn in (("before", before_masks), ("after", baseline_masks)):
        tallies = {c: Tally() for c in classes}
        for image, truth, region in items:
            masks = fn(image)
            tol = max(1, round(tolerance * size_scale(image.shape)))
            for c in classes:
                pred = masks[c] if region is None else masks[c] & region
                tallies[c].add(pred, truth[c], tol)
        out[name] = {c: t.result() for c, t in tallies.items()}
    return out


def real_sets() -> dict[str, list]:
    from core.imageio import load_image

    sets: dict[str, list] = {}
    ffhq = REAL / "ffhq256"
    if ffhq.is_dir():
        items = []
        for path in sorted((ffhq / "images").glob("*.png")):
            label = load_image(ffhq / "labels" / path.name).pixels
            label = (label[..., 0] if label.ndim == 3 else label) > 127
            items.append((load_image(path).pixels, {"wrinkle": label}, None))
        sets["real FFHQ wrinkles (7 x 256x256)"] = [items, ("wrinkle",)]
    pn = REAL / "porenet_left"
    if pn.is_dir():
        image = load_image(pn / "image.png").pixels
        label = load_image(pn / "pores.png").pixels
        label = (label[..., 0] if label.ndim == 3 else label) > 127
        # Score where the human labelled pores at all: the label's convex hull
        # (forehead, cheeks, nose, chin), so unlabelled hair and background count as
        # false pre-labels only inside the face.
        pts = cv2.findNonZero(label.astype(np.uint8))
        hull = np.zeros(label.shape, np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
        sets["real Pore-Net pores (787x1801), whole image"] = [
            [(image, {"pore": label}, None)],
            ("pore",),
        ]
        sets["real Pore-Net pores, inside the labelled face"] = [
            [(image, {"pore": label}, hull > 0)],
            ("pore",),
        ]
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 generated faces instead of 8")
    parser.add_argument("--tolerance", type=float, default=2.0, help="pixels at 768x640")
    args = parser.parse_args()
    cv2.setNumThreads(2)
    seeds = range(100, 103 if args.quick else 108)
    faces = [make_face(s) for s in seeds]
    sets: dict[str, list] = {
        f"generated faces ({len(faces)} x 768x640)": [
            [(f.image, f.masks, None) for f in faces],
            ("wrinkle", "pore"),
        ],
        "generated faces with clothes (top 4/5 scored)": [
            # Labels under the shirt were painted over: they are not counted.
            [(with_clothes(f.image), uncovered(f.masks), None) for f in faces],
            ("wrinkle", "pore"),
        ],
    }
    real = real_sets()
    if not real:
        print(f"real faces not found at {REAL}: only generated faces are scored")
    sets.update(real)
    results: dict[str, object] = {"tolerance_px_at_768x640": args.tolerance}
    print(f"{'set':48s} {'class':8s} {'precision before→after':>24s} {'recall before→after':>22s}")
    for name, (items, classes) in sets.items():
        t0 = time.perf_counter()
        r = score(items, classes, args.tolerance)
        results[name] = r
        for c in classes:
            b, a = r["before"][c], r["after"][c]
            print(
                f"{name:48s} {c:8s} {b['precision']:11.3f} → {a['precision']:.3f}"
                f" {b['recall']:12.3f} → {a['recall']:.3f}"
            )
        results[name + " seconds"] = time.perf_counter() - t0
    out = ROOT / "bench-results" / "bench_baselines.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
