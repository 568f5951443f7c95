"""How the window's team refresh behaves with 5 simulated users (issue #15).

A throwaway PostgreSQL server (tests/pg.py, Unix socket) holds a team catalog with N
images. Five simulated users, each a separate process with its own connection, claim an
image, change its status (one transaction: status + history row), renew and release,
at ``--rate`` operations per second each (a person saves every few seconds at most; the
default 5/s each is far heavier). Meanwhile this process polls
``core.project.team_sync.snapshot`` (what every window does every
``app.gui.team.POLL_MS``) and records each poll's duration and how many changes it saw.

    .venv/bin/python benchmarks/bench_team_refresh.py [--images 500 2000 10000] [--polls 60]

Prints, per catalog size, the median and 90th-percentile poll time idle and with 5
users, their ratio, the users' achieved operation rate, and writes
``bench-results/bench_team_refresh.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.project.claims import Claims  # noqa: E402
from core.project.records import utc_now  # noqa: E402
from core.project.team_sync import snapshot  # noqa: E402

USERS = 5
STATUSES = ("in_progress", "submitted", "accepted", "rejected")


def _open(url: str):  # noqa: ANN202
    from core.project.pg.database import PostgresDatabase

    return PostgresDatabase(url)


def fill(url: str, n: int) -> None:
    db = _open(url)
    now = utc_now()
    with db.transaction() as tx:
        tx.executemany(
            "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, added_utc, "
            "updated_utc) VALUES (?, ?, ?, 1000, 640, 768, ?, ?)",
            [
                (f"f{i // 100}/face{i}.png", f"images/face{i}.png", f"h{i}", now, now)
                for i in range(n)
            ],
        )
    db.close()


def user_loop(url: str, name: str, n: int, rate: float, ready: Any, stop: Any, out: Any) -> None:
    import random

    db = _open(url)
    claims = Claims(db, user=name, host=f"bench-{name} pid {os.getpid()}")
    rng = random.Random(name)
    ops = 0
    ready.release()
    while not stop.is_set():
        t0 = time.monotonic()
        image = rng.randrange(1, n + 1)
        try:
            claims.claim(image)
        except Exception:  # someone else holds it: another one next time
            continue
        status = rng.choice(STATUSES)
        now = utc_now()
        with db.transaction() as tx:
            old = tx.scalar("SELECT status FROM images WHERE id = ?", (image,))
            tx.execute(
                "UPDATE images SET status = ?, updated_utc = ? WHERE id = ?", (status, now, image)
            )
            tx.execute(
                "INSERT INTO history(image_id, from_status, to_status, user_name, time_utc, comment) "
                "VALUES (?, ?, ?, ?, ?, '')",
                (image, old, status, name, now),
            )
        claims.renew_all()
        claims.release(image)
        ops += 1
        time.sleep(max(0.0, 1 / rate - (time.monotonic() - t0)))
    out.put(ops)
    db.close()


def polls(url: str, count: int, every: float) -> tuple[list[float], int]:
    db = _open(url)
    times, seen, last = [], 0, None
    for _ in range(count):
        t0 = time.perf_counter()
        snap = snapshot(db)
        times.append(time.perf_counter() - t0)
        seen += len(snap.changes(last).statuses) if last is not None else 0
        last = snap
        time.sleep(every)
    db.close()
    return times, seen


def _stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, nargs="+", default=[500, 2000, 10000])
    ap.add_argument("--polls", type=int, default=60)
    ap.add_argument("--every", type=float, default=0.05, help="seconds between polls")
    ap.add_argument("--rate", type=float, default=5.0, help="operations/s per user")
    args = ap.parse_args()
    from tests.pg import PgServer

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-team-") as tmp:
        server = PgServer(Path(tmp))
        server.start()
        try:
            for n in args.images:
                url = server.create_database()
                _open(url).close()  # creates the schema
                fill(url, n)
                idle, _ = polls(url, args.polls, args.every)
                ctx = mp.get_context("spawn")
                out, ready, stop = ctx.Queue(), ctx.Semaphore(0), ctx.Event()
                procs = [
                    ctx.Process(
                        target=user_loop, args=(url, f"user{k}", n, args.rate, ready, stop, out)
                    )
                    for k in range(USERS)
                ]
                for p in procs:
                    p.start()
                for _ in procs:
                    ready.acquire()  # every user is connected and writing
                t0 = time.monotonic()
                busy, seen = polls(url, args.polls, args.every)
                seconds = time.monotonic() - t0
                stop.set()
                ops = sum(out.get() for _ in procs)
                for p in procs:
                    p.join()
                row = {
                    "images": n,
                    "idle": _stats(idle),
                    "five_users": _stats(busy),
                    "ratio_busy_idle": round(statistics.median(busy) / statistics.median(idle), 2),
                    "user_ops_per_s": round(ops / seconds, 1),
                    "changes_seen": seen,
                }
                results.append(row)
                print(
                    f"{n:>6} images: poll idle median {row['idle']['median_ms']} ms "
                    f"(p90 {row['idle']['p90_ms']}), with {USERS} users "
                    f"{row['five_users']['median_ms']} ms (p90 {row['five_users']['p90_ms']}), "
                    f"ratio {row['ratio_busy_idle']}; users {row['user_ops_per_s']} ops/s, "
                    f"{seen} status changes seen"
                )
        finally:
            server.stop()
    out_dir = ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    info = {"machine": platform.platform(), "cpus": os.cpu_count(), "results": results}
    (out_dir / "bench_team_refresh.json").write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
