"""Annotation window speed and memory (issue #4), offscreen Qt.

Self-contained (synthetic faces, no network). Prints medians and writes
bench-results/bench_gui.json.

* ``move``: one mouse-move event while painting -> stroke dab, incremental GT, overlay
  region re-rendered and the dirty region painted (the event loop flushed), at
  768x640 and 6000x4000, at 1:1 zoom and fitted. Target: median < 16 ms.
* ``open``: opening the next 768x640 image of a project (image, texture maps, masks
  shown and painted): prefetched (the normal case: the annotator spends more than a
  moment per image) and cold. Target: < 150 ms.
* ``memory``: process RSS with a 6000x4000 image open and every layer on.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py [--quick]
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

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.document import AnnotationDocument  # noqa: E402
from core.gt import GTParams  # noqa: E402
from core.synthetic import make_face  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def face_image(shape: tuple[int, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    face = make_face(3)
    img, rough = np.array(face.image), {k: np.array(v) for k, v in face.rough.items()}
    if shape != face.shape:
        img = cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        rough = {
            k: cv2.resize(v.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
            > 0
            for k, v in rough.items()
        }
    return img, rough


def flush(app: QApplication) -> None:
    app.processEvents()


def bench_moves(app: QApplication, shape: tuple[int, int], moves: int) -> dict[str, float]:
    from app.gui.bridge import DocumentBridge
    from app.gui.canvas import ImageCanvas
    from app.gui.layers import LAYERS, LayersModel
    from app.gui.tools import ToolState

    img, rough = face_image(shape)
    doc = AnnotationDocument(img, params=GTParams(), rough=rough)
    layers = LayersModel()
    for name in LAYERS:
        layers.set_visible(name, True)
    # A typical brush: 8 px on a 768x640 crop, proportionally larger on a 6000x4000 photo.
    tools = ToolState(radius=8 if shape[0] <= 1000 else 40)
    canvas = ImageCanvas(layers, tools)
    bridge = DocumentBridge()
    bridge.changed.connect(canvas.on_document_change)
    canvas.resize(1400, 900)
    canvas.show()
    canvas.set_document(doc)
    bridge.attach(doc)
    flush(app)
    out: dict[str, float] = {}
    rows, cols = shape
    for view in ("1:1", "fit"):
        if view == "1:1":
            canvas.actual_size()
            canvas.centerOn(cols / 2, rows / 2)
        else:
            canvas.fit()
        flush(app)
        vp = canvas.viewport()
        # A zig-zag stroke across the visible middle of the image, 3 screen px per event.
        center = canvas.image_to_view(rows / 2, cols / 2)
        xs = center.x() - 300 + (np.arange(moves) * 3) % 600
        ys = center.y() + 40 * np.sin(np.arange(moves) / 15)
        from PySide6.QtCore import QPoint, Qt

        first = QPoint(int(xs[0]), int(ys[0]))
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first)
        flush(app)
        samples = []
        rev0 = doc.revision
        for x, y in zip(xs[1:], ys[1:], strict=True):
            t0 = time.perf_counter()
            QTest.mouseMove(vp, QPoint(int(x), int(y)))
            flush(app)  # the scheduled region repaint happens here
            flush(app)  # and anything it posted in turn
            samples.append(time.perf_counter() - t0)
        QTest.mouseRelease(
            vp,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            QPoint(int(xs[-1]), int(ys[-1])),
        )
        flush(app)
        if doc.revision - rev0 < len(samples) // 2:
            raise RuntimeError("the benchmark stroke did not paint; check the event mapping")
        out[view] = statistics.median(samples) * 1e3
        out[f"{view}_p90"] = float(np.percentile(samples, 90)) * 1e3
    # A full-viewport repaint, as in every pan or zoom step, with all layers on.
    for view in ("1:1", "fit"):
        canvas.actual_size() if view == "1:1" else canvas.fit()
        frames = []
        for _ in range(15):
            t0 = time.perf_counter()
            canvas.viewport().repaint()
            frames.append(time.perf_counter() - t0)
        out[f"frame_{view}"] = statistics.median(frames) * 1e3
    if shape == (4000, 6000):
        out["rss_mb_all_layers"] = rss_mb()
    canvas.set_document(None)
    bridge.detach()
    canvas.close()
    canvas.deleteLater()
    flush(app)
    return out


def bench_open(app: QApplication, tmp: Path, count: int) -> dict[str, float]:
    from app.gui.main_window import MainWindow
    from core.imageio import save_png
    from core.project import Project

    src = tmp / "src"
    src.mkdir()
    for i in range(count):
        save_png(src / f"face-{i:03d}.png", make_face(100 + i).image)
    root = tmp / "project"
    with Project.create(root, name="bench") as p:
        for _ in p.import_images(src, copy=True):
            pass
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.open_project(root)
    flush(app)
    session = window.session
    ids = [r.id for r in session.records()]
    prefetched, cold = [], []
    for image_id in ids[1:]:
        # The annotator works on the image for a while: the prefetch finishes meanwhile.
        deadline = time.perf_counter() + 5
        while image_id not in session._prefetching or not session._prefetching[image_id].finished:
            QTest.qWait(5)
            if time.perf_counter() > deadline:
                break
        t0 = time.perf_counter()
        window.next_image()
        while session.current.image_id != image_id:
            app.processEvents()
        flush(app)
        window.canvas.viewport().repaint()
        prefetched.append(time.perf_counter() - t0)
    # Cold: no prefetch, the image is loaded and its textures computed on demand.
    for image_id in ids[:-1][::-1][: len(ids) // 2]:
        session._cache.pop(image_id, None)
        session._prefetching.pop(image_id, None)
        t0 = time.perf_counter()
        window.open_image(image_id)
        while session.current.image_id != image_id:
            app.processEvents()
        window.canvas.viewport().repaint()
        cold.append(time.perf_counter() - t0)
    window.close()
    return {
        "prefetched_ms": statistics.median(prefetched) * 1e3,
        "cold_ms": statistics.median(cold) * 1e3,
        "n_prefetched": len(prefetched),
        "n_cold": len(cold),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    moves = 60 if args.quick else 240
    tmp = Path(tempfile.mkdtemp(prefix="skintrace-bench-gui-"))
    os.environ["SKINTRACE_DATA_DIR"] = str(tmp / "data")
    QCoreApplication.setOrganizationName("SkinTraceBench")
    QCoreApplication.setApplicationName("SkinTraceBench")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "cfg"))
    app = QApplication.instance() or QApplication([])
    cv2.setNumThreads(2)
    results: dict[str, object] = {"rss_mb_start": rss_mb()}
    results["open_768x640"] = bench_open(app, tmp, 8 if args.quick else 16)
    results["move_768x640"] = bench_moves(app, (640, 768), moves)
    results["move_6000x4000"] = bench_moves(app, (4000, 6000), moves)
    results["platform"] = QApplication.platformName()
    print(f"{'measure':40s} {'median':>10s}")
    o = results["open_768x640"]
    print(f"{'open next 768x640, prefetched':40s} {o['prefetched_ms']:8.1f} ms")
    print(f"{'open next 768x640, cold':40s} {o['cold_ms']:8.1f} ms")
    for size in ("768x640", "6000x4000"):
        m = results[f"move_{size}"]
        for view in ("1:1", "fit"):
            print(
                f"{'mouse-move -> GT painted ' + size + ' ' + view:40s} {m[view]:8.2f} ms"
                f"   (p90 {m[view + '_p90']:.2f} ms)"
            )
    for size in ("768x640", "6000x4000"):
        m = results[f"move_{size}"]
        for view in ("1:1", "fit"):
            print(
                f"{'full repaint (pan/zoom frame) ' + size + ' ' + view:40s} {m['frame_' + view]:8.2f} ms"
            )
    big = results["move_6000x4000"]
    print(f"{'RSS, 6000x4000 open, all layers on':40s} {big['rss_mb_all_layers']:8.0f} MB")
    print(f"{'RSS at start':40s} {results['rss_mb_start']:8.0f} MB")
    out = ROOT / "bench-results" / "bench_gui.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
