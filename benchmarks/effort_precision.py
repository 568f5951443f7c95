"""Annotation effort with and without the precision tools (issue #14), on generated faces.

A simulated annotator works on synthetic faces whose true wrinkle and pore masks are
known, one stroke at a time, until the GT (rough × texture, the document's own) reaches
IoU 0.8 against the true mask of the class. It counts strokes (one press-drag-release,
one click, one box or one finished polyline: one undo step each) and the painted rough
area. Its hand is imperfect: clicks land up to ``CLICK_JITTER`` px off, and a dragged
pointer wanders smoothly up to ``DRAG_WOBBLE`` px beside the line it follows.

Strategies (``STRATEGIES``; each is a generator that makes one stroke per step):

pores
    ``brush dabs``      a brush dab (radius 4) on each pore
    ``pore clicks``     the pore picker: one click on each pore
    ``brush sweeps``    rough × texture the paper's way: radius-16 sweeps over the pore zone
    ``pore boxes``      the pore picker's Shift+drag: 128-px boxes over the pore zone
wrinkles
    ``brush trace``     drag a radius-3 brush along each wrinkle, then retrace the ones
                        that stay under 90 % covered (up to 3 passes)
    ``wide brush trace`` the same with a radius-6 brush that absorbs the wobble
    ``snapped trace``   the radius-3 drags with centreline snapping on
    ``snapped polyline`` a polyline clicked every ~40 px along each wrinkle, Enter

    .venv/bin/python benchmarks/effort_precision.py [--faces 3] [--size 640x768]

These functions are plain (numpy + core); benchmarks/bench_effort.py can import
``STRATEGIES`` and ``run_strategy`` to put them beside its own annotator models.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from skimage.morphology import skeletonize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.demo.synthetic import SyntheticFace, make_face  # noqa: E402
from core.gt.document import AnnotationDocument  # noqa: E402
from core.gt.engine import GTParams  # noqa: E402
from core.gt.metrics import iou  # noqa: E402
from core.tools import CentrelineSnapper, PoreFinder, blob_region, snap_polyline  # noqa: E402

TARGET = 0.8
CLICK_JITTER = 1.5  # px
DRAG_WOBBLE = 3.0  # px
DRAG_STEP = 4.0  # px between mouse events
MAX_STROKES = 2000

Strategy = Callable[[AnnotationDocument, SyntheticFace, np.random.Generator], Iterator[None]]


# ----------------------------------------------------------------------------- geometry


def _pore_centres(face: SyntheticFace, rng: np.random.Generator) -> np.ndarray:
    _, _, _, centres = cv2.connectedComponentsWithStats(face.pore.astype(np.uint8))
    pts = centres[1:, ::-1]  # (row, col)
    return pts[rng.permutation(len(pts))]


def _jitter(rng: np.random.Generator, r: float, c: float) -> tuple[float, float]:
    angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0, CLICK_JITTER)
    return r + dist * np.sin(angle), c + dist * np.cos(angle)


def _wrinkle_paths(face: SyntheticFace) -> list[np.ndarray]:
    """Each labelled wrinkle's centreline as ordered (row, col) points, longest first."""
    count, labels = cv2.connectedComponents(face.wrinkle.astype(np.uint8), connectivity=8)
    paths = []
    for i in range(1, count):
        pts = np.argwhere(skeletonize(labels == i)).astype(np.float64)
        if len(pts) < 4:
            continue
        centred = pts - pts.mean(0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        pts = pts[np.argsort(centred @ axis)]
        keep = [pts[0]]
        for p in pts[1:]:
            if np.hypot(*(p - keep[-1])) >= DRAG_STEP:
                keep.append(p)
        keep.append(pts[-1])
        paths.append(np.array(keep))
    paths.sort(key=len, reverse=True)
    return paths


def _wobbly(path: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The pointer's path: the line moved sideways by a smooth offset of up to DRAG_WOBBLE."""
    if len(path) < 2:
        return path
    tangent = np.gradient(path, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    t = np.arange(len(path)) * DRAG_STEP
    phase, wavelength = rng.uniform(0, 2 * np.pi), rng.uniform(40, 90)
    offset = DRAG_WOBBLE * np.sin(phase + 2 * np.pi * t / wavelength)
    return path + normal * offset[:, None]


def _zone_boxes(face: SyntheticFace, side: int) -> list[tuple[int, int, int, int]]:
    zone = face.regions["pore_zone"]
    m, n = zone.shape
    out = []
    for r in range(0, m, side):
        for c in range(0, n, side):
            if zone[r : r + side, c : c + side].any():
                out.append((r, c, min(m, r + side) - 1, min(n, c + side) - 1))
    return out


# ----------------------------------------------------------------------------- strategies


def brush_dabs(doc, face, rng) -> Iterator[None]:
    for r, c in _pore_centres(face, rng):
        doc.begin_stroke("pore", radius=4.0)
        doc.stroke_to(*_jitter(rng, r, c))
        doc.end_stroke()
        yield


def pore_clicks(doc, face, rng) -> Iterator[None]:
    finder = PoreFinder(doc.image)
    for r, c in _pore_centres(face, rng):
        blob = finder.at(*_jitter(rng, r, c))
        hit = None if blob is None else blob_region(doc.shape, [blob])
        if hit is not None:
            doc.add_region("pore", *hit, label="pore")
        yield  # a click that finds nothing still cost the annotator a click


def brush_sweeps(doc, face, rng) -> Iterator[None]:
    zone = face.regions["pore_zone"]
    radius, gap = 16.0, 28
    for r in range(radius.__int__(), zone.shape[0], gap):
        cols = np.flatnonzero(zone[r])
        if cols.size == 0:
            continue
        # one sweep per run of zone pixels on this row
        breaks = np.flatnonzero(np.diff(cols) > 1)
        for a, b in zip(np.r_[0, breaks + 1], np.r_[breaks, cols.size - 1], strict=True):
            doc.begin_stroke("pore", radius=radius)
            for c in np.arange(cols[a], cols[b] + 1, DRAG_STEP):
                doc.stroke_to(r + rng.normal(0, 1.0), c)
            doc.end_stroke()
            yield


def pore_boxes(doc, face, rng) -> Iterator[None]:
    finder = PoreFinder(doc.image)
    for box in _zone_boxes(face, 128):
        blobs = finder.in_box(*box, texture=doc.textures["pore"])
        hit = blob_region(doc.shape, blobs)
        if hit is not None:
            doc.add_region("pore", *hit, label=f"{len(blobs)} pores")
        yield


def _coverage(doc, face, path: np.ndarray) -> float:
    rr = np.clip(np.rint(path[:, 0]).astype(int), 0, doc.shape[0] - 1)
    cc = np.clip(np.rint(path[:, 1]).astype(int), 0, doc.shape[1] - 1)
    return float(doc.rough("wrinkle")[rr, cc].mean())


def _trace(snap: bool, radius: float = 3.0) -> Strategy:
    def strategy(doc, face, rng) -> Iterator[None]:
        snapper = CentrelineSnapper(doc.image, fallback_radius=radius) if snap else None
        paths = _wrinkle_paths(face)
        todo = list(range(len(paths)))
        for _ in range(4):  # the first pass and up to 3 retraces
            for i in todo:
                doc.begin_stroke("wrinkle", radius=radius)
                for r, c in _wobbly(paths[i], rng):
                    if snapper is None:
                        doc.stroke_to(r, c)
                    else:
                        p = snapper.snap(r, c)
                        doc.stroke_to(p.row, p.col, radius=p.radius)
                doc.end_stroke()
                yield
            todo = [i for i in todo if _coverage(doc, face, paths[i]) < 0.9]
            if not todo:
                return

    return strategy


def snapped_polyline(doc, face, rng) -> Iterator[None]:
    snapper = CentrelineSnapper(doc.image, fallback_radius=3.0)
    for path in _wrinkle_paths(face):
        every = max(1, int(40 / DRAG_STEP))
        idx = sorted({*range(0, len(path), every), len(path) - 1})
        clicks = [_jitter(rng, *path[i]) for i in idx]
        # a clicked vertex is off by up to the wobble too (sideways, like the drag)
        clicks = [tuple(p) for p in _wobbly(np.array(clicks), rng)] if len(clicks) > 1 else clicks
        doc.begin_stroke("wrinkle", radius=3.0)
        for p in snap_polyline(snapper, clicks):
            doc.stroke_to(p.row, p.col, radius=p.radius)
        doc.end_stroke()
        yield


STRATEGIES: dict[str, tuple[str, Strategy]] = {
    "brush dabs": ("pore", brush_dabs),
    "pore clicks": ("pore", pore_clicks),
    "brush sweeps": ("pore", brush_sweeps),
    "pore boxes": ("pore", pore_boxes),
    "brush trace": ("wrinkle", _trace(snap=False)),
    "wide brush trace": ("wrinkle", _trace(snap=False, radius=6.0)),
    "snapped trace": ("wrinkle", _trace(snap=True)),
    "snapped polyline": ("wrinkle", snapped_polyline),
}


def run_strategy(name: str, face: SyntheticFace, *, seed: int = 0) -> dict:
    """Strokes until GT IoU >= TARGET (None if never), final IoU and painted rough area."""
    cls, strategy = STRATEGIES[name]
    doc = AnnotationDocument(face.image, params=GTParams())
    rng = np.random.default_rng(seed)
    truth = face.masks[cls]
    strokes, reached, score = 0, None, 0.0
    for _ in strategy(doc, face, rng):
        strokes += 1
        score = iou(truth, doc.gt(cls))
        if reached is None and score >= TARGET:
            reached = strokes
            break
        if strokes >= MAX_STROKES:
            break
    return {
        "strategy": name,
        "class": cls,
        "strokes_to_target": reached,
        "strokes": strokes,
        "iou": score,
        "painted_px": int(doc.rough(cls).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=3, help="generated faces (default 3)")
    ap.add_argument("--size", default="640x768", help="rows x cols (default 640x768)")
    ap.add_argument("--out", default="bench-results/effort_precision.json")
    args = ap.parse_args()
    rows, cols = (int(v) for v in args.size.lower().split("x"))
    faces = [make_face(100 + i, shape=(rows, cols)) for i in range(args.faces)]
    results = {
        name: [run_strategy(name, f, seed=i) for i, f in enumerate(faces)] for name in STRATEGIES
    }
    print(f"strokes to GT IoU {TARGET} on {len(faces)} generated faces {rows}x{cols} (median)")
    print(
        f"{'strategy':<18} {'class':<8} {'strokes':>8} {'reached':>8} {'IoU':>6} {'painted px':>11}"
    )
    summary = {}
    for name, runs in results.items():
        hits = [r["strokes_to_target"] for r in runs if r["strokes_to_target"] is not None]
        med = statistics.median(hits) if hits else None
        summary[name] = {
            "class": runs[0]["class"],
            "median_strokes_to_target": med,
            "reached": f"{len(hits)}/{len(runs)}",
            "median_iou_at_stop": statistics.median(r["iou"] for r in runs),
            "median_painted_px": statistics.median(r["painted_px"] for r in runs),
        }
        s = summary[name]
        strokes = "-" if med is None else f"{med:g}"
        print(
            f"{name:<18} {s['class']:<8} {strokes:>8} {s['reached']:>8} "
            f"{s['median_iou_at_stop']:6.3f} {s['median_painted_px']:11.0f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "runs": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
