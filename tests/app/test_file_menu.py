"""File menu work and the less common canvas gestures."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.gui.main_window import MainWindow
from app.gui.preferences import recent_projects
from core.demo.synthetic import make_face
from core.imageio import save_png
from core.project import Project

from .helpers import SHAPE, button_drag, drag, hover, make_project, widget_point


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1200, 750)  # room for the canvas beside the docks (their min width: 1178)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_new_project_then_import_with_progress(window, tmp_path, qtbot):
    folder = tmp_path / "fresh"
    assert window.project_actions.create_project(str(folder), name="fresh")
    assert window.session is not None and window.session.current is None
    assert recent_projects()[0] == str(folder.absolute())
    src = tmp_path / "incoming"
    src.mkdir()
    for i in range(3):
        save_png(src / f"im{i}.png", make_face(40 + i, shape=SHAPE).image)
    (src / "broken.png").write_bytes(b"junk")
    worker = window.project_actions.start_import(str(src))
    assert worker is not None
    qtbot.waitUntil(lambda: worker.ended, timeout=10000)
    qtbot.waitUntil(lambda: len(window.image_list.model.records) == 3, timeout=5000)
    report = window.status.currentMessage()  # the user learns what was skipped
    assert "added 3 image(s)" in report and "1 unreadable" in report
    assert f"first skipped: {src / 'broken.png'}: not a recognised image file" in report
    from app.gui.project_dialogs import last_import_folder

    assert last_import_folder() == str(src.absolute())  # the next import starts there
    window.next_unfinished()
    qtbot.waitUntil(lambda: window.session.current is not None, timeout=5000)
    assert window.session.current.record.name.startswith("im")


def test_import_can_be_cancelled(window, tmp_path, qtbot):
    project = make_project(tmp_path, count=1)
    window.open_project(project)
    src = tmp_path / "many"
    src.mkdir()
    for i in range(12):
        save_png(src / f"m{i:02d}.png", make_face(60 + i, shape=SHAPE).image)
    worker = window.project_actions.start_import(str(src))
    aborted = []
    worker.aborted.connect(lambda: aborted.append(True))  # (it may run already)
    worker.cancel()
    qtbot.waitUntil(lambda: worker.ended, timeout=10000)
    assert worker.token.cancelled and worker.error is None and aborted == [True]
    # what was imported before the cancel is kept and listed; the window keeps working
    with Project.open(project, read_only=True) as p:
        in_catalog = [r.id for r in p.images()]
    qtbot.waitUntil(lambda: [r.id for r in window.image_list.model.records] == in_catalog)
    assert window.project_actions.progress_dialog.isHidden()


def _open(window, path, qtbot) -> None:
    assert window.open_project(path)
    qtbot.wait(20)  # let the docks settle their layout before mapping coordinates


def test_space_drag_pans_without_painting(window, tmp_path, qtbot):
    _open(window, make_project(tmp_path, count=1), qtbot)
    canvas = window.canvas
    canvas.set_zoom(3.0)
    canvas.setFocus()
    start = widget_point(canvas, 40, 60)
    before = canvas.view_to_image(start)
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    button_drag(canvas, Qt.MouseButton.LeftButton, start, QPoint(-24, 9))
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    after = canvas.view_to_image(start)
    assert after[1] == pytest.approx(before[1] + 8, abs=0.5)
    assert after[0] == pytest.approx(before[0] - 3, abs=0.5)
    assert not canvas.document.rough("wrinkle").any()
    drag(canvas, [(40, 60), (40, 62)])  # space released: the brush paints again
    assert canvas.document.rough("wrinkle")[40, 61]


def test_brush_outline_has_the_true_size(window, tmp_path, qtbot):
    _open(window, make_project(tmp_path, count=1), qtbot)
    canvas = window.canvas
    canvas.set_zoom(2.5)
    window.tools.set_radius(10)
    hover(canvas, 50, 60)
    item = canvas._cursor_item
    assert item.isVisible()
    on_screen = canvas.mapFromScene(item.rect()).boundingRect()
    assert on_screen.width() == pytest.approx(2 * 10 * 2.5, abs=1.5)
    center = item.rect().center()
    assert (center.y() - 0.5, center.x() - 0.5) == pytest.approx((50, 60), abs=0.5)
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert item.rect().width() == pytest.approx(2 * window.tools.radius)
