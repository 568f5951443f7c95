"""Time from opening a new image to its pre-label shown: computed ahead vs on demand.

Self-contained (synthetic 768x640 faces, an untrained checkpoint of the paper's network
saved on the fly, no network), offscreen Qt, the real window. For each pre-label source
(the image-processing baselines, and the "proposed" network on the CPU, and on CUDA
when there is one) the annotator walks through the images of a fresh project:

* ``ahead``: the window pre-labels the next images in the background (the default);
  the annotator spends ``--dwell`` seconds per image, then opens the next one;
* ``on demand``: nothing is computed ahead; opening an image starts its pre-label.

Measured per image: from the open call to the pre-label drawn in the prediction layer
(``PrelabelController.prelabelShown``). Prints medians and the on-demand / ahead ratio,
writes bench-results/bench_prelabel.json.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_prelabel.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def make_project(folder: Path, count: int) -> Path:
    from core.demo.synthetic import make_face
    from core.imageio import save_png
    from core.project import Project

    src = folder / "src"
    src.mkdir(parents=True)
    for i in range(count):
        save_png(src / f"face-{i:02d}.png", make_face(100 + i).image)
    root = folder / "project"
    with Project.create(root, name="bench") as project:
        for _ in project.import_images(src, copy=True):
            pass
    return root


def add_model(root: Path, device: str) -> None:
    """Register an untrained (seeded) checkpoint of the paper's network as current."""
    import torch

    from core.model import create_model, save_checkpoint
    from core.project import Project

    torch.manual_seed(0)
    net = create_model("proposed").eval()
    ck = save_checkpoint(root / "models" / "bench", net, name="proposed", config={}, metadata={})
    with Project.open(root) as project:
        project.set_current_model(project.add_model(ck, {"note": f"benchmark ({device})"}))


def wait(app: QApplication, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        app.processEvents()
        time.sleep(0.0005)


def walk(
    app: QApplication, root: Path, *, ahead: bool, images: int, dwell: float, device: str
) -> tuple[list[float], list[float]]:
    """Open images 2..N one by one; seconds from open to pre-label shown, to image shown."""
    from app.gui.main_window import MainWindow

    w = MainWindow()
    w.prelabels.ahead = ahead
    w.prelabels.device = device
    w.resize(1200, 800)
    w.show()
    shown: dict[object, float] = {}
    opened: dict[object, float] = {}
    w.prelabels.prelabelShown.connect(lambda i, _s: shown.setdefault(i, time.perf_counter()))
    assert w.open_project(root)
    w.session.documentOpened.connect(
        lambda loaded: opened.setdefault(loaded.image_id, time.perf_counter())
    )
    ids = [r.id for r in w.image_list.model.records][:images]
    wait(app, lambda: ids[0] in shown)
    times, image_times = [], []
    for image_id in ids[1:]:
        end = time.monotonic() + dwell  # the annotator works on the open image
        wait(app, lambda end=end: time.monotonic() >= end)
        t0 = time.perf_counter()
        w.open_image(image_id)
        wait(app, lambda i=image_id: i in shown and w.session.current.image_id == i)
        times.append(shown[image_id] - t0)
        image_times.append(opened[image_id] - t0)
    w.close()
    return times, image_times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--dwell", type=float, default=3.0, help="seconds spent per image")
    args = parser.parse_args()
    n = 4 if args.quick else args.images
    dwell = 1.5 if args.quick else args.dwell

    tmp = Path(tempfile.mkdtemp(prefix="bench-prelabel-"))
    os.environ["SKINTRACE_DATA_DIR"] = str(tmp / "userdata")
    QCoreApplication.setOrganizationName("SkinTraceBench")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "qs"))
    app = QApplication.instance() or QApplication([])

    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    cases = [("baselines", None)] + [(f"proposed ({d})", d) for d in devices]
    results: dict[str, dict[str, object]] = {}
    print(f"{n} synthetic 768x640 images, {dwell:.1f} s per image; torch threads for pre-labels: 1")
    if "cuda" not in devices:
        print("GPU: no CUDA device here (the cuda case runs automatically where there is one)")
    for label, device in cases:
        row: dict[str, object] = {}
        for mode, ahead in (("ahead", True), ("on_demand", False)):
            work = tmp / f"{label.split()[0]}-{device}-{mode}"
            root = make_project(work, n)
            if device is not None:
                add_model(root, device)
            times, image_times = walk(
                app, root, ahead=ahead, images=n, dwell=dwell, device=device or "auto"
            )
            row[mode] = {
                "median_ms": statistics.median(times) * 1000,
                "image_shown_median_ms": statistics.median(image_times) * 1000,
                "max_ms": max(times) * 1000,
                "samples_ms": [t * 1000 for t in times],
            }
        ahead_ms = row["ahead"]["median_ms"]  # type: ignore[index]
        demand_ms = row["on_demand"]["median_ms"]  # type: ignore[index]
        row["ratio_on_demand_over_ahead"] = demand_ms / max(ahead_ms, 1e-3)
        results[label] = row
        image_ms = row["ahead"]["image_shown_median_ms"]  # type: ignore[index]
        print(
            f"{label:<18} open -> pre-label shown: ahead {ahead_ms:8.2f} ms   "
            f"on demand {demand_ms:8.1f} ms   (x{row['ratio_on_demand_over_ahead']:.0f});"
            f"   open -> image shown {image_ms:.2f} ms"
        )
    out = ROOT / "bench-results" / "bench_prelabel.json"
    out.parent.mkdir(exist_ok=True)
    meta = {"images": n, "dwell_s": dwell, "cpu_count": os.cpu_count(), "devices": devices}
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
