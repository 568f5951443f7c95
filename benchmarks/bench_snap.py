"""Precision tools: snapping per mouse move, pore click and box select (issue #14).

Self-contained (synthetic faces scaled to each size, no network). Prints medians and
p90 and writes bench-results/bench_snap.json. Target: a snapped brush move (snap + the
document's dab and incremental GT) under 16 ms at 6000×4000, the same target as live GT.

    .venv/bin/python benchmarks/bench_snap.py
    .venv/bin/python benchmarks/bench_snap.py --real   # also accuracy on ../shared/real

With ``--real`` it also measures, on the real faces with human labels (when the folder
is there; it says so when not): the share of human-labelled pores that one click on
them finds, and, with the pointer 3 px beside a human wrinkle label (perpendicular to
it), the share of snapped points within 1.5 px of the label's centreline against the
share of unsnapped pointer points.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.morphology import skeletonize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.demo.synthetic import make_face  # noqa: E402
from core.gt.document import AnnotationDocument  # noqa: E402
from core.gt.engine import GTParams  # noqa: E402
from core.tools import CentrelineSnapper, PoreFinder, blob_region  # noqa: E402

SIZES = {"768x640": (640, 768), "6000x4000": (4000, 6000)}
REAL = ROOT.parent / "shared" / "real"
STEP = 4.0  # pixels between mouse events at 1:1


def _ms(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s) * 1e3, s[int(0.9 * (len(s) - 1))] * 1e3


def _face(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    face = make_face(0)
    img, wr, po = np.array(face.image), np.array(face.wrinkle), np.array(face.pore)
    if shape != face.shape:
        size = (shape[1], shape[0])
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
        wr = cv2.resize(wr.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        po = cv2.resize(po.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return img, wr, po


def _wrinkle_path(wrinkle: np.ndarray, n: int) -> list[tuple[float, float]]:
    """Pointer positions 3 px beside the longest labelled wrinkle, STEP px apart."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(wrinkle.astype(np.uint8))
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    rows, cols = np.nonzero(labels == big)
    order = np.argsort(cols)
    rows, cols = rows[order], cols[order]
    path, last = [], None
    for r, c in zip(rows, cols, strict=True):
        if last is None or np.hypot(r - last[0], c - last[1]) >= STEP:
            path.append((float(r) - 3.0, float(c)))
            last = (r, c)
    while len(path) < n:  # walk back and forth for long runs
        path += path[::-1]
    return path[:n]


def bench_size(label: str, shape: tuple[int, int], moves: int) -> dict:
    img, wrinkle, pore = _face(shape)
    t0 = time.perf_counter()
    doc = AnnotationDocument(img, params=GTParams())
    open_s = time.perf_counter() - t0
    snapper = CentrelineSnapper(img, fallback_radius=3.0)
    path = _wrinkle_path(wrinkle, moves)
    snap_t, move_t, plain_t, snapped = [], [], [], 0
    doc.begin_stroke("wrinkle", radius=3.0)
    for r, c in path:
        t0 = time.perf_counter()
        p = snapper.snap(r, c)
        t1 = time.perf_counter()
        doc.stroke_to(p.row, p.col, radius=p.radius)
        t2 = time.perf_counter()
        snap_t.append(t1 - t0)
        move_t.append(t2 - t0)
        snapped += p.snapped
    doc.end_stroke()
    doc.undo()
    doc.begin_stroke("wrinkle", radius=3.0)
    for r, c in path:
        t0 = time.perf_counter()
        doc.stroke_to(r, c)
        plain_t.append(time.perf_counter() - t0)
    doc.end_stroke()
    finder = PoreFinder(img)
    _, _, _, centres = cv2.connectedComponentsWithStats(pore.astype(np.uint8))
    click_t = []
    for c, r in centres[1:201]:
        t0 = time.perf_counter()
        blob = finder.at(r, c)
        if blob is not None:
            hit = blob_region(doc.shape, [blob])
            if hit is not None:
                doc.add_region("pore", *hit)
        click_t.append(time.perf_counter() - t0)
    box = {}
    for side in (256, 1024):
        r0, c0 = (
            int(np.median(centres[1:, 1])) - side // 2,
            int(np.median(centres[1:, 0])) - side // 2,
        )
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            blobs = finder.in_box(r0, c0, r0 + side - 1, c0 + side - 1, texture=doc.textures.pore)
            hit = blob_region(doc.shape, blobs)
            times.append(time.perf_counter() - t0)
        box[f"box{side}_ms"] = statistics.median(times) * 1e3
        box[f"box{side}_blobs"] = len(blobs)
    snap_med, snap_p90 = _ms(snap_t)
    move_med, move_p90 = _ms(move_t)
    plain_med, _ = _ms(plain_t)
    click_med, click_p90 = _ms(click_t)
    return {
        "size": label,
        "open_s": open_s,
        "moves": len(path),
        "snapped_share": snapped / len(path),
        "snap_ms": snap_med,
        "snap_p90_ms": snap_p90,
        "snapped_move_ms": move_med,
        "snapped_move_p90_ms": move_p90,
        "plain_move_ms": plain_med,
        "click_ms": click_med,
        "click_p90_ms": click_p90,
        **box,
    }


