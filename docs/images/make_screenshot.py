"""Render docs/images/window.png: the window on the demo project with painted strokes.

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
    window.close()
    QCoreApplication.processEvents()


if __name__ == "__main__":
    main()
