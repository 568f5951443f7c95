"""Annotation effort to reach GT IoU 0.8 on generated faces, per simulated annotator (issue #9).

A simulated annotator works through the structures of a synthetic face (the known
wrinkle and pore masks, one structure = one connected component), biggest first, and
after every action the benchmark scores what the method makes of the masks so far
against the known truth. It reports, per class and strategy, how many actions, how many
painted pixels and how much steering it takes until IoU ≥ ``--target`` (0.8):

* ``rough``: rough strokes × texture map (this method): one generous stroke per
  structure (the structure grown by 4 px for wrinkles, 3 px for pores); scored is
  ``compute_gt`` of the rough masks with the default parameters.
* ``region``: rough regions × texture map: structures closer than 30 px merge into
  one region, filled with one outline (lasso) stroke, as the paper's pore regions.
* ``exact``: the manual way, a pixel-exact brush: each structure painted exactly (one
  stroke per structure, which is generous to it); scored is the painted mask itself.
* ``prelabel``: the app's pre-label before any model exists (the image-processing
  baselines, ``core.gt.baselines``) turned into rough masks (``core.assist.prelabel.prelabel_to_rough``)
  for free, then corrections, largest first: an erase stroke per false structure, a
  rough stroke per missed one; scored like ``rough``.

"Steering" is the Accot–Zhai steering index of the strokes, Σ length / tolerance: the
skeleton length of each stroke over the slack the annotator has (the margin for a rough
stroke, half a pixel for a pixel-exact one); the time to trace a path grows linearly
with it. A point action ("click") has steering 0.

Strategies are plain functions registered with ``@strategy`` (one function per
strategy): ``fn(scene, cls) -> Iterator[Step]``. A new one (click-to-pore, snapping)
is a new function; ``scored`` says whether its masks are rough masks (GT = texture ×
rough) or final masks.

    .venv/bin/python benchmarks/bench_effort.py [--faces 3] [--target 0.8]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from skimage.morphology import skeletonize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.assist.prelabel import baseline_source, mask_levels, prelabel_to_rough  # noqa: E402
from core.classes import CLASSES  # noqa: E402
from core.demo.synthetic import SyntheticFace, make_face  # noqa: E402
from core.gt.baselines import baseline_maps  # noqa: E402
from core.gt.engine import GTParams, TextureMaps, compute_textures  # noqa: E402

#: Margin of a rough stroke around the structure, px (as core.demo.synthetic's annotator).
MARGIN = {"wrinkle": 4, "pore": 3}
#: Slack of a pixel-exact brush, px.
EXACT_SLACK = 0.5


@dataclass(frozen=True)
class Step:
    """One annotator action on one class's mask.

    Attributes
    ----------
    footprint : (M, N) bool ndarray
        Pixels the action paints (or erases).
    erase : bool
    kind : str
        "stroke" or "click" (free text for new strategies).
    steering : float
        Steering index of the action, length / tolerance (0 for a click).
    """

    footprint: np.ndarray
    erase: bool = False
    kind: str = "stroke"
    steering: float = 0.0


@dataclass
class Scene:
    """What a strategy may look at: the face (with its known masks) and its texture maps."""

    face: SyntheticFace
    textures: TextureMaps
    params: GTParams
    prelabel_rough: dict[str, np.ndarray]


StrategyFn = Callable[[Scene, str], Iterator[Step]]


@dataclass(frozen=True)
class Strategy:
    name: str
    fn: StrategyFn
    #: "rough": the masks are rough masks (scored as texture × rough); "final": as painted.
    scored: Literal["rough", "final"]
    #: Initial mask (before any action) for a class, e.g. a pre-label's rough mask.
    start: Callable[[Scene, str], np.ndarray] | None = None


STRATEGIES: dict[str, Strategy] = {}


def strategy(
    name: str,
    *,
    scored: Literal["rough", "final"],
    start: Callable[[Scene, str], np.ndarray] | None = None,
) -> Callable[[StrategyFn], StrategyFn]:
    """Register a strategy function under ``name``."""

    def register(fn: StrategyFn) -> StrategyFn:
        STRATEGIES[name] = Strategy(name, fn, scored, start)
        return fn

    return register


# ----------------------------------------------------------------------------- helpers


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def components(mask: np.ndarray) -> list[np.ndarray]:
    """Connected components (8-connected) of a mask, biggest first."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    order = sorted(range(1, n), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    return [labels == i for i in order]


def path_length(mask: np.ndarray) -> float:
    """Length of the stroke that covers ``mask``: its skeleton's pixel count (≥ 1)."""
    return float(max(1, int(skeletonize(mask).sum())))


def _truth(scene: Scene, cls: str) -> np.ndarray:
    return scene.face.wrinkle if cls == "wrinkle" else scene.face.pore


# --------------------------------------------------------------------------- strategies


@strategy("rough", scored="rough")
def rough_strokes(scene: Scene, cls: str) -> Iterator[Step]:
    """One generous stroke per structure, biggest first (this method)."""
    margin = MARGIN[cls]
    for comp in components(_truth(scene, cls)):
        footprint = cv2.dilate(comp.astype(np.uint8), _disk(margin)) > 0
        yield Step(footprint, steering=path_length(comp) / margin)


#: Closing radius that merges neighbouring structures into one painted region, px.
REGION_CLOSE = 15
#: Slack of a region's outline (lasso or polygon fill), px.
REGION_SLACK = 8.0


