"""What the annotator sees: overlay colours in a rendered window, status bar, live GT params."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from app.gui.main_window import MainWindow
from core.gt.engine import compute_gt
from core.project import Project

from .helpers import drag, hover, make_project, widget_point


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.project_dir = make_project(tmp_path, count=2)
    assert w.open_project(w.project_dir)
    w.show()
    qtbot.waitExposed(w)
    # The open image's pre-label is computed in the background: let it arrive first, or it
    # would replace the prediction a test sets (a race that depends on machine load).
    qtbot.waitUntil(lambda: w.layers.prediction() is not None, timeout=30_000)
    w.canvas.set_zoom(4.0)
    w.canvas.centerOn(64, 48)
    yield w
    w.close()


def _window_pixel(w: MainWindow, shot, row: float, col: float) -> str:
    pos = w.canvas.viewport().mapTo(w, widget_point(w.canvas, row, col))
    ratio = shot.devicePixelRatio()
    return QColor(shot.pixel(QPoint(round(pos.x() * ratio), round(pos.y() * ratio)))).name()


def test_screenshot_shows_class_colours_where_painted(window, tmp_path, qtbot):
    w = window
    # the open image's own pre-label is shown first (it would replace the one set below)
    qtbot.waitUntil(lambda: w.prelabels.shown_source() is not None, timeout=10000)
    for name, visible in (("rough", True), ("gt", False), ("texture", False), ("prediction", True)):
        w.layers.set_visible(name, visible)
    w.layers.set_opacity("rough", 1.0)
    w.layers.set_opacity("prediction", 1.0)
    w.tools.set_class("wrinkle")
    w.tools.set_radius(2)
    drag(w.canvas, [(40, 45), (40, 60)])
    w.tools.set_class("pore")
    w.tools.set_tool("lasso")
    drag(w.canvas, [(50, 70), (50, 80), (58, 80), (58, 70)])
    prediction = np.zeros((96, 128), np.uint8)
    prediction[30:34, 75:80] = 255
    w.layers.set_prediction({"pore": prediction})
    hover(w.canvas, 5, 5)  # brush cursor away
    image = w.grab().toImage()
    out = tmp_path / "window.png"
    assert image.save(str(out)) and out.stat().st_size > 0
    # rough masks: solid outline (the stroke's top edge, the lasso's left edge), then a
    # faint tint between the hatch lines; the prediction: a dashed contour, empty inside
    assert _window_pixel(w, image, 38, 52) == "#d55e00"
    assert _window_pixel(w, image, 54, 70) == "#56b4e9"
    rough = w.canvas.stack.overlays["rough"].array
    tint = [(r, c) for r in range(51, 58) for c in range(71, 80) if rough[r, c] >> 24 == 60]
    assert tint and _window_pixel(w, image, *tint[0]) not in ("#56b4e9", "#d55e00")
    assert _window_pixel(w, image, 29, 77) == "#56b4e9"  # its outline, just outside
    assert _window_pixel(w, image, 32, 77) != "#56b4e9"  # nothing inside it
    for r, c in ((20, 20), (70, 100)):
        assert _window_pixel(w, image, r, c) not in ("#d55e00", "#56b4e9")
    # hiding a layer removes its colour
    w.layers.set_visible("rough", False)
    image = w.grab().toImage()
    assert _window_pixel(w, image, 38, 52) != "#d55e00"


def test_gt_layer_colour_follows_preferences(window):
    w = window
    w.layers.set_visible("rough", False)
    w.layers.set_visible("prediction", False)  # the GT's colour is under test
    w.layers.set_opacity("gt", 1.0)
    w.tools.set_radius(4)
    drag(w.canvas, [(48, 20), (48, 110)])
    gt = w.canvas.document.gt("wrinkle")
    r, c = np.unravel_index(np.argmax(gt), gt.shape)
    assert gt[r, c] > 0
    from app.gui.preferences import Preferences

    w.apply_preferences(
        Preferences(user_name="x", brush_radius=4, colors={"wrinkle": "#009E73", "pore": "#56B4E9"})
    )
    hover(w.canvas, 5, 5)
    image = w.grab().toImage()
    color = QColor(_window_pixel(w, image, r, c))
    assert color.green() > color.red() and color.green() > color.blue()
    assert Preferences.load().colors["wrinkle"] == "#009E73"


def test_status_bar_shows_values_under_cursor(window, qtbot):
    w = window
    # The pre-label's note ("Pre-label by ...") takes the read-out's place while shown:
    # wait for it, then clear it, so the background job's timing cannot hide the labels.
    qtbot.waitUntil(lambda: w.prelabels.shown_source() is not None, timeout=10000)
    w.status.clearMessage()
    w.tools.set_radius(3)
    drag(w.canvas, [(48, 30), (48, 90)])
    doc = w.canvas.document
    gt = doc.gt("wrinkle")
    cols = np.flatnonzero(gt[48] > 0)
    col = int(cols[0]) if cols.size else 60
    hover(w.canvas, 48, col)
    assert w.status.position.text() == f"row 48, col {col}"
    text = w.status.values.text()
    assert f"GT W {int(gt[48, col])} P 0" in text
    assert f"texture W {float(doc.textures.wrinkle[48, col]):.1f}" in text
    assert w.status.zoom.text() == "400 %"
    for label in (w.status.position, w.status.zoom, w.status.values):
        assert label.isVisible() and label.width() >= 60


def test_params_update_texture_and_gt_live_and_are_stored(window, qtbot):
    w = window
    doc = w.canvas.document
    w.tools.set_radius(4)
    drag(w.canvas, [(48, 20), (48, 110)])
    image_id = w.session.current.image_id
    old = doc.params
    panel = w.params_panel
    assert old.wrinkle_threshold is None  # calibrated per image by default
    panel.rows["wrinkle_threshold"].auto.setChecked(False)  # a fixed number from here
    panel.rows["wrinkle_threshold"].spin.setValue(35.0)
    qtbot.waitUntil(lambda: doc.params.wrinkle_threshold == 35.0, timeout=3000)
    rough = {c: doc.rough(c) for c in ("wrinkle", "pore")}
    np.testing.assert_array_equal(
        doc.gt("wrinkle"), compute_gt(doc.image, rough, doc.params)["wrinkle"]
    )
    assert not np.array_equal(w.canvas.stack.overlays["gt"].array != 0, np.zeros((96, 128), bool))
    # this image only: an override
    panel.scope.setCurrentIndex(1)
    panel.rows["sigma"].spin.setValue(old.sigma + 1)
    panel.flush()
    assert doc.params.sigma == pytest.approx(old.sigma + 1)
    assert w.session.writer.wait_idle(10)
    with Project.open(w.project_dir, read_only=True) as p:
        assert p.params(None).wrinkle_threshold == pytest.approx(35.0)
        assert p.params(None).sigma == pytest.approx(old.sigma)
        assert p.params(image_id).sigma == pytest.approx(old.sigma + 1)
    w._clear_override(image_id)
    assert doc.params.sigma == pytest.approx(old.sigma)
    assert not panel.reset_button.isEnabled()


def test_help_shortcuts_lists_registered_actions(window):
    dialog = window.show_shortcuts()
    rows = {dialog.table.item(i, 0).text() for i in range(dialog.table.rowCount())}
    for action in window.registry.actions():
        if not action.shortcut().isEmpty():
            assert action.text().replace("&", "") in rows
    assert {"Undo stroke", "Submit and open next", "Next unfinished", "Switch class"} <= rows
    dialog.close()


def test_texture_layer_shows_active_class(window):
    w = window
    assert "texture" not in w.canvas.stack.overlays  # hidden layers get no buffer
    w.layers.set_visible("texture", True)
    arr = w.canvas.stack.overlays["texture"].array
    first = arr.copy()
    assert first.any()
    QTest.keyClick(w.canvas, Qt.Key.Key_P)
    assert w.tools.cls == "pore"
    assert not np.array_equal(first, w.canvas.stack.overlays["texture"].array)
