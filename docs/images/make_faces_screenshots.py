"""Render docs/images/zones-astronaut.png, zones-porenet.png and report.png.

zones-astronaut.png: skimage's astronaut, face detected in the background, Zones layer and
the Measurements table. zones-porenet.png: the real half face of ``../shared/real/
porenet_left`` (only if present; never copied into the repository): no face is found, so the
face is placed by hand (three clicks; the left eye and the nose base lie on or past the
image's right edge, where the photo was cut). report.png: ``skintrace report`` of a small
project opened in headless Chromium.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/images/make_faces_screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "images"
REAL = ROOT.parent / "shared" / "real" / "porenet_left" / "image.png"


def spin(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def project_of(tmp: Path, name: str, image: np.ndarray | Path, rough=None) -> Path:
    from core.imageio import save_png
    from core.project import Project

    src = tmp / f"src-{name}"
    src.mkdir(parents=True)
    if isinstance(image, Path):
        os.symlink(image, src / image.name)  # imported by reference: never copied
    else:
        save_png(src / f"{name}.png", image)
    root = tmp / f"proj-{name}"
    with Project.create(root, name=name) as p:
        list(p.import_images(src))
        if rough is not None:
            (rec,) = p.images()
            p.save_rough(rec.id, rough)
    return root


def report_project(tmp: Path, astro: np.ndarray) -> Path:
    """Four variants of the astronaut (mirrored, rotated, rescaled), GT everywhere."""
    import cv2

    from core.imageio import save_png
    from core.project import Project

    src = tmp / "src-report"
    variants = {"astronaut": astro, "mirrored": astro[:, ::-1].copy()}
    rot = cv2.getRotationMatrix2D((256, 256), 8, 1.0)
    variants["rotated"] = cv2.warpAffine(astro, rot, (512, 512), borderMode=cv2.BORDER_REFLECT)
    variants["rescaled"] = cv2.resize(astro, (700, 700), interpolation=cv2.INTER_CUBIC)
    for name, img in variants.items():
        save_png(src / f"{name}.png", img)
    root = tmp / "proj-report"
    with Project.create(root, name="astronaut variants") as p:
        list(p.import_images(src))
        for rec in p.images():
            full = np.ones((rec.rows, rec.cols), bool)
            p.save_rough(rec.id, {"wrinkle": full, "pore": full})
    return root


def shot(window, root: Path, out: Path, *, zoom: float, centre: tuple[float, float], place=None) -> None:  # fmt: skip
    from PySide6.QtWidgets import QDockWidget

    window.open_project(root)
    window.layers.set_visible("rough", False)  # the zones are the subject here
    dock = window.findChild(QDockWidget, "dock_faces")
    dock.raise_()
    for _ in range(100):
        spin(100)
        if window.faces.result is not None:
            break
    if place is not None:
        window.faces.start_placing()
        for r, c in place:
            window.faces.place_point(r, c)
    spin(1500)
    window.canvas.set_zoom(zoom)
    window.canvas.centerOn(centre[1], centre[0])
    spin(500)
    window.grab().save(str(out))
    print(out, window.face_panel.state.text())


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="skintrace-faces-shot-"))
    os.environ["SKINTRACE_DATA_DIR"] = str(tmp / "data")
    from PySide6.QtCore import QSettings
    from skimage import data

    from app.gui.app import application
    from app.gui.main_window import MainWindow

    app = application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "cfg"))
    window = MainWindow()
    window.resize(1500, 900)
    window.show()
    astro = data.astronaut()
    rough = {"wrinkle": np.zeros(astro.shape[:2], bool), "pore": np.zeros(astro.shape[:2], bool)}
    rough["wrinkle"][90:120, 180:270] = True
    rough["pore"][110:160, 185:265] = True
    root = project_of(tmp, "astronaut", astro, rough)
    shot(window, root, OUT / "zones-astronaut.png", zoom=3.2, centre=(125, 225))
    if REAL.is_file():
        # subject's right eye, left eye (mirrored across the cut at column 787), nose base
        place = [(890.0, 390.0), (890.0, 1184.0), (1400.0, 787.0)]
        root = project_of(tmp, "porenet", REAL)
        shot(window, root, OUT / "zones-porenet.png", zoom=0.42, centre=(900, 560), place=place)
    else:
        print(f"{REAL} is absent: zones-porenet.png not made")
    window.session.flush(10)
    window.close()
    app.processEvents()
    report = tmp / "report"
    subprocess.run([sys.executable, "-m", "app", "report", str(report_project(tmp, astro)), "--out", str(report), "-q"], check=True, cwd=ROOT)  # fmt: skip
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--screenshot={OUT / 'report.png'}", "--window-size=1100,1400", (report / "report.html").as_uri()],
        check=True, capture_output=True,
    )  # fmt: skip
    print(OUT / "report.png")


if __name__ == "__main__":
    main()
