"""Texture-map speed: Eq. 1 and Eq. 2 for a 768×640 and a 6000×4000 RGB image.

Self-contained (synthetic data, no network). Prints medians and writes
bench-results/bench_texture.json. Target (issue #2): both maps for 768×640 under 10 ms.

    .venv/bin/python benchmarks/bench_texture.py [--repeat N] [--threads T]
    .venv/bin/python benchmarks/bench_texture.py --ab   # calibrated vs the old fixed maps

``--ab`` times, interleaved in one run, the maps as they were before calibrated
thresholds (full resolution, σ 5, fixed Th 8, no wrinkle rule) against
``compute_textures(image, GTParams())`` (working level, both calibrated thresholds), in
process CPU time with one OpenCV thread: a ratio that holds on a loaded, shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.demo.synthetic import make_face  # noqa: E402
from core.gt.engine import GTParams, compute_textures  # noqa: E402
from core.gt.texture import (  # noqa: E402
    DEFAULT_PORE_THRESHOLD,
    pore_texture,
    to_gray,
    working_level,
    wrinkle_texture,
)

SIZES = {"768x640": (640, 768), "6000x4000": (4000, 6000)}


def _image(shape: tuple[int, int]) -> np.ndarray:
    face = make_face(0)
    if shape == face.shape:
        return np.array(face.image)
    return cv2.resize(face.image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm-up (allocations, OpenCV dispatch)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _ab(repeat: int) -> dict[str, dict[str, float]]:
    from core.gt.texture import pore_response, wrinkle_texture_from_gray

    cv2.setNumThreads(1)

    def fixed_full_resolution(img: np.ndarray) -> None:
        """compute_textures as it was before calibrated thresholds (same code)."""
        gray = to_gray(img)
        wrinkle_texture_from_gray(gray, sigma=5.0)
        t = pore_response(gray).astype(np.float32, copy=True)
        t[~(t > np.float32(DEFAULT_PORE_THRESHOLD))] = 0.0

    out = {}
    print("CPU ms (1 OpenCV thread), median, interleaved: old fixed full-res maps vs default")
    for label, shape in SIZES.items():
        img = _image(shape)
        n = repeat or (60 if shape[0] * shape[1] < 2e6 else 7)
        old, new = [], []
        for _ in range(n):
            t0 = time.process_time()
            fixed_full_resolution(img)
            t1 = time.process_time()
            compute_textures(img, GTParams())
            t2 = time.process_time()
            old.append(t1 - t0)
            new.append(t2 - t1)
        row = {
            "old_ms": statistics.median(old) * 1e3,
            "new_ms": statistics.median(new) * 1e3,
        }
        row["ratio"] = row["new_ms"] / row["old_ms"]
        out[label] = row
        print(
            f"{label:>10}  old {row['old_ms']:8.2f}  new {row['new_ms']:8.2f}  "
            f"new/old {row['ratio']:.2f}"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=0, help="repetitions (default: by size)")
    ap.add_argument("--threads", type=int, default=2, help="OpenCV threads (default 2)")
    ap.add_argument("--out", default="bench-results/bench_texture.json")
    ap.add_argument("--ab", action="store_true", help="calibrated vs old fixed maps, CPU time")
    args = ap.parse_args()
    if args.ab:
        data = _ab(args.repeat)
        out = Path(args.out.replace(".json", "_ab.json"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {out}")
        return
    cv2.setNumThreads(args.threads)
    params = GTParams()
    results: dict[str, dict[str, float]] = {}
    print(
        f"texture maps, σ={params.sigma:g}, Eq. 2 Th={DEFAULT_PORE_THRESHOLD:g} (both*: "
        f"calibrated Th), at the working level, OpenCV threads={cv2.getNumThreads()}, median ms"
    )
    print(
        f"{'size':>10} {'level':>5} {'gray':>8} {'Eq.1':>8} {'Eq.2':>8} {'both*':>8} {'target':>8}"
    )
    for label, shape in SIZES.items():
        img = _image(shape)
        level = working_level(shape)
        repeat = args.repeat or (50 if shape[0] * shape[1] < 2e6 else 7)
        row = {
            "level": level,
            "gray_ms": _median_ms(lambda img=img: to_gray(img), repeat),
            "wrinkle_ms": _median_ms(
                lambda img=img, lv=level: wrinkle_texture(img, sigma=params.sigma, level=lv),
                repeat,
            ),
            "pore_ms": _median_ms(
                lambda img=img, lv=level: pore_texture(
                    img, threshold=DEFAULT_PORE_THRESHOLD, level=lv
                ),
                repeat,
            ),
            "both_ms": _median_ms(lambda img=img: compute_textures(img, params), repeat),
            "repeat": repeat,
        }
        results[label] = row
        target = "<10" if label == "768x640" else "-"
        print(
            f"{label:>10} {level:>5} {row['gray_ms']:8.2f} {row['wrinkle_ms']:8.2f} "
            f"{row['pore_ms']:8.2f} {row['both_ms']:8.2f} {target:>8}"
        )
    print(
        "* both = compute_textures(GTParams()): one gray conversion and pyramid shared by "
        "Eq. 1 and Eq. 2, plus the per-image pore threshold"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "opencv_threads": cv2.getNumThreads(),
        "params": params.to_dict(),
    }
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
