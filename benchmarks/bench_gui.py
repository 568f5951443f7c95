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
* ``large``: cold open of a 6000x4000 photo (PNG and JPEG) in the real window, each in a
  fresh process: time to the first paint of the new image (its preview), to the image
  itself painted and paintable, and to its texture maps and GT ready; memory per layer
  (bytes of each buffer) and process RSS, current and peak. With ``--against DIR`` the
  same opens also run on the source tree in DIR (e.g. the commit before, exported with
  ``git archive``) for before/after figures from one run.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py [--quick]
    mkdir -p /tmp/before && git archive dcfe6cb | tar -x -C /tmp/before
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py --large-only \
        --against /tmp/before
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
# --against runs the large opens on another source tree (an older commit, exported with
# `git archive`), for before/after figures measured in the same run.
sys.path.insert(0, os.environ.get("SKINTRACE_BENCH_SOURCE") or str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.demo.synthetic import make_face  # noqa: E402
from core.gt.document import AnnotationDocument  # noqa: E402
from core.gt.engine import GTParams  # noqa: E402


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory of this process in MB (``VmHWM``: its peak so far)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
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


LARGE = (4000, 6000)


def make_large_project(tmp: Path) -> Path:
    """A project: one small face (opened first), a 6000x4000 PNG and the same as JPEG."""
    from PIL import Image

    from core.imageio import save_png
    from core.project import Project

    src = tmp / "src"
    src.mkdir(parents=True)
    save_png(src / "a-small.png", make_face(7).image)
    big, _ = face_image(LARGE)
    save_png(src / "b-large.png", big)
    Image.fromarray(big).save(src / "c-large.jpg", quality=92)
    root = tmp / "project"
    with Project.create(root, name="bench-large") as p:
        for _ in p.import_images(src, copy=True):
            pass
    return root


def layer_bytes(window) -> dict[str, int]:
    """Bytes held per layer for the open document (numpy buffers and display images)."""
    doc = window.session.document
    stack = window.canvas.stack
    tex = doc.textures
    item = stack.image_item
    pixmap = getattr(item, "pixmap", None)
    display = 0
    if callable(pixmap):  # a QGraphicsPixmapItem (before issue #10): a copy of the pixels
        pm = pixmap()
        display = pm.width() * pm.height() * pm.depth() // 8
    out = {
        "image pixels (uint8 RGB)": doc.image.nbytes,
        "image display": display,
        "texture maps (float32 x2, core)": 0
        if tex is None
        else tex.wrinkle.nbytes + tex.pore.nbytes,
        "rough masks (bool x2)": sum(doc.rough(c).nbytes for c in ("wrinkle", "pore")),
        "GT (uint8 x2)": sum(doc.gt(c).nbytes for c in ("wrinkle", "pore")),
    }
    for name in ("rough", "texture", "gt", "prediction"):
        overlay = stack.overlays.get(name)
        out[f"{name} overlay"] = 0 if overlay is None else overlay.array.nbytes
    return out


def bench_large(root: Path, fmt: str) -> dict[str, object]:
    """One cold open of the 6000x4000 ``fmt`` image of the project ``root`` in the window
    (works on the source trees before and after issue #10)."""
    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.prelabels.ahead = False
    window.resize(1400, 900)
    window.show()
    window.open_project(root)
    flush(app)
    session = window.session
    ids = {r.name: r.id for r in session.records()}
    target = ids[f"{'b' if fmt == 'png' else 'c'}-large.{fmt}"]
    rss_before = rss_mb()
    canvas = window.canvas
    t0 = time.perf_counter()
    window.open_image(target)
    marks: dict[str, float] = {}
    deadline = t0 + 600
    while time.perf_counter() < deadline:
        app.processEvents()
        now = time.perf_counter() - t0
        if "first_paint_s" not in marks and (
            getattr(canvas, "previewing", False)
            or (session.current and session.current.image_id == target)
        ):
            canvas.viewport().repaint()
            marks["first_paint_s"] = time.perf_counter() - t0
        if "image_s" not in marks and session.current and session.current.image_id == target:
            canvas.viewport().repaint()
            marks["image_s"] = time.perf_counter() - t0
            marks["rss_mb_image"] = rss_mb()
        if "image_s" in marks and getattr(session.document, "textures_ready", True):
            flush(app)
            canvas.viewport().repaint()
            marks["maps_s"] = time.perf_counter() - t0
            marks["rss_mb_maps"] = rss_mb()
            marks["rss_mb_peak_open"] = rss_mb("VmHWM")  # before any layer is switched on
            break
        if now > 0 and "image_s" not in marks:
            time.sleep(0.001)
    result: dict[str, object] = dict(marks)
    result["rss_mb_before"] = rss_before
    result["rss_mb_open"] = rss_mb()
    result["layers_default"] = layer_bytes(window)
    for name in ("texture", "prediction"):
        window.layers.set_visible(name, True)
    doc = session.document
    window.layers.set_prediction({c: np.full(doc.shape, 200, np.uint8) for c in ("pore",)})
    flush(app)
    result["layers_all_on"] = layer_bytes(window)
    result["rss_mb_all_layers"] = rss_mb()
    result["rss_mb_peak"] = rss_mb("VmHWM")
    window.close()
    return result


def run_large(against: str | None = None) -> dict[str, object]:
    """Each open in a fresh process, so that its peak memory is its own."""
    import subprocess

    out: dict[str, object] = {}
    root = make_large_project(Path(tempfile.mkdtemp(prefix="skintrace-bench-large-")))
    trees = {"this tree": None} | ({"before": against} if against else {})
    for tree, source in trees.items():
        env = dict(os.environ)
        env.pop("SKINTRACE_BENCH_SOURCE", None)
        if source:
            env["SKINTRACE_BENCH_SOURCE"] = str(Path(source).resolve())
        for fmt in ("png", "jpg"):
            proc = subprocess.run(
                [sys.executable, __file__, "--one-large", fmt, str(root)],
                capture_output=True,
                text=True,
                check=False,
                env=env,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"large open {fmt} ({tree}) failed:\n{proc.stderr[-2000:]}")
            out[f"{fmt}, {tree}"] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def print_large(large: dict[str, object]) -> None:
    print(f"{'cold open 6000x4000':40s} {'first paint':>12s} {'image':>8s} {'maps+GT':>8s}")
    for key, r in large.items():
        assert isinstance(r, dict)
        print(
            f"{'  ' + key:40s} {r['first_paint_s']:10.2f} s {r['image_s']:6.2f} s"
            f" {r['maps_s']:6.2f} s"
        )
    for key, r in large.items():
        assert isinstance(r, dict)
        print(
            f"memory {key}: RSS before {r['rss_mb_before']:.0f} MB, open {r['rss_mb_open']:.0f} MB"
            f" (peak {r['rss_mb_peak_open']:.0f} MB), all layers on"
            f" {r['rss_mb_all_layers']:.0f} MB (peak {r['rss_mb_peak']:.0f} MB)"
        )
    for key, r in large.items():
        assert isinstance(r, dict)
        if not key.startswith("png"):
            continue
        print(f"{'layer (6000x4000), ' + key:40s} {'default':>10s} {'all on':>10s}")
        for name, size in r["layers_default"].items():
            print(f"  {name:38s} {size / 1e6:8.0f} MB {r['layers_all_on'][name] / 1e6:8.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--large-only", action="store_true", help="only the 6000x4000 opens")
    parser.add_argument(
        "--against", metavar="DIR", help="also run the large opens on the source tree in DIR"
    )
    parser.add_argument("--one-large", nargs=2, help=argparse.SUPPRESS)  # FORMAT PROJECT
    args = parser.parse_args()
    if args.one_large:
        tmp = Path(tempfile.mkdtemp(prefix="skintrace-bench-gui-"))
        os.environ["SKINTRACE_DATA_DIR"] = str(tmp / "data")
        QCoreApplication.setOrganizationName("SkinTraceBench")
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "cfg"))
        cv2.setNumThreads(2)
        fmt, root = args.one_large
        print(json.dumps(bench_large(Path(root), fmt)))
        return
    if args.large_only:
        large = run_large(args.against)
        print_large(large)
        out = ROOT / "bench-results" / "bench_gui_large.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(large, indent=2))
        print(f"wrote {out}")
        return
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
    results["large_open"] = run_large(args.against)
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
    print_large(results["large_open"])  # type: ignore[arg-type]
    out = ROOT / "bench-results" / "bench_gui.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
