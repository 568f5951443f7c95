"""Click-to-pore, box-select, snapped brush and polyline: real mouse and key events."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from .helpers import drag, widget_point

SIZE = (120, 160)
PORES = [(30, 30), (30, 50), (45, 40), (90, 130)]  # (row, col); the last one is far away
LINE_COL = 100  # a 2-px dark vertical wrinkle at cols 100-101, rows 20-100


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    gray = np.full(SIZE, 190.0) + rng.normal(0, 1.0, SIZE)
    rr, cc = np.ogrid[: SIZE[0], : SIZE[1]]
    for r, c in PORES:
        gray -= 60 * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * 1.4**2))
    gray[20:101, LINE_COL : LINE_COL + 2] -= 60
    rgb = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return np.repeat(rgb[:, :, None], 3, axis=2)


@pytest.fixture
def project_dir(tmp_path):
    from core.imageio import save_png
    from core.project import Project

    src = tmp_path / "src"
    src.mkdir()
    save_png(src / "skin.png", _image())
    root = tmp_path / "project"
    with Project.create(root, name="precision") as project:
        for _ in project.import_images(src, copy=True):
            pass
    return root


def _click(canvas, row, col, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.mouseClick(
        canvas.viewport(), Qt.MouseButton.LeftButton, modifier, widget_point(canvas, row, col)
    )


def _key(window, key, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(window.canvas, key, modifier)


def test_click_adds_the_pore_under_the_cursor_as_one_undo_step(window):
    canvas, doc = window.canvas, window.canvas.document
    window.tools.set_class("wrinkle")
    _key(window, Qt.Key.Key_O)  # the pore picker, which paints the pore class
    assert window.tools.tool == "pore" and window.tools.cls == "pore"
    _click(canvas, 31, 29)  # a pixel off the centre
    rough, gt = doc.rough("pore"), doc.gt("pore")
    assert rough[30, 30] and gt[30, 30] > 0
    assert not rough[30, 50] and not rough[45, 40]  # only the one clicked
    assert 9 <= rough.sum() <= 80  # a disk sized to the 1-2 px pore, not the brush
    assert not gt[~rough].any()  # GT stays rough × texture
    assert len(doc.history) == 1
    _click(canvas, 10, 10)  # flat skin: nothing, and no empty undo step
    assert len(doc.history) == 1
    assert "no pore" in window.status.currentMessage()
    _key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not doc.rough("pore").any() and not doc.gt("pore").any()


def test_shift_drag_adds_every_pore_in_the_box_as_one_undo_step(window):
    canvas, doc = window.canvas, window.canvas.document
    window.tools.set_tool("pore")
    vp, shift = canvas.viewport(), Qt.KeyboardModifier.ShiftModifier
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, shift, widget_point(canvas, 20, 20))
    QTest.mouseMove(vp, widget_point(canvas, 40, 40))
    QTest.mouseMove(vp, widget_point(canvas, 55, 60))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, shift, widget_point(canvas, 55, 60))
    rough = doc.rough("pore")
    assert all(rough[r, c] for r, c in PORES[:3])
    assert not rough[90, 130]  # outside the box
    assert (doc.gt("pore")[[30, 30, 45], [30, 50, 40]] > 0).all()
    assert len(doc.history) == 1 and doc.history[0].label == "3 pores"
    _key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not doc.rough("pore").any()


def _along_line(offset: float) -> list[tuple[float, float]]:
    return [(r, LINE_COL + offset) for r in range(25, 96, 5)]


def test_snapped_brush_follows_the_wrinkle_centreline(window):
    canvas, doc = window.canvas, window.canvas.document
    window.tools.set_class("wrinkle")
    window.tools.set_radius(2)
    _key(window, Qt.Key.Key_S)  # snap on
    assert window.tools.snap and window.tools_panel.snap_box.isChecked()
    drag(canvas, _along_line(-3.5))  # 3.5 px left of the line, all the way
    rough, gt = doc.rough("wrinkle"), doc.gt("wrinkle")
    assert rough[25:96, LINE_COL : LINE_COL + 2].all()  # the centreline is covered
    assert not rough[25:96, LINE_COL - 5].any()  # ...not where the pointer went
    assert gt[25:96, LINE_COL : LINE_COL + 2].mean() > 0.9 and not gt[~rough].any()
    assert len(doc.history) == 1
    _key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not doc.rough("wrinkle").any()
    # The same drag without snapping paints where the pointer went and misses the line.
    _key(window, Qt.Key.Key_S)
    drag(canvas, _along_line(-3.5))
    assert not doc.rough("wrinkle")[25:96, LINE_COL].any()


def test_polyline_clicks_then_enter_paint_one_snapped_stroke(window):
    canvas, doc = window.canvas, window.canvas.document
    window.tools.set_class("wrinkle")
    _key(window, Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)
    assert window.tools.tool == "polyline"
    for r, c in [(22, LINE_COL + 3), (60, LINE_COL - 3), (98, LINE_COL + 3)]:
        _click(canvas, r, c)
    assert not doc.rough("wrinkle").any()  # nothing painted before Enter
    _click(canvas, 70, 20)
    _key(window, Qt.Key.Key_Backspace)  # drops the stray last point
    _key(window, Qt.Key.Key_Return)
    rough = doc.rough("wrinkle")
    assert rough[24:97, LINE_COL : LINE_COL + 2].all()
    assert not rough[:, :60].any()  # the dropped point left no trace
    assert len(doc.history) == 1
    assert "snapped" in window.status.currentMessage()
    # Esc cancels a polyline in progress.
    _click(canvas, 30, 20)
    _click(canvas, 60, 20)
    _key(window, Qt.Key.Key_Escape)
    _key(window, Qt.Key.Key_Return)
    assert len(doc.history) == 1


def _shown(window) -> np.ndarray:
    qimage = window.canvas.stack.image_item.qimage  # the shown pixels (drawn without a pixmap)
    qimage = qimage.convertToFormat(qimage.Format.Format_RGB888)
    rows, cols = qimage.height(), qimage.width()
    buf = np.frombuffer(qimage.constBits(), np.uint8, count=qimage.sizeInBytes())
    return buf.reshape(rows, qimage.bytesPerLine())[:, : cols * 3].reshape(rows, cols, 3).copy()


def test_image_views_change_only_what_is_shown(window):
    from core.gt.views import skin_view

    doc = window.canvas.document
    image = doc.image.copy()
    gt_before = doc.gt("pore").copy()
    window.canvas.stack.set_image_view("green")
    np.testing.assert_array_equal(_shown(window), skin_view(image, "green"))
    _key(window, Qt.Key.Key_V)  # next: CLAHE
    assert window.canvas.stack.image_view == "clahe"
    assert "CLAHE" in window.status.currentMessage()
    np.testing.assert_array_equal(_shown(window), skin_view(image, "clahe"))
    _key(window, Qt.Key.Key_V)  # back to colour
    np.testing.assert_array_equal(_shown(window), image)
    np.testing.assert_array_equal(doc.image, image)  # the data never changes
    np.testing.assert_array_equal(doc.gt("pore"), gt_before)


def test_exclusion_mask_is_painted_with_x_and_saved(window, project_dir, qtbot):
    from core.project import Project

    canvas, doc = window.canvas, window.canvas.document
    window.tools.set_tool("pore")
    _click(canvas, 30, 30)
    assert doc.gt("pore")[30, 30] > 0
    window.tools.set_tool("brush")
    _key(window, Qt.Key.Key_X)
    assert window.tools.cls == "exclude" and window.tools_panel.class_buttons["exclude"].isChecked()
    window.tools.set_radius(6)
    drag(canvas, [(30, 22), (30, 38)])
    assert doc.exclude[30, 30] and doc.rough("pore")[30, 30]  # the pore's rough stays...
    assert not doc.gt("pore")[30, 30]  # ...but its GT is gone under the exclusion
    assert canvas.stack.overlays["rough"].array[30, 25] != 0  # drawn in the rough layer
    _key(window, Qt.Key.Key_Tab)  # Tab goes back to the classes
    assert window.tools.cls in ("wrinkle", "pore")
    window.flush_async()
    assert window.session.writer.wait_idle(10)
    with Project.open(project_dir, read_only=True) as p:
        assert p.load_exclusion(1)[30, 30]


def test_a_large_pore_box_is_searched_on_a_worker(window, qtbot, monkeypatch):
    import app.gui.canvas as canvas_module

    monkeypatch.setattr(canvas_module, "BOX_IN_WORKER", 100)  # every box "large"
    canvas, doc = window.canvas, window.canvas.document
    window.tools.set_tool("pore")
    vp, shift = canvas.viewport(), Qt.KeyboardModifier.ShiftModifier
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, shift, widget_point(canvas, 20, 20))
    QTest.mouseMove(vp, widget_point(canvas, 55, 60))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, shift, widget_point(canvas, 55, 60))
    assert "finding the pores" in window.status.currentMessage()
    qtbot.waitUntil(lambda: len(doc.history) == 1, timeout=10000)
    assert all(doc.rough("pore")[r, c] for r, c in PORES[:3])
    assert doc.history[0].label == "3 pores"