@strategy("region", scored="rough")
def rough_regions(scene: Scene, cls: str) -> Iterator[Step]:
    """Whole areas painted at once (as the paper's pore regions): structures less than
    ``2 × REGION_CLOSE`` px apart merge into one region, filled by tracing its outline."""
    truth = _truth(scene, cls).astype(np.uint8)
    closed = cv2.morphologyEx(truth, cv2.MORPH_CLOSE, _disk(REGION_CLOSE))
    regions = cv2.dilate(closed, _disk(MARGIN[cls])) > 0
    for region in components(regions):
        contours, _ = cv2.findContours(
            region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        outline = sum(cv2.arcLength(c, True) for c in contours)
        yield Step(region, kind="fill", steering=outline / REGION_SLACK)


@strategy("exact", scored="final")
def exact_brush(scene: Scene, cls: str) -> Iterator[Step]:
    """Each structure painted pixel-exactly, one stroke per structure (the manual way)."""
    for comp in components(_truth(scene, cls)):
        yield Step(comp, steering=path_length(comp) / EXACT_SLACK)


def _prelabel_start(scene: Scene, cls: str) -> np.ndarray:
    return scene.prelabel_rough[cls].copy()


@strategy("prelabel", scored="rough", start=_prelabel_start)
def prelabel_corrections(scene: Scene, cls: str) -> Iterator[Step]:
    """Accept the pre-label's rough mask, then erase false and add missed structures."""
    truth = _truth(scene, cls)
    start = scene.prelabel_rough[cls]
    keep = scene.textures[cls] > scene.textures.threshold(cls, scene.params)
    gt = keep & start
    margin = MARGIN[cls]
    actions: list[tuple[int, Step]] = []
    for comp in components(start):
        false = int((gt & comp & ~truth).sum())
        if false > int((gt & comp & truth).sum()):  # mostly wrong: erase it
            actions.append((false, Step(comp, erase=True, steering=path_length(comp) / margin)))
    for comp in components(truth):
        missed = int((comp & ~gt).sum())
        if missed > comp.sum() // 2:  # mostly missed: paint it
            footprint = cv2.dilate(comp.astype(np.uint8), _disk(margin)) > 0
            actions.append((missed, Step(footprint, steering=path_length(comp) / margin)))
    for _impact, step in sorted(actions, key=lambda a: -a[0]):
        yield step


# ------------------------------------------------------------------------------ runner


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return 1.0 if union == 0 else float((a & b).sum() / union)


def run(scene: Scene, cls: str, strat: Strategy, target: float) -> dict:
    """Apply a strategy's steps until the scored IoU reaches ``target``."""
    truth = _truth(scene, cls)
    keep = scene.textures[cls] > scene.textures.threshold(cls, scene.params)
    mask = strat.start(scene, cls) if strat.start else np.zeros(truth.shape, bool)

    def score() -> float:
        return _iou(keep & mask if strat.scored == "rough" else mask, truth)

    actions, painted, steering = 0, 0, 0.0
    iou = score()
    for step in strat.fn(scene, cls):
        if iou >= target:
            break
        painted += int(step.footprint.sum())
        steering += step.steering
        actions += 1
        if step.erase:
            mask &= ~step.footprint
        else:
            mask |= step.footprint
        iou = score()
    return {
        "actions": actions,
        "painted_px": painted,
        "steering": steering,
        "iou": iou,
        "reached": iou >= target,
        "structures": len(components(truth)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=3, help="synthetic faces (seeds 0..n-1)")
    ap.add_argument("--target", type=float, default=0.8, help="IoU to reach")
    ap.add_argument("--threads", type=int, default=2, help="OpenCV threads (default 2)")
    ap.add_argument("--out", default="bench-results/bench_effort.json")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    params = GTParams()
    rows: list[dict] = []
    levels = mask_levels(baseline_source())
    for seed in range(args.faces):
        face = make_face(seed)
        pre = prelabel_to_rough(baseline_maps(face.image), levels)
        scene = Scene(face, compute_textures(face.image, params), params, pre)
        for cls in CLASSES:
            for name, strat in STRATEGIES.items():
                rows.append(
                    {"face": seed, "class": cls, "strategy": name}
                    | run(scene, cls, strat, args.target)
                )
    print(
        f"effort to reach IoU {args.target:g} vs the known masks, {args.faces} synthetic "
        "faces 768x640, default GT parameters; mean per face (reached/faces)"
    )
    print(
        f"{'class':>8} {'strategy':>9} {'actions':>8} {'painted px':>11} {'steering':>9} "
        f"{'IoU':>6} {'reached':>8}"
    )
    summary = []
    for cls in CLASSES:
        for name in STRATEGIES:
            sel = [r for r in rows if r["class"] == cls and r["strategy"] == name]
            s = {
                "class": cls,
                "strategy": name,
                "actions": float(np.mean([r["actions"] for r in sel])),
                "painted_px": float(np.mean([r["painted_px"] for r in sel])),
                "steering": float(np.mean([r["steering"] for r in sel])),
                "iou": float(np.mean([r["iou"] for r in sel])),
                "reached": sum(r["reached"] for r in sel),
                "structures": float(np.mean([r["structures"] for r in sel])),
            }
            summary.append(s)
            print(
                f"{cls:>8} {name:>9} {s['actions']:8.1f} {s['painted_px']:11.0f} "
                f"{s['steering']:9.0f} {s['iou']:6.3f} {s['reached']:>4}/{len(sel)}"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
