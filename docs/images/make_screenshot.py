"""Render docs/images/window.png and review.png from the demo project.

window.png: the window with painted strokes. review.png: review mode on an image whose
baseline pre-label was turned into rough masks, with the prediction layer and the
image's history.

Run under a real X server for true fonts and window decorations, e.g.::

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/images/make_screenshot.py

Uses a temporary data folder and settings, so the user's own demo is untouched.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="skintrace-shot-"))
    os.environ["SKINTRACE_DATA_DIR"] = str(tmp / "data")
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtTest import QTest

    from app.gui.app import application
    from app.gui.main_window import MainWindow
    from core.demo import ensure_demo_project

    app = application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "cfg"))
    window = MainWindow()
    window.resize(1560, 940)
    window.open_project(ensure_demo_project())
    window.show()
    records = window.image_list.model.records
    for _ in range(200):  # wait for the thumbnails (made in workers)
        QTest.qWait(20)
        if all(window.image_list.model.has_thumbnail(r.id) for r in records):
            break
    canvas = window.canvas
    canvas.fit()
    # A few extra strokes on the painted demo face: a forehead wrinkle and a pore patch.
    sys.path.insert(0, str(ROOT / "tests" / "app"))
    from helpers import drag  # type: ignore[import-not-found]

    window.tools.set_class("wrinkle")
    window.tools.set_radius(7)
    drag(canvas, [(150, 300), (146, 360), (150, 420), (158, 470)])
    window.tools.set_class("pore")
    window.tools.set_tool("lasso")
    drag(canvas, [(430, 560), (420, 640), (480, 660), (500, 590)])
    window.tools.set_tool("brush")
    window.tools.set_radius(9)
    pos = canvas.image_to_view(300, 420).toPoint()
    QTest.mouseMove(canvas.viewport(), pos)
    for _ in range(20):
        app.processEvents()
        QTest.qWait(20)
    out = ROOT / "docs" / "images" / "window.png"
    window.grab().save(str(out))
    print(f"wrote {out}")
    review_shot(window)
    window.close()
    QCoreApplication.processEvents()


def _wait(condition, timeout_s: float = 30.0) -> None:
    import time

    from PySide6.QtTest import QTest

    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for the window")
        QTest.qWait(20)


def review_shot(window) -> None:  # type: ignore[no-untyped-def]
    """Two images pre-labeled, turned into rough masks and submitted; then review mode."""
    from PySide6.QtWidgets import QDockWidget

    session = window.session
    ids = {r.name: r.id for r in window.image_list.model.records}
    for name in ("face-02.png", "face-03.png"):
        window.open_image(ids[name])
        _wait(lambda n=name: session.current is not None and session.current.record.name == n)
        _wait(lambda: window.prelabels.shown_source() is not None)
        window.prelabels.use_as_rough()
        window.submit()
    session.flush(30)
    window.review.set_active(True)
    _wait(lambda: session.current.record.name == "face-02.png")
    window.findChild(QDockWidget, "dock_history").raise_()
    window.canvas.fit()
    _wait(lambda: window.review_panel.list.currentItem() is not None)
    window.status.clearMessage()
    for _ in range(20):
        window.repaint()
        from PySide6.QtTest import QTest

        QTest.qWait(20)
    out = ROOT / "docs" / "images" / "review.png"
    window.grab().save(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
