"""GT from rough masks on real, human-labelled faces (issue #9): IoU per rule and setting.

Reads ``../shared/real`` relative to the repository root (override with ``--real``):
``porenet_left/`` (a real face with a human pore label and a skin-region mask) and
``ffhq256/`` (7 faces with wrinkle line labels). Those files are never copied into the
project. When the folder is absent the real rows are skipped with a clear message and
only the synthetic rows run.

Rough masks are made the way an annotator paints them: the skin region for pores (scored
inside it), generous strokes for wrinkles (the label dilated by ``--stroke-margin`` px).
GT is ``compute_gt(image, rough, params) > 0``; the score is IoU against the human label.

    .venv/bin/python benchmarks/bench_real_gt.py            # tables, JSON in bench-results/
    .venv/bin/python benchmarks/bench_real_gt.py --real /path/to/real

A synthetic face drawn at 6000×4000 (``--large``) compares the working level with the
full-resolution filters and fixed thresholds used before.

Rows: the default (calibrated pore Th, σ and pyramid at the working level) and fixed
thresholds. Pore variants check that the rule follows the image: the photo dimmed to 60 %
exposure, re-saved as JPEG quality 80, and upscaled 2× (a higher-resolution photo of the
same face, filtered at pyramid level 1; "level 0" forces full-resolution filtering).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.demo import synthetic  # noqa: E402
from core.demo.synthetic import make_face  # noqa: E402
from core.gt.engine import DEFAULT_WRINKLE_THRESHOLD, GTParams, compute_gt, compute_textures  # noqa: E402
from core.gt.texture import (  # noqa: E402
    auto_pore_threshold,
    pore_response,
    to_gray,
    working_level,
    wrinkle_texture_from_gray,
)

DEFAULT_REAL = ROOT.parent / "shared" / "real"
FIXED_PORE_TH = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
FIXED_WRINKLE_TH = (2.0, 5.0, 10.0, 15.0, 20.0, 30.0)


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """IoU of two boolean masks (1.0 when both are empty)."""
    union = int((pred | truth).sum())
    return 1.0 if union == 0 else float((pred & truth).sum() / union)


def _rgb(path: Path) -> np.ndarray:
    a = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if a is None:
        raise SystemExit(f"{path}: cannot be read as an image")
    return np.ascontiguousarray(a[:, :, ::-1])


def _mask(path: Path) -> np.ndarray:
    a = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if a is None:
        raise SystemExit(f"{path}: cannot be read as a mask")
    return a > 127


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])


def _pore_gt(image: np.ndarray, roi: np.ndarray, params: GTParams) -> np.ndarray:
    return compute_gt(image, {"pore": roi}, params)["pore"] > 0


def pore_rows(folder: Path) -> list[dict]:
    """Pore IoU on porenet_left and its variants, per rule."""
    image = _rgb(folder / "image.png")
    roi = _mask(folder / "skin_roi.png")
    label = _mask(folder / "pores.png") & roi
    h, w = roi.shape
    up = (w * 2, h * 2)
    variants = {
        "porenet_left": (image, roi, label),
        "dimmed 60 %": ((image * 0.6).astype(np.uint8), roi, label),
        "JPEG q80": (_jpeg(image, 80), roi, label),
        "upscaled 2x": (
            cv2.resize(image, up, interpolation=cv2.INTER_CUBIC),
            cv2.resize(roi.astype(np.uint8), up, interpolation=cv2.INTER_NEAREST) > 0,
            cv2.resize(label.astype(np.uint8), up, interpolation=cv2.INTER_NEAREST) > 0,
        ),
    }
    rows = []
    for name, (img, rough, truth) in variants.items():
        d = GTParams()
        tex = compute_textures(img, d)
        row: dict = {
            "variant": name,
            "shape": list(img.shape[:2]),
            "level": working_level(img.shape),
            "auto_th": tex.pore_used,
            "default": iou(_pore_gt(img, rough, d), truth),
        }
        for th in FIXED_PORE_TH:
            row[f"Th {th:g}"] = iou(_pore_gt(img, rough, replace(d, pore_threshold=th)), truth)
        if row["level"] > 0:  # the same rule without the working scale
            t0 = pore_response(to_gray(img))
            th0 = auto_pore_threshold(t0)
            row["level 0, auto"] = iou((t0 > th0) & rough, truth)
        rows.append(row)
    return rows


def wrinkle_rows(folder: Path, margin: int) -> list[dict]:
    """Wrinkle IoU on the ffhq256 faces, per threshold (generous strokes as rough masks)."""
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    rows = []
    for path in sorted((folder / "images").glob("*.png")):
        img = _rgb(path)
        truth = _mask(folder / "labels" / path.name)
        rough = cv2.dilate(truth.astype(np.uint8), se) > 0
        d = GTParams()
        row: dict = {"face": path.stem, "rough only": iou(rough, truth)}
        row["chosen"] = compute_textures(img, d).wrinkle_typical
        row["default"] = iou(compute_gt(img, {"wrinkle": rough}, d)["wrinkle"] > 0, truth)
        for th in FIXED_WRINKLE_TH:
            p = replace(d, wrinkle_threshold=th)
            row[f"T {th:g}"] = iou(compute_gt(img, {"wrinkle": rough}, p)["wrinkle"] > 0, truth)
        rows.append(row)
    return rows


@contextlib.contextmanager
def _wrinkle_depth(factor: float) -> Iterator[None]:
    """Draw the labelled wrinkles of ``make_face`` ``factor`` times as deep (fainter)."""
    original = synthetic._Canvas.polyline

    def polyline(self, rows, cols, thickness, depth, *, labelled: bool) -> None:
        scaled = depth * factor if labelled else depth
        original(self, rows, cols, thickness, scaled, labelled=labelled)

    synthetic._Canvas.polyline = polyline  # type: ignore[method-assign]
    try:
        yield
    finally:
        synthetic._Canvas.polyline = original  # type: ignore[method-assign]


def synthetic_rows(faces: int, depth: float = 1.0) -> list[dict]:
    """Synthetic faces: defaults (calibrated thresholds) vs the old fixed 20 / Th 8."""
    rows = []
    old = GTParams(wrinkle_threshold=DEFAULT_WRINKLE_THRESHOLD, pore_threshold=8.0)
    for seed in range(faces):
        with _wrinkle_depth(depth):
            f = make_face(seed)
        gt = compute_gt(f.image, f.rough, GTParams())
        gt_old = compute_gt(f.image, f.rough, old)
        rows.append(
            {
                "face": seed,
                "wrinkle": iou(gt["wrinkle"] > 0, f.wrinkle),
                "wrinkle, 20": iou(gt_old["wrinkle"] > 0, f.wrinkle),
                "pore": iou(gt["pore"] > 0, f.pore),
                "pore, Th 8": iou(gt_old["pore"] > 0, f.pore),
            }
        )
    return rows


def large_rows(shape: tuple[int, int]) -> list[dict]:
    """A synthetic face drawn at a photo's size: working level vs full-resolution filters."""
    face = make_face(0, shape=shape)
    gray = to_gray(face.image)
    rows = []
    gt = compute_gt(face.image, face.rough, GTParams())
    row: dict = {"filters": f"level {working_level(shape)} (default)"}
    for cls in ("wrinkle", "pore"):
        row[cls] = iou(gt[cls] > 0, face.masks[cls])
    rows.append(row)
    # what the filters did before the working level: full resolution, old fixed thresholds
    wrinkle = wrinkle_texture_from_gray(gray, sigma=5.0) > DEFAULT_WRINKLE_THRESHOLD
    pore = pore_response(gray) > 8.0
    rows.append(
        {
            "filters": "level 0, fixed 20 / 8",
            "wrinkle": iou(wrinkle & face.rough_wrinkle, face.wrinkle),
            "pore": iou(pore & face.rough_pore, face.pore),
        }
    )
    return rows


