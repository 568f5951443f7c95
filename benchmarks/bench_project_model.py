"""The window's one status model at project scale: a status write shown, next unfinished.

Builds a :class:`app.gui.project_model.ProjectModel` of N image records (in memory, no
files) with the image list's filter proxy and the review queue proxy on it, then times
what runs on the GUI thread per status write and per "next unfinished":

- ``apply``: one write's result into the model (both proxies re-filter that row),
- ``pending``: begin + end of a write in flight (the review queue drops and re-adds a row),
- ``next_unfinished``: worst case (one unfinished image, just before the current one),
- ``queue``: the review queue's ids read from its proxy,
- ``refresh``: ``set_records`` of the same listing (in place, no reset).

Prints medians (ms) and writes bench-results/project_model.json.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_project_model.py [--images N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from app.gui.project_model import ProjectModel, ReviewQueueProxy, StatusFilterProxy

    n = args.images
    statuses = ["accepted"] * n
    statuses[n // 2 :: 7] = ["submitted"] * len(statuses[n // 2 :: 7])
    statuses[n - 2] = "new"  # the only unfinished image, just before the last
    records = [
        SimpleNamespace(id=i, name=f"face-{i:05d}.png", status=s, rows=640, cols=768, path="")
        for i, s in enumerate(statuses)
    ]
    model = ProjectModel()
    model.set_records(records)
    listed = StatusFilterProxy()
    listed.setSourceModel(model)
    listed.set_filter("unfinished", "")
    queue = ReviewQueueProxy("submitted")
    queue.setSourceModel(model)
    target = n // 2  # a submitted image
    flip = iter(["accepted", "submitted"] * args.repeat)

    results = {
        "images": n,
        "apply_ms": _median_ms(lambda: model.apply_state(target, next(flip)), args.repeat),
        "pending_ms": _median_ms(
            lambda: (model.begin_write(target), model.end_write(target)), args.repeat
        ),
        "next_unfinished_ms": _median_ms(lambda: model.next_unfinished(n - 1), args.repeat),
        "queue_ms": _median_ms(queue.ids, args.repeat),
        "refresh_ms": _median_ms(lambda: model.set_records(records), max(5, args.repeat // 10)),
    }
    assert model.next_unfinished(n - 1) == n - 2
    for key, value in results.items():
        print(f"{key:>20}: {value:.3f}" if isinstance(value, float) else f"{key:>20}: {value}")
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "project_model.json").write_text(json.dumps(results, indent=2))
    del app


if __name__ == "__main__":
    main()
