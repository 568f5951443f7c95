"""Longest GUI-thread stall while the window saves large masks and cancels a training run.

Issue #11: the GUI thread must not wait on disk. A 1 ms precise QTimer on the GUI thread
stamps every tick; a stall is the longest gap between two ticks (the event loop could not
run). The waits below spin a QEventLoop, so the benchmark itself never blocks the thread.
Each scenario runs ``--repeats`` times in the real main window (offscreen):

* ``idle``: nothing happens, for one second (the floor: timer and machine scheduling);
* ``switch, no save``: the open 6000x4000 image is unchanged; the annotator opens the next
  (small) image. Measured until the image is shown and every job has ended;
* ``switch + save, smooth``: both rough masks of the 6000x4000 image changed (face-like
  masks), then the next image: the window queues the masks' save on its writer and shows
  the next image, reading that image's parameters from the catalog meanwhile. Measured
  until the save is on disk;
* ``switch + save, noisy``: the same with 50 % random masks (large PNGs, slow to encode);
* ``cancel training``: a real ``app train`` process (tiny network) past its first epoch,
  its run folder padded with ``--run-files`` files, then the dock's Cancel button.
  Measured until the run is reported cancelled (process ended, run folder removed);
* ``cancel training, blocking``: the same through ``cancel(wait=True)``, the pre-#11 path
  (wait for the process and delete the folder on the GUI thread; kept for closing).

Target: the longest stall < 16 ms (one frame at 60 Hz). The save rows measure the whole
window path, so they include the catalog's locking (the ``storage`` work of issue #11).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_stall.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

LARGE = (4000, 6000)
SMALL = (96, 128)
TARGET_MS = 16.0


class StallMeter:
    """The longest gap between the ticks of a 1 ms timer on the GUI thread."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.longest = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.last, self.longest, self.ticks = time.perf_counter(), 0.0, 0
        self.timer.start()

    def stop(self) -> float:
        """The longest stall in ms (the gap up to now included)."""
        self._tick()
        self.timer.stop()
        return self.longest * 1000


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the event loop until ``cond()``; never blocks the GUI thread itself."""
    loop = QEventLoop()
    deadline = time.monotonic() + timeout
    poll = QTimer()
    poll.setInterval(2)

    def check() -> None:
        if cond() or time.monotonic() > deadline:
            loop.quit()

    poll.timeout.connect(check)
    poll.start()
    if not cond():
        loop.exec()
    poll.stop()
    if not cond():
        raise SystemExit(f"timed out waiting for {what}")


def settle(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def make_save_project(tmp: Path) -> Path:
    """A project: a small face (opened between the saves) and a 6000x4000 face."""
    import cv2

    from core.demo.synthetic import make_face
    from core.imageio import save_png
    from core.project import Project

    src = tmp / "src-save"
    src.mkdir(parents=True)
    save_png(src / "a-small.png", make_face(7, shape=SMALL).image)
    face = make_face(3)
    big = cv2.resize(np.array(face.image), (LARGE[1], LARGE[0]), interpolation=cv2.INTER_LINEAR)
    save_png(src / "b-large.png", big)
    root = tmp / "save-project"
    with Project.create(root, name="stall") as p:
        for _ in p.import_images(src, copy=True):
            pass
    return root


def masks(kind: str, seed: int) -> dict[str, np.ndarray]:
    import cv2

    from core.demo.synthetic import make_face

    rng = np.random.default_rng(seed)
    if kind == "noisy":
        return {c: rng.random(LARGE) < 0.5 for c in ("wrinkle", "pore")}
    rough = make_face(seed).rough
    size = (LARGE[1], LARGE[0])
    return {
        c: cv2.resize(np.asarray(rough[c], np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        for c in ("wrinkle", "pore")
    }


def quiet(window) -> bool:
    """Nothing of the window's in flight: writes, workers, a zone measurement to come."""
    from app.gui import workers

    s = window.session
    return (
        s is not None
        and s.writer.pending() == 0
        and workers.running() == 0
        and not window.prelabels.busy()
        and not s.maps_pending
        and not window.faces._measure_timer.isActive()
    )