def _table(rows: list[dict], first: str) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r if k != first))
    print(f"{first:>14} " + " ".join(f"{k:>13}" for k in keys))
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k, "")
            cells.append(f"{v:13.3f}" if isinstance(v, float) else f"{v!s:>13}")
        print(f"{r[first]!s:>14} " + " ".join(cells))


def _mean_row(rows: list[dict], first: str) -> dict:
    keys = [k for k in rows[0] if isinstance(rows[0][k], float)]
    return {first: "mean", **{k: float(np.mean([r[k] for r in rows])) for k in keys}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", default=str(DEFAULT_REAL), help="folder of the real faces")
    ap.add_argument("--faces", type=int, default=8, help="synthetic faces")
    ap.add_argument("--stroke-margin", type=int, default=3, help="wrinkle stroke margin, px")
    ap.add_argument("--threads", type=int, default=2, help="OpenCV threads (default 2)")
    ap.add_argument(
        "--large",
        type=int,
        nargs=2,
        metavar=("ROWS", "COLS"),
        default=(4000, 6000),
        help="size of the large synthetic face (default 4000 6000); 0 0 skips it",
    )
    ap.add_argument("--out", default="bench-results/bench_real_gt.json")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    real = Path(args.real)
    results: dict = {"real": str(real)}
    pore_dir, wrinkle_dir = real / "porenet_left", real / "ffhq256"
    if pore_dir.is_dir():
        print(f"pore GT IoU vs the human label inside the skin region ({pore_dir})")
        results["pore"] = pore_rows(pore_dir)
        _table(results["pore"], "variant")
    else:
        print(f"REAL DATA ABSENT: {pore_dir} not found; pore rows skipped")
    if wrinkle_dir.is_dir():
        print(
            f"\nwrinkle GT IoU vs the human line label, rough = label dilated by "
            f"{args.stroke_margin} px ({wrinkle_dir})"
        )
        rows = wrinkle_rows(wrinkle_dir, args.stroke_margin)
        results["wrinkle"] = rows + [_mean_row(rows, "face")]
        _table(results["wrinkle"], "face")
    else:
        print(f"REAL DATA ABSENT: {wrinkle_dir} not found; wrinkle rows skipped")
    for depth in (1.0, 0.7, 0.5):
        what = "as generated" if depth == 1.0 else f"wrinkles {depth:g}× as deep"
        print(f"\nsynthetic faces 0-{args.faces - 1} ({what}): GT IoU vs the known masks")
        rows = synthetic_rows(args.faces, depth)
        results[f"synthetic, depth {depth:g}"] = rows + [_mean_row(rows, "face")]
        _table(results[f"synthetic, depth {depth:g}"], "face")
    if args.large[0] > 0 and args.large[1] > 0:
        h, w = args.large
        print(f"\nsynthetic face 0 drawn at {w}x{h}: GT IoU vs the known masks")
        results["large"] = large_rows((h, w))
        _table(results["large"], "filters")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
