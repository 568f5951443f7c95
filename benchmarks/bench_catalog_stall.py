"""How long a catalog read waits while a large image's masks are being saved.

The window reads the catalog from the GUI thread (image list, GT parameters) while
the writer thread saves. Before issue #11 every Project call took one lock, so a read
waited for the whole save (PNG encoding included) of a 6000×4000 image; now reads use
their own connection and a save holds the write lock only to commit.

One project with one 6000×4000 image (header-only import). Each round a thread saves
new wrinkle, pore and exclusion masks while this thread calls ``params()`` and
``images()`` in a loop (``--pause-ms`` apart); every call made during the save is timed. Prints the median
and the longest call per round and overall, and writes
``bench-results/bench_catalog_stall.json``.

    .venv/bin/python benchmarks/bench_catalog_stall.py [--rounds 5]

``ROOT`` may be another checkout (``SKINTRACE_ROOT=/path``) to measure older code with
the same script: only public Project methods are used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
HERE = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("SKINTRACE_ROOT", HERE))
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from core.project import Project  # noqa: E402

SHAPE = (4000, 6000)  # rows, cols: "6000×4000"


def _masks(seed: int) -> dict[str, np.ndarray]:
    """Stroke-like masks (lines and dots), like an annotator's, at full size."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, count in (("wrinkle", 400), ("pore", 3000), ("exclude", 20)):
        m = np.zeros(SHAPE, np.uint8)
        for _ in range(count):
            r, c = int(rng.integers(0, SHAPE[0])), int(rng.integers(0, SHAPE[1]))
            if name == "wrinkle":
                dr, dc = rng.integers(-200, 200, 2)
                cv2.line(m, (c, r), (c + int(dc), r + int(dr)), 1, 3)
            else:
                cv2.circle(m, (c, r), 4 if name == "pore" else 120, 1, -1)
        out[name] = m.astype(bool)
    return out


def _round(project: Project, image_id: int, masks: dict, pause: float) -> dict:
    waits: list[float] = []
    done = threading.Event()
    saved: list[float] = []

    def save() -> None:
        t0 = time.perf_counter()
        project.save_rough(image_id, masks)
        saved.append(time.perf_counter() - t0)
        done.set()

    thread = threading.Thread(target=save)
    thread.start()
    while not done.is_set():
        for call in (project.params, project.images):
            t0 = time.perf_counter()
            call()
            waits.append(time.perf_counter() - t0)
        time.sleep(pause)  # a window repaints between reads; never a busy loop
    thread.join()
    return {
        "save_s": saved[0],
        "calls": len(waits),
        "median_ms": 1000 * statistics.median(waits),
        "max_ms": 1000 * max(waits),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pause-ms", type=float, default=5.0, help="between two pairs of reads")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        image = np.zeros((*SHAPE, 3), np.uint8)
        image[::7] = 90
        cv2.imwrite(str(src / "big.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        with Project.create(Path(tmp) / "p") as project:
            for _ in project.import_images(src, fast=True):
                pass
            (image_id,) = [r.id for r in project.images()]
            masks = [_masks(i) for i in range(2)]
            project.save_rough(image_id, masks[1])  # warm: files and rows exist
            pause = args.pause_ms / 1000
            rounds = [_round(project, image_id, masks[i % 2], pause) for i in range(args.rounds)]
    for i, r in enumerate(rounds):
        print(
            f"round {i}: save {r['save_s']:.2f} s, {r['calls']} reads during it, "
            f"median {r['median_ms']:.2f} ms, longest {r['max_ms']:.1f} ms"
        )
    medians = [r["median_ms"] for r in rounds]
    longest = [r["max_ms"] for r in rounds]
    summary = {
        "root": str(ROOT),
        "rounds": rounds,
        "median_of_medians_ms": statistics.median(medians),
        "median_longest_ms": statistics.median(longest),
        "max_longest_ms": max(longest),
        "median_save_s": statistics.median(r["save_s"] for r in rounds),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(
        f"reads during a 6000×4000 save: median {summary['median_of_medians_ms']:.2f} ms, "
        f"longest (median of rounds) {summary['median_longest_ms']:.1f} ms, "
        f"longest overall {summary['max_longest_ms']:.1f} ms; "
        f"save median {summary['median_save_s']:.2f} s"
    )
    out = HERE / "bench-results"
    out.mkdir(exist_ok=True)
    name = "bench_catalog_stall.json" if ROOT == HERE else "bench_catalog_stall.other.json"
    (out / name).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