def bench_saves(window, root: Path, repeats: int) -> dict[str, list[float]]:
    assert window.open_project(root)
    s = window.session
    ids = {r.name: r.id for r in s.records()}
    small, large = ids["a-small.png"], ids["b-large.png"]
    out: dict[str, list[float]] = {"idle": [], "switch, no save": []}
    meter = StallMeter()
    s._autosave.setInterval(10**8)  # the save under test is the switch's, not an autosave

    def open_large() -> None:
        window.open_image(large)
        wait_until(lambda: s.current is not None and s.current.image_id == large, 600, "large")
        wait_until(lambda: quiet(window), 600, "the large image's maps and pre-label")
        settle(200)

    for i in range(repeats):
        open_large()
        meter.start()
        settle(1000)
        out["idle"].append(meter.stop())
        for kind in ("no save", "smooth", "noisy"):
            if kind != "no save":
                for cls, mask in masks(kind, 3 + i).items():
                    s.document.set_rough(cls, mask)
                wait_until(lambda: quiet(window), 600, "the new masks' GT")
                assert large in s._dirty, "the masks were saved before the switch"
            meter.start()
            window.open_image(small)  # saves the large image's masks, shows the small one
            wait_until(
                lambda: s.current is not None and s.current.image_id == small and quiet(window),
                600,
                "the switch and the save",
            )
            settle(50)
            key = "switch, no save" if kind == "no save" else f"switch + save, {kind}"
            out.setdefault(key, []).append(meter.stop())
            if kind != "no save":
                assert not s._dirty, "the masks were not saved"
            open_large()
    return out


def make_train_project(tmp: Path) -> Path:
    from core.demo.synthetic import make_face
    from core.imageio import save_png
    from core.project import Project

    src = tmp / "src-train"
    src.mkdir(parents=True)
    for i in range(3):
        save_png(src / f"face-{i}.png", make_face(10 + i, shape=SMALL).image)
    root = tmp / "train-project"
    with Project.create(root, name="stall-train") as p:
        for _ in p.import_images(src, copy=True):
            pass
        for r in p.images()[:2]:
            p.save_rough(r.id, make_face(10 + r.id - 1, shape=SMALL).rough)
            for status in ("submitted", "accepted"):
                p.set_status(r.id, status)
        p.set_setting(
            "retrain.options",
            {"width": 4, "epochs": 500, "device": "cpu", "threads": 1, "patience": 500},
        )
    return root


def bench_cancels(window, root: Path, repeats: int, run_files: int) -> dict[str, list[float]]:
    assert window.open_project(root)
    training = window.training
    out: dict[str, list[float]] = {"cancel training": [], "cancel training, blocking": []}
    meter = StallMeter()
    epochs: list[dict] = []
    training.epochReported.connect(epochs.append)
    padding = b"\0" * 16384
    for _ in range(repeats):
        for key in out:
            epochs.clear()
            assert training.start()
            wait_until(lambda: bool(epochs), 300, "the first epoch")
            run = training.run.root
            for n in range(run_files):  # a run folder with a dataset export's worth of files
                (run / f"pad-{n:05d}.bin").write_bytes(padding)
            settle(200)
            meter.start()
            if key == "cancel training":
                window.training_panel.cancel_button.click()
            else:
                training.cancel(wait=True)
            wait_until(lambda: training.state == "idle", 120, "the cancel")
            settle(50)
            out[key].append(meter.stop())
            assert not run.exists() and training.last_result["outcome"] == "cancelled"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--run-files", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="one repeat, 200 run files")
    args = parser.parse_args()
    repeats, run_files = (1, 200) if args.quick else (args.repeats, args.run_files)

    app = QApplication.instance() or QApplication([])
    from app.gui.app import GUI_SWITCH_INTERVAL_S
    from app.gui.main_window import MainWindow

    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)  # as app.gui.app.application() sets it

    window = MainWindow()
    window.prelabels.ahead = False
    window.faces.detect = False  # no dlib landmarks: not what is measured
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-stall-") as tmp:
        results.update(bench_saves(window, make_save_project(Path(tmp)), repeats))
        results.update(bench_cancels(window, make_train_project(Path(tmp)), repeats, run_files))
        window.close()

    print(f"longest GUI-thread stall, 1 ms timer, {repeats} run(s), target < {TARGET_MS:.0f} ms")
    print(f"{'scenario':34s} {'median ms':>10s} {'max ms':>8s}")
    for key, values in results.items():
        print(f"{key:34s} {statistics.median(values):10.1f} {max(values):8.1f}")
    blocking = statistics.median(results["cancel training, blocking"])
    cancel = statistics.median(results["cancel training"])
    print(f"cancel: blocking / at once = {blocking / max(cancel, 1e-9):.0f}x")
    out = ROOT / "bench-results" / "bench_gui_stall.json"
    out.parent.mkdir(exist_ok=True)
    payload = {"repeats": repeats, "run_files": run_files, "stall_ms": results}
    out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
