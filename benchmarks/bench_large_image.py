"""Memory per megapixel of a large image: decoding it, and opening it in the window.

Sets :data:`core.imageio.MAX_PIXELS` (issue #17): an image at the limit must open within
the memory of a 16 GB laptop. Each measurement runs in a fresh process and reads the
process's peak resident memory (``VmHWM``), so one size cannot inherit another's peak:

* ``load``: :func:`core.imageio.load_image` of a JPEG (the decoded RGB array);
* ``window``: the real main window (offscreen) opening a project whose only image is
  that JPEG, every layer on, until the image is shown (the time quoted) and its
  pre-label has finished (included in the peak: the window computes it on opening).

A straight line through the sizes gives the cost per megapixel and the fixed part;
the limit follows from the memory budget (``--budget-gb``, default 8 of the 16 GB,
leaving the rest to the system and other programs).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_large_image.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, {root!r})
from pathlib import Path

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

mode, path = sys.argv[1], Path(sys.argv[2])
if mode == "load":
    from core.imageio import load_image
    base = peak_mb()
    t0 = time.perf_counter()
    load_image(path, max_pixels=10**10)
    print(base, peak_mb(), time.perf_counter() - t0)
else:
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    import core.imageio
    core.imageio.MAX_PIXELS = 10**10  # measure above today's limit too
    from app.gui.main_window import MainWindow
    w = MainWindow()
    w.resize(1366, 768)
    w.show()
    app.processEvents()
    base = peak_mb()
    t0 = time.perf_counter()
    assert w.open_project(path)
    deadline = time.monotonic() + 900
    opened = None
    while time.monotonic() < deadline:
        app.processEvents()
        s = w.session
        if opened is None and s is not None and s.current is not None:
            opened = time.perf_counter() - t0  # the image is shown and can be painted
        if opened is not None and not w.prelabels.busy():
            break
        time.sleep(0.01)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    print(base, peak_mb(), opened)
    w.close()
"""


def make_jpeg(path: Path, megapixels: float) -> tuple[int, int]:
    """A smooth face-like JPEG of about ``megapixels`` (4:3), written quickly."""
    import cv2
    import numpy as np

    from core.demo.synthetic import make_face

    rows = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    cols = int(rows * 4 / 3)
    small = np.asarray(make_face(3).image)
    big = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR)
    cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return rows, cols


def measure(mode: str, target: Path) -> tuple[float, float, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(target)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} {target} failed:\n{done.stderr[-2000:]}")
    base, peak, seconds = map(float, done.stdout.split()[-3:])
    return base, peak, seconds


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a x + b``."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    a = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return a, my - a * mx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2, 6 and 12 MP only")
    parser.add_argument("--sizes", type=float, nargs="+", help="megapixels to measure")
    parser.add_argument("--budget-gb", type=float, default=8.0)
    args = parser.parse_args()
    sizes = args.sizes or ([2, 6, 12] if args.quick else [4, 12, 24, 36])
    sys.path.insert(0, str(ROOT))
    from core.imageio import MAX_PIXELS
    from core.project import Project

    results: dict[str, object] = {"sizes_mp": sizes, "budget_gb": args.budget_gb}
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        for mp in sizes:
            src = Path(tmp) / f"src{mp:g}"
            src.mkdir()
            rows, cols = make_jpeg(src / "big.jpg", mp)
            real_mp = rows * cols / 1e6
            project = Path(tmp) / f"p{mp:g}"
            with Project.create(project) as p:
                for _ in p.import_images(src, fast=True):
                    pass
            lb, lp, ls = measure("load", src / "big.jpg")
            wb, wp, ws = measure("window", project)
            rows_out.append(
                {
                    "mp": real_mp,
                    "shape": [rows, cols],
                    "load_peak_mb": lp - lb,
                    "load_s": ls,
                    "window_peak_mb": wp,
                    "window_added_mb": wp - wb,
                    "window_open_s": ws,
                }
            )
            print(
                f"{real_mp:6.1f} MP  load +{lp - lb:7.0f} MB {ls:6.2f} s   "
                f"window peak {wp:7.0f} MB (+{wp - wb:6.0f}) open {ws:6.2f} s",
                flush=True,
            )
    mps = [r["mp"] for r in rows_out]
    a_load, b_load = fit(mps, [r["load_peak_mb"] for r in rows_out])
    a_win, b_win = fit(mps, [r["window_peak_mb"] for r in rows_out])
    budget_mb = args.budget_gb * 1024
    limit_mp = (budget_mb - b_win) / a_win
    results.update(
        rows=rows_out,
        load_mb_per_mp=a_load,
        window_mb_per_mp=a_win,
        window_fixed_mb=b_win,
        limit_mp_for_budget=limit_mp,
        max_pixels_now=MAX_PIXELS,
        window_mb_at_max_pixels=a_win * MAX_PIXELS / 1e6 + b_win,
    )
    print(f"load:   {a_load:6.1f} MB per MP (+{b_load:.0f} MB)")
    print(f"window: {a_win:6.1f} MB per MP (+{b_win:.0f} MB fixed)")
    print(
        f"MAX_PIXELS now {MAX_PIXELS / 1e6:.0f} MP -> window about "
        f"{results['window_mb_at_max_pixels'] / 1024:.1f} GB; "
        f"a {args.budget_gb:g} GB budget allows {limit_mp:.0f} MP"
    )
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results["load_avg"] = os.getloadavg()
    (out / "bench_large_image.json").write_text(json.dumps(results, indent=1))
    print(f"(load average at the end: {results['load_avg']}; written bench-results/ {stamp})")


if __name__ == "__main__":
    main()
