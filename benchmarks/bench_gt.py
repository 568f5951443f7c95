"""Incremental GT update vs full recompute (issue #2), and the GT-parameter sweep.

Self-contained (synthetic data, no network). Prints medians and ratios and writes
bench-results/bench_gt.json. Targets: a 32-px dab under 0.5 ms; incremental at least
50× faster than a full recompute for a dab at 6000×4000.

    .venv/bin/python benchmarks/bench_gt.py            # timings
    .venv/bin/python benchmarks/bench_gt.py --sweep    # IoU of GT vs known masks over σ, thresholds

"Full recompute" is what a document without dirty rectangles would do after each
change: ``gt_from_rough`` of the painted class over the whole image, texture maps
cached (the cheapest possible full update; recomputing textures too would be slower).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.demo.synthetic import make_face  # noqa: E402
from core.gt.document import AnnotationDocument  # noqa: E402
from core.gt.engine import GTParams, compute_gt, gt_from_rough  # noqa: E402
from core.gt.texture import pore_response, to_gray, wrinkle_texture_from_gray  # noqa: E402

SIZES = {"768x640": (640, 768), "6000x4000": (4000, 6000)}
DAB_RADIUS = 16.0  # a 32-px brush
STROKE_LEN = 200.0  # pixels
STROKE_STEP = 4.0  # pixels between mouse events


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def _doc(shape: tuple[int, int]) -> AnnotationDocument:
    face = make_face(0)
    img = np.array(face.image)
    rough = dict(face.rough)
    if shape != face.shape:
        img = cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        rough = {
            k: cv2.resize(v.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
            > 0
            for k, v in rough.items()
        }
    return AnnotationDocument(img, params=GTParams(), rough=rough)


def _positions(rng: np.random.Generator, shape: tuple[int, int], n: int, margin: float):
    rows = rng.uniform(margin, shape[0] - margin, n)
    cols = rng.uniform(margin, shape[1] - margin, n)
    return list(zip(rows, cols, strict=True))


def bench_size(label: str, shape: tuple[int, int], repeat: int) -> dict[str, float]:
    doc = _doc(shape)
    rng = np.random.default_rng(1)
    # one dab: the stroke_to call a mouse press makes (rough + GT of the dirty rect)
    dab, dab_end = [], []
    for r, c in _positions(rng, shape, repeat, DAB_RADIUS + 1):
        doc.begin_stroke("wrinkle", radius=DAB_RADIUS)
        t0 = time.perf_counter()
        doc.stroke_to(r, c)
        t1 = time.perf_counter()
        doc.end_stroke()
        t2 = time.perf_counter()
        dab.append(t1 - t0)
        dab_end.append(t2 - t0)
    # a 200-px stroke: press, 50 moves, release (one undo step)
    stroke = []
    steps = int(STROKE_LEN / STROKE_STEP)
    for r, c in _positions(rng, shape, max(5, repeat // 10), STROKE_LEN + DAB_RADIUS + 1):
        ang = rng.uniform(0, 2 * np.pi)
        t0 = time.perf_counter()
        doc.begin_stroke("pore", radius=DAB_RADIUS)
        for k in range(steps + 1):
            d = k * STROKE_STEP
            doc.stroke_to(r + d * np.sin(ang), c + d * np.cos(ang))
        doc.end_stroke()
        stroke.append(time.perf_counter() - t0)
    # full recompute of one class's GT (textures cached), and of both classes
    p = doc.params
    tex = doc.textures
    rough = doc.rough("wrinkle")
    full, full_both = [], []
    for _ in range(max(3, repeat // 20)):
        t0 = time.perf_counter()
        th = tex.threshold("wrinkle", p)  # 0 when calibrated: the map holds the rule
        gt_from_rough(tex.wrinkle, rough, threshold=th, gain=p.wrinkle_gain)
        full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        compute_gt(tex, {"wrinkle": rough, "pore": doc.rough("pore")}, p)
        full_both.append(time.perf_counter() - t0)
    # correctness guard: the incremental result equals a full recompute
    ref = compute_gt(tex, {c: doc.rough(c) for c in ("wrinkle", "pore")}, p)
    assert all(np.array_equal(ref[c], doc.gt(c)) for c in ("wrinkle", "pore"))
    row = {
        "dab_ms": _median_ms(dab),
        "dab_with_end_stroke_ms": _median_ms(dab_end),
        "stroke200_ms": _median_ms(stroke),
        "full_class_ms": _median_ms(full),
        "full_both_ms": _median_ms(full_both),
    }
    row["ratio_full_over_dab"] = row["full_class_ms"] / row["dab_ms"]
    row["ratio_full_over_dab_with_end"] = row["full_class_ms"] / row["dab_with_end_stroke_ms"]
    # a naive stroke recomputes the full class GT at each of its 51 events
    row["ratio_naive_over_stroke200"] = row["full_class_ms"] * (steps + 1) / row["stroke200_ms"]
    return row


def run_timings(args) -> dict:
    results = {}
    print(f"incremental GT (32-px brush), OpenCV threads={cv2.getNumThreads()}, median ms")
    hdr = f"{'size':>10} {'dab':>8} {'dab+end':>8} {'stroke200':>10} {'full(1cls)':>11} {'full(2cls)':>11} {'full/dab':>9} {'naive/stroke':>13}"
    print(hdr)
    for label, shape in SIZES.items():
        repeat = args.repeat or 200
        r = bench_size(label, shape, repeat)
        results[label] = r
        print(
            f"{label:>10} {r['dab_ms']:8.3f} {r['dab_with_end_stroke_ms']:8.3f} "
            f"{r['stroke200_ms']:10.2f} {r['full_class_ms']:11.2f} {r['full_both_ms']:11.2f} "
            f"{r['ratio_full_over_dab']:8.0f}× {r['ratio_naive_over_stroke200']:12.1f}×"
        )
    print("targets: dab < 0.5 ms; full/dab ≥ 50× at 6000x4000")
    return results


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def run_sweep(args) -> dict:
    """IoU of GT (simulated rough masks × thresholded texture) vs the known masks."""
    faces = [make_face(s) for s in range(args.faces)]
    grays = [to_gray(f.image) for f in faces]
    sigmas = [2.0, 3.0, 4.0, 5.0, 6.0, 8.0]
    w_ths = [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0]
    p_ths = [1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0]
    wrinkle = {}
    print(f"wrinkle IoU, mean of {len(faces)} faces (rows σ, columns threshold)")
    print("   σ " + " ".join(f"{t:6g}" for t in w_ths))
    for s in sigmas:
        maps = [wrinkle_texture_from_gray(g, sigma=s) for g in grays]
        row = [
            float(
                np.mean(
                    [
                        _iou((m > t) & f.rough_wrinkle, f.wrinkle)
                        for m, f in zip(maps, faces, strict=True)
                    ]
                )
            )
            for t in w_ths
        ]
        wrinkle[str(s)] = dict(zip(map(str, w_ths), row, strict=True))
        print(f"{s:4g} " + " ".join(f"{v:6.3f}" for v in row))
    print("pore IoU by Th")
    ts = [pore_response(g) for g in grays]
    pore = {}
    for th in p_ths:
        v = float(
            np.mean([_iou((t > th) & f.rough_pore, f.pore) for t, f in zip(ts, faces, strict=True)])
        )
        pore[str(th)] = v
        print(f"  Th={th:4g}  IoU={v:.3f}")
    d = GTParams()
    final = [compute_gt(f.image, f.rough, d) for f in faces]
    at_default = {
        c: [round(_iou(g[c] > 0, f.masks[c]), 3) for g, f in zip(final, faces, strict=True)]
        for c in ("wrinkle", "pore")
    }
    rough_only = [round(_iou(f.rough_wrinkle, f.wrinkle), 3) for f in faces]
    print(
        f"defaults {d.to_dict()}: IoU per face {at_default}; rough mask alone (wrinkle) {rough_only}"
    )
    return {"wrinkle": wrinkle, "pore": pore, "defaults": at_default, "rough_only": rough_only}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="OpenCV threads (default 2)")
    ap.add_argument("--sweep", action="store_true", help="run the parameter sweep instead")
    ap.add_argument("--faces", type=int, default=8, help="synthetic faces in the sweep")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    if args.sweep:
        data = run_sweep(args)
        out = Path(args.out or "bench-results/gt_sweep.json")
    else:
        data = run_timings(args)
        out = Path(args.out or "bench-results/bench_gt.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"cpu_count": os.cpu_count(), "opencv_threads": cv2.getNumThreads()}
    out.write_text(json.dumps({"meta": meta, "results": data}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