def _beside(skeleton: np.ndarray, offset: float) -> list[tuple[int, int, float, float]]:
    """Every 5th centreline pixel and a pointer ``offset`` px beside it, perpendicular to
    the local line direction (alternating sides)."""
    out = []
    for k, (r, c) in enumerate(np.argwhere(skeleton)[::5]):
        win = np.argwhere(skeleton[max(0, r - 4) : r + 5, max(0, c - 4) : c + 5]).astype(float)
        if len(win) < 4:
            continue
        direction = np.linalg.svd(win - win.mean(0), full_matrices=False)[2][0]
        side = offset if k % 2 else -offset
        out.append((int(r), int(c), r - side * direction[1], c + side * direction[0]))
    return out


def real_accuracy() -> dict:
    """Pore clicks and wrinkle snapping on the real faces with human labels."""
    from core.imageio import load_image, load_mask

    out: dict = {}
    pores_dir = REAL / "porenet_left"
    if (pores_dir / "image.png").is_file():
        img = load_image(pores_dir / "image.png").pixels
        label = load_mask(pores_dir / "pores.png")
        finder = PoreFinder(img)
        _, lab, _, centres = cv2.connectedComponentsWithStats(label.astype(np.uint8))
        found = 0
        for i, (c, r) in enumerate(centres[1:], 1):
            blob = finder.at(r, c)
            if blob is not None and lab[int(blob.row), int(blob.col)] == i:
                found += 1
        out["pore_click_found"] = found / max(len(centres) - 1, 1)
        out["pores"] = len(centres) - 1
    else:
        print(f"  {pores_dir} is absent: real pore figures skipped")
    wr_dir = REAL / "ffhq256"
    if (wr_dir / "images").is_dir():
        on = base = total = 0
        for path in sorted((wr_dir / "images").glob("*.png")):
            img = load_image(path).pixels
            skeleton = skeletonize(load_mask(wr_dir / "labels" / path.name))
            dist = cv2.distanceTransform((~skeleton).astype(np.uint8), cv2.DIST_L2, 5)
            snapper = CentrelineSnapper(img)
            for _r, _c, pr, pc in _beside(skeleton, 3.0):
                if not (0 <= pr <= img.shape[0] - 1 and 0 <= pc <= img.shape[1] - 1):
                    continue
                p = snapper.snap(pr, pc)
                total += 1
                on += bool(dist[int(round(p.row)), int(round(p.col))] <= 1.5)
                base += bool(dist[int(round(pr)), int(round(pc))] <= 1.5)
        out["wrinkle_snapped_within_1.5px"] = on / max(total, 1)
        out["wrinkle_pointer_within_1.5px"] = base / max(total, 1)
        out["wrinkle_points"] = total
    else:
        print(f"  {wr_dir} is absent: real wrinkle figures skipped")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=300, help="mouse moves per size (default 300)")
    ap.add_argument("--threads", type=int, default=2, help="OpenCV threads (default 2)")
    ap.add_argument("--real", action="store_true", help="also measure accuracy on real faces")
    ap.add_argument("--out", default="bench-results/bench_snap.json")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    results = []
    print(f"precision tools, OpenCV threads={cv2.getNumThreads()}, median ms (p90)")
    print(
        f"{'size':>10} {'snap':>12} {'snap+dab+GT':>14} {'plain dab':>10} {'pore click':>12}"
        f" {'box 256²':>9} {'box 1024²':>10} {'snapped':>8}"
    )
    for label, shape in SIZES.items():
        r = bench_size(label, shape, args.moves)
        results.append(r)
        print(
            f"{label:>10} {r['snap_ms']:6.2f} ({r['snap_p90_ms']:4.2f}) "
            f"{r['snapped_move_ms']:7.2f} ({r['snapped_move_p90_ms']:4.2f}) "
            f"{r['plain_move_ms']:10.3f} {r['click_ms']:6.2f} ({r['click_p90_ms']:4.2f}) "
            f"{r['box256_ms']:9.1f} {r['box1024_ms']:10.1f} {r['snapped_share']:8.0%}"
        )
    print("target: snap+dab+GT < 16 ms per mouse move at 6000x4000")
    data: dict = {"sizes": results}
    if args.real:
        data["real"] = real_accuracy()
        for k, v in data["real"].items():
            print(f"  real: {k} = {v:.3f}" if isinstance(v, float) else f"  real: {k} = {v}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
