"""Cost of the layer styles (issue #10): styled rough / GT / prediction vs flat colour.

Self-contained (generated masks, no network, no Qt window). For one brush dab's dirty
region and for a whole image, median time to compose the overlay pixels:

* rough: flat colour (``compose_masks``, the old look) vs outline + hatching + tint
  (``compose_rough`` with one pixel of context, as ``LayerStack.render`` does);
* prediction: magnitude colour (``compose_magnitudes``) vs outlines (``compose_contours``).

Both of each pair run in the same process, interleaved, so their ratio holds even on a
loaded machine. Writes ``bench-results/bench_layer_styles.json``.

    .venv/bin/python benchmarks/bench_layer_styles.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from app.gui.overlay import (  # noqa: E402
    compose_contours,
    compose_magnitudes,
    compose_masks,
    compose_rough,
)

COLORS = ["#D55E00", "#56B4E9"]


def masks_for(shape: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """Two classes of blob-and-stroke masks covering about 10 % of the image."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    out = []
    for _ in range(2):
        m = np.zeros(shape, bool)
        for _ in range(max(4, rows * cols // 400_000)):
            r, c = int(rng.integers(0, rows)), int(rng.integers(0, cols))
            h, w = int(rng.integers(8, rows // 6 + 9)), int(rng.integers(8, cols // 6 + 9))
            m[r : r + h, c : c + w] = True
        out.append(m)
    return out


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def rough_region(masks, sl, shape):  # type: ignore[no-untyped-def]
    r0, r1 = max(0, sl[0].start - 1), min(shape[0], sl[0].stop + 1)
    c0, c1 = max(0, sl[1].start - 1), min(shape[1], sl[1].stop + 1)
    ctx = [np.pad(m[r0:r1, c0:c1], 1, mode="edge") for m in masks]
    return compose_rough(ctx, COLORS, origin=(r0, c0), pad=1)


def measure(shape: tuple[int, int], repeat_small: int, repeat_full: int) -> list[tuple]:
    """(case, shape, region size or None, flat ms, styled ms) for one image size."""
    masks = masks_for(shape)
    maps = [m.astype(np.uint8) * 200 for m in masks]
    results = []
    for size in (2 * 8 + 3, 2 * 40 + 3):  # one dab of an 8 px / 40 px brush (+grow)
        r, c = shape[0] // 2, shape[1] // 2
        sl = (slice(r, r + size), slice(c, c + size))
        flat = timed(lambda sl=sl: compose_masks([m[sl] for m in masks], COLORS), repeat_small)
        styled = timed(lambda sl=sl: rough_region(masks, sl, shape), repeat_small)
        results.append(("rough, one dab", shape, size, flat, styled))
    flat = timed(lambda: compose_masks(masks, COLORS), repeat_full)
    styled = timed(lambda: compose_rough(masks, COLORS), repeat_full)
    results.append(("rough, whole image", shape, None, flat, styled))
    flat = timed(lambda: compose_magnitudes(maps, COLORS), repeat_full)
    styled = timed(lambda: compose_contours(maps, COLORS), repeat_full)
    results.append(("prediction, whole image", shape, None, flat, styled))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    repeat_small, repeat_full = (50, 3) if args.quick else (300, 7)
    results = []
    print(f"{'case':44s} {'flat ms':>9s} {'styled ms':>10s} {'ratio':>7s}")
    for shape in ((640, 768), (4000, 6000)):
        results += measure(shape, repeat_small, repeat_full)
    rows = []
    for name, shape, size, flat, styled in results:
        where = f"{shape[1]}x{shape[0]}" + (f", {size}x{size} px" if size else "")
        print(f"{name + ' ' + where:44s} {flat:9.3f} {styled:10.3f} {styled / flat:6.1f}×")
        rows.append({"case": name, "size": where, "flat_ms": flat, "styled_ms": styled})
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "bench_layer_styles.json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {out / 'bench_layer_styles.json'}")


if __name__ == "__main__":
    main()
