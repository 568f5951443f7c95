"""Shared helpers for the window tests: a small real project and image->widget mapping."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.gui.canvas import ImageCanvas
from app.gui.main_window import MainWindow

SHAPE = (96, 128)  # rows, cols: small synthetic faces keep the tests fast


def make_project(folder: Path, *, count: int = 3, shape: tuple[int, int] = SHAPE) -> Path:
    """A real project with ``count`` synthetic faces (names face-0.png, face-1.png, ...)."""
    from core.demo.synthetic import make_face
    from core.imageio import save_png
    from core.project import Project

    src = folder / "src"
    src.mkdir(parents=True)
    for i in range(count):
        save_png(src / f"face-{i}.png", make_face(10 + i, shape=shape).image)
    root = folder / "project"
    with Project.create(root, name="test project") as project:
        for _ in project.import_images(src, copy=True):
            pass
    return root


def open_window(
    qtbot,
    root: Path,
    *,
    size: tuple[int, int] = (1100, 700),
    read_only: bool = False,
    ahead: bool = True,
    messages: list[str] | None = None,
) -> MainWindow:
    """A shown, active window on the project ``root``; the canvas has the focus.

    ``ahead=False`` turns off pre-labels computed ahead of the annotator. ``messages``
    collects every status-bar message from the start (so none is missed when a later one
    replaces it before the test looks).
    """
    w = MainWindow()
    qtbot.addWidget(w)
    if messages is not None:
        w.status.messageChanged.connect(messages.append)
    w.prelabels.ahead = ahead
    w.resize(*size)
    assert w.open_project(root, read_only=read_only)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    w.canvas.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    return w


def widget_point(canvas: ImageCanvas, row: float, col: float) -> QPoint:
    """Viewport position of image pixel ``(row, col)``."""
    return canvas.image_to_view(row, col).toPoint()


def drag(canvas: ImageCanvas, points: list[tuple[float, float]], *, release: bool = True) -> None:
    """Press at the first image point, move through the rest, release at the last."""
    vp = canvas.viewport()
    first = widget_point(canvas, *points[0])
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first)
    for p in points[1:]:
        QTest.mouseMove(vp, widget_point(canvas, *p))
    if release:
        last = widget_point(canvas, *points[-1])
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, last)


def wheel(canvas: ImageCanvas, pos: QPoint, notches: float) -> None:
    """Send a real wheel event at viewport ``pos``."""
    event = QWheelEvent(
        QPointF(pos),
        QPointF(canvas.viewport().mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, round(120 * notches)),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def hover(canvas: ImageCanvas, row: float, col: float) -> None:
    """Move the mouse (no button) onto image pixel ``(row, col)``.

    Qt drops a move to the position the cursor already has, so step off it first.
    """
    target = widget_point(canvas, row, col)
    QTest.mouseMove(canvas.viewport(), target + QPoint(3, 2))
    QTest.mouseMove(canvas.viewport(), target)


def button_drag(canvas: ImageCanvas, button: Qt.MouseButton, start: QPoint, offset: QPoint) -> None:
    """Press ``button`` at viewport ``start``, move by ``offset`` in steps, release."""
    vp = canvas.viewport()
    QTest.mouseMove(vp, start + QPoint(1, 1))
    QTest.mouseMove(vp, start)
    QTest.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, start)
    for k in (1, 2, 3):
        QTest.mouseMove(vp, start + QPoint(offset.x() * k // 3, offset.y() * k // 3))
    QTest.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, start + offset)


class Recorder(QObject):
    """Records a signal's emissions on the GUI thread.

    ``qtbot.waitSignal`` connects a plain Python callable, which PySide runs directly in
    the emitting thread; for signals emitted by a worker thread (the serial writer) that
    races with the GUI thread and can crash. A QObject slot is called through the event
    loop instead, so wait with ``qtbot.waitUntil(lambda: bool(recorder.calls))``.
    """

    def __init__(self, signal) -> None:
        super().__init__()
        self.calls: list[tuple] = []
        signal.connect(self.record, Qt.ConnectionType.QueuedConnection)

    def record(self, *args) -> None:
        self.calls.append(args)
