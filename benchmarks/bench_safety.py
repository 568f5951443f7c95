"""Cost of the safety measures of issue 16: the decode time budget and the folder swap.

* ``load_image`` / ``load_mask`` with the time budget (a helper thread per decode) and
  without it (``max_seconds=None``), same files, same run: the ratio is the overhead.
  Files: a synthetic 768×640 face as PNG and JPEG, and the real Pore-Net photo
  (787×1801, ``../shared/real/porenet_left``) with its 0/255 pore label when present.
* ``replace_folder`` of a 20-file folder with ``renameat2(RENAME_EXCHANGE)`` and with the
  two-rename fallback.

Self-contained otherwise (no network). Prints medians and writes
bench-results/bench_safety.json.

    .venv/bin/python benchmarks/bench_safety.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core.atomic as atomic  # noqa: E402
from core.demo.synthetic import make_face  # noqa: E402
from core.imageio import load_image, load_mask  # noqa: E402

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "real" / "porenet_left"


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _files(tmp: Path) -> dict[str, tuple[Path, str]]:
    face = make_face(0)
    files: dict[str, tuple[Path, str]] = {}
    Image.fromarray(face.image).save(tmp / "face.png")
    Image.fromarray(face.image).save(tmp / "face.jpg", quality=92)
    mask = (np.asarray(face.image)[..., 0] > 128).astype(np.uint8) * 255
    Image.fromarray(mask).save(tmp / "mask.png")
    files["synthetic 768x640 PNG"] = (tmp / "face.png", "image")
    files["synthetic 768x640 JPEG"] = (tmp / "face.jpg", "image")
    files["synthetic 0/255 mask PNG"] = (tmp / "mask.png", "mask")
    if REAL.is_dir():
        files["real Pore-Net 787x1801 PNG"] = (REAL / "image.png", "image")
        files["real Pore-Net pore label PNG"] = (REAL / "pores.png", "mask")
    return files


def _swap_ms(tmp: Path, repeat: int, exchange: bool) -> float:
    saved = atomic._renameat2
    if not exchange:
        atomic._renameat2 = None
    try:
        target = tmp / "out"
        target.mkdir()
        times = []
        for i in range(repeat + 1):
            new = tmp / f"new{i}"
            new.mkdir()
            for k in range(20):
                (new / f"f{k}.png").write_bytes(b"x" * 4096)
            t0 = time.perf_counter()
            atomic.replace_folder(new, target)
            if i:  # the first is a warm-up
                times.append(time.perf_counter() - t0)
        shutil.rmtree(target)
        return statistics.median(times) * 1e3
    finally:
        atomic._renameat2 = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--out", default="bench-results/bench_safety.json")
    args = ap.parse_args()
    results: dict[str, object] = {"machine": platform.platform(), "repeat": args.repeat}
    if not REAL.is_dir():
        print(f"note: {REAL} is absent; real-photo rows are skipped")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        rows = []
        print("decode with / without the time budget, median ms")
        print(f"{'file':32} {'budget':>8} {'none':>8} {'ratio':>6}")
        for label, (path, kind) in _files(tmp).items():
            load = load_mask if kind == "mask" else load_image
            with_budget = _median_ms(lambda p=path, f=load: f(p), args.repeat)
            without = _median_ms(lambda p=path, f=load: f(p, max_seconds=None), args.repeat)
            rows.append({"file": label, "budget_ms": with_budget, "none_ms": without})
            print(f"{label:32} {with_budget:8.2f} {without:8.2f} {with_budget / without:6.2f}")
        results["decode"] = rows
        print("\nreplace_folder, 20 files of 4 KiB, median ms")
        swap = {}
        if atomic._renameat2 is not None:
            swap["exchange"] = _swap_ms(tmp, args.repeat, exchange=True)
        swap["fallback"] = _swap_ms(tmp, args.repeat, exchange=False)
        for k, v in swap.items():
            print(f"{k:32} {v:8.2f}")
        results["swap_ms"] = swap
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
