"""Project storage speed: import of 1,000 images, listing 10,000, export of 1,000.

Self-contained: generates its own small images (160×192 RGB PNG, i.e. 192 rows ×
160 cols) in a temporary folder, so the whole run takes a few minutes on 2 cores.
Prints medians and writes ``bench-results/bench_project.json``.

    .venv/bin/python benchmarks/bench_project.py [--repeats 3] [--images 1000] [--import-only]

``import`` decodes every image in full (the default since issue #17); ``import_fast``
checks headers only (``--fast``). The two are interleaved, and their ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from core.classes import CLASSES  # noqa: E402
from core.imageio import encode_png  # noqa: E402
from core.project import Project  # noqa: E402

SHAPE = (192, 160)  # rows, cols: "160×192" W×H


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _drain(gen) -> None:
    for _ in gen:
        pass


def make_images(folder: Path, n: int, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True)
    base = rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
    for i in range(n):
        img = base.copy()
        img[0, :8] = np.frombuffer(i.to_bytes(24, "big"), np.uint8).reshape(8, 3)  # unique
        img[1:] = np.roll(base[1:], i, axis=1)
        (folder / f"face{i:05d}.png").write_bytes(encode_png(img))


def bench_import(tmp: Path, src: Path, repeats: int, *, fast: bool = False) -> list[float]:
    """Import ``src`` in place: every image decoded in full, or (``fast``) headers only."""
    times = []
    for r in range(repeats):
        proj = Project.create(tmp / f"imp{r}")
        times.append(_timed(lambda p=proj: _drain(p.import_images(src, fast=fast))))
        if len(proj) != sum(1 for _ in src.iterdir()):
            raise RuntimeError("import benchmark did not import every image")
        proj.close()
    return times


def bench_imports(tmp: Path, src: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Full-decode and header-only imports, interleaved so that load drift hits both alike."""
    full: list[float] = []
    fast: list[float] = []
    for r in range(repeats):
        full += bench_import(tmp / f"full{r}", src, 1)
        fast += bench_import(tmp / f"fast{r}", src, 1, fast=True)
    return full, fast


def bench_png_check(src: Path, repeats: int) -> list[float]:
    """The import's PNG completeness check (chunk CRC walk) alone, over every file."""
    from core.project.importer import _check_png_complete

    files = sorted(src.iterdir())
    return [_timed(lambda: [_check_png_complete(f) for f in files]) for _ in range(repeats)]


def bench_listing(tmp: Path, n: int, repeats: int) -> dict[str, list[float]]:
    """A 10,000-image catalog: rows are inserted directly (listing needs no files)."""
    proj = Project.create(tmp / "big")
    statuses = ["new", "in_progress", "submitted", "accepted"]
    with proj.db.transaction() as tx:
        tx.executemany(
            "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, status, "
            "added_utc, updated_utc) VALUES (?, ?, ?, 1000, 192, 160, ?, 'x', 'x')",
            [
                (
                    f"subj{i // 10:04d}/face{i:05d}.png",
                    f"/data/face{i:05d}.png",
                    f"{i:064x}",
                    statuses[i % 4],
                )
                for i in range(n)
            ],
        )
    proj.close()
    out: dict[str, list[float]] = {"open": [], "images": [], "images_status": [], "counts": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = Project.open(tmp / "big", read_only=True)
        out["open"].append(time.perf_counter() - t0)
        out["images"].append(_timed(lambda p=p: p.images()))
        out["images_status"].append(_timed(lambda p=p: p.images(status="accepted")))
        out["counts"].append(_timed(p.counts))
        assert len(p.images()) == n
        p.close()
    return out


def bench_export(tmp: Path, src: Path, repeats: int, rng: np.random.Generator) -> list[float]:
    proj = Project.create(tmp / "exp")
    _drain(proj.import_images(src))
    for rec in proj.images():
        proj.save_rough(rec.id, {c: rng.random(SHAPE) > 0.7 for c in CLASSES})
        proj.set_status(rec.id, "submitted")
        proj.set_status(rec.id, "accepted")
    times = [
        _timed(lambda r=r: _drain(proj.export(tmp / f"ds{r}", val_ratio=50 / 314)))
        for r in range(repeats)
    ]
    proj.close()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--listing", type=int, default=10_000)
    ap.add_argument(
        "--import-only",
        action="store_true",
        help="only the full-decode vs header-only (--fast) import comparison",
    )
    args = ap.parse_args()
    cv2.setNumThreads(2)
    rng = np.random.default_rng(0)
    if args.import_only:
        with tempfile.TemporaryDirectory(prefix="bench_project_") as d:
            src = Path(d) / "src"
            make_images(src, args.images, rng)
            full, fast = bench_imports(Path(d), src, args.repeats)
        mf, mh = statistics.median(full), statistics.median(fast)
        print(f"import {args.images} images {SHAPE[1]}×{SHAPE[0]} PNG, {args.repeats} repeats")
        print(
            f"  full decode  {mf:8.3f} s   header only (--fast) {mh:8.3f} s   ratio {mf / mh:.2f}"
        )
        print(f"  load average {os.getloadavg()}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_project_") as d:
        tmp = Path(d)
        src = tmp / "src"
        make_images(src, args.images, rng)
        imp, imp_fast = bench_imports(tmp, src, args.repeats)
        check = bench_png_check(src, args.repeats)
        listing = bench_listing(tmp, args.listing, max(args.repeats, 5))
        exp = bench_export(tmp, src, args.repeats, rng)
    med = {
        f"import_{args.images}_s": statistics.median(imp),
        f"import_fast_{args.images}_s": statistics.median(imp_fast),
        f"png_check_{args.images}_s": statistics.median(check),
        f"list_{args.listing}_s": statistics.median(listing["images"]),
        f"list_{args.listing}_by_status_s": statistics.median(listing["images_status"]),
        f"counts_{args.listing}_s": statistics.median(listing["counts"]),
        f"open_{args.listing}_s": statistics.median(listing["open"]),
        f"export_{args.images}_s": statistics.median(exp),
    }
    ratios = {
        "list_vs_1s_target": med[f"list_{args.listing}_s"] / 1.0,
        "export_vs_import": med[f"export_{args.images}_s"] / med[f"import_{args.images}_s"],
        "import_full_decode_vs_fast": med[f"import_{args.images}_s"]
        / med[f"import_fast_{args.images}_s"],
        "png_check_share_of_import": med[f"png_check_{args.images}_s"]
        / med[f"import_{args.images}_s"],
        "import_ms_per_image": 1000 * med[f"import_{args.images}_s"] / args.images,
        "export_ms_per_image": 1000 * med[f"export_{args.images}_s"] / args.images,
    }
    print(f"project storage, images {SHAPE[1]}×{SHAPE[0]} PNG, {args.repeats} repeats (medians)")
    for k, v in med.items():
        print(f"  {k:<32} {v:8.3f}")
    for k, v in ratios.items():
        print(f"  {k:<32} {v:8.3f}")
    result = {
        "benchmark": "bench_project",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "image_shape": SHAPE,
        "repeats": args.repeats,
        "raw": {
            "import": imp,
            "import_fast": imp_fast,
            "png_check": check,
            "export": exp,
            **{f"listing_{k}": v for k, v in listing.items()},
        },
        "medians": med,
        "ratios": ratios,
    }
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "bench_project.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
