"""Render the screenshots of the README and docs/ from the demo project.

- ``start.png`` (1366×768): the first run: the first *new* image, fitted, with the start
  hint.
- ``window.png`` (1600×1000): the same image with a few strokes: rough masks (outlined
  and hatched), their ground truth (solid) and the baseline pre-label (dashed contours).
- ``review.png`` (1366×768): review mode on the *Model pre-labels* queue, the pre-label
  shown as the prediction layer, and the image's history.

Run under a real X server with a window manager, for true fonts and decorations::

    xvfb-run -s "-screen 0 1600x1000x24" sh -c \
        "openbox & sleep 1; .venv/bin/python docs/images/make_screenshot.py"

Uses a temporary data folder and settings, so the user's own demo is untouched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT))


def settle(ms: int = 400) -> None:
    from PySide6.QtTest import QTest

    QTest.qWait(ms)


def wait(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    from PySide6.QtTest import QTest

    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for the window")
        QTest.qWait(20)


def save(window, name: str) -> None:  # type: ignore[no-untyped-def]
    window.status.clearMessage()
    settle()
    out = OUT / name
    window.grab().save(str(out))
    print(f"wrote {out} ({window.width()}x{window.height()})")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="skintrace-shot-"))
    os.environ["SKINTRACE_DATA_DIR"] = str(tmp / "data")
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QDockWidget

    from app.gui.app import application
    from app.gui.main_window import MainWindow
    from core.demo.projects import ensure_demo_project

    app = application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "cfg"))
    window = MainWindow()
    window.resize(1366, 768)
    window.open_project(ensure_demo_project())
    window.show()
    records = window.image_list.model.records
    wait(lambda: all(window.image_list.model.has_thumbnail(r.id) for r in records))
    session = window.session
    wait(lambda: window.prelabels.shown_source() is not None)  # the open image's pre-label
    save(window, "start.png")

    window.start_hint.dismiss()
    window.resize(1600, 1000)
    settle()
    canvas = window.canvas
    canvas.fit()
    sys.path.insert(0, str(ROOT / "tests" / "app"))
    from helpers import drag  # type: ignore[import-not-found]

    window.tools.set_class("wrinkle")
    window.tools.set_radius(8)
    drag(canvas, [(150, 290), (144, 360), (146, 430), (156, 480)])
    drag(canvas, [(196, 300), (192, 380), (198, 460)])
    window.tools.set_class("pore")
    window.tools.set_tool("lasso")
    drag(canvas, [(420, 180), (400, 260), (470, 300), (520, 240), (490, 180)])
    window.tools.set_tool("brush")
    window.tools.set_class("wrinkle")
    pos = canvas.image_to_view(300, 420).toPoint()
    from PySide6.QtTest import QTest

    QTest.mouseMove(canvas.viewport(), pos)
    save(window, "window.png")

    # review mode on the pre-label queue (the images pre-labelled ahead of the annotator;
    # the one painted above is in progress now), at the small laptop size
    window.resize(1366, 768)
    window.review.set_queue("prelabeled")
    wait(lambda: len(window.review.queue()) >= 2, timeout_s=180)
    window.review.set_active(True)
    wait(
        lambda: (
            session.current is not None
            and session.current.image_id in window.review.queue()
            and window.prelabels.shown_source() is not None
        )
    )
    window.findChild(QDockWidget, "dock_history").raise_()
    canvas.fit()
    save(window, "review.png")
    window.close()
    QCoreApplication.processEvents()
    del app


if __name__ == "__main__":
    main()
