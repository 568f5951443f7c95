"""The window fits on first show, remembers each project's state, and guides a first run."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from app.gui.start_hint import DISMISSED_KEY, dismissed
from core.project import Project

from .helpers import SHAPE, drag, make_project, open_window, wheel, widget_point


def fitted_zoom(canvas) -> float:
    vp = canvas.viewport().rect()
    rows, cols = SHAPE
    return 0.98 * min(vp.width() / cols, vp.height() / rows)


def test_the_first_image_is_fitted_on_first_show_and_stays_fitted(qtbot, window):
    c = window.canvas
    assert c.fit_mode
    assert abs(c.zoom - fitted_zoom(c)) < 1e-6
    window.resize(900, 620)  # still fitted after the window changes size
    qtbot.waitUntil(lambda: abs(c.zoom - fitted_zoom(c)) < 1e-6, timeout=2000)
    wheel(c, widget_point(c, 40, 60), 2)  # zooming by hand leaves fit mode
    assert not c.fit_mode
    window.resize(1000, 650)
    qtbot.wait(20)
    assert abs(c.zoom - fitted_zoom(c)) > 1e-3
    QTest.keyClick(c, Qt.Key.Key_F)
    assert c.fit_mode and abs(c.zoom - fitted_zoom(c)) < 1e-6


def test_reopening_a_project_restores_image_view_tool_radius_and_layers(qtbot, project_dir):
    w = open_window(qtbot, project_dir)
    c = w.canvas
    QTest.keyClick(c, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: w.session.current.record.name == "face-1.png", timeout=5000)
    for k in (Qt.Key.Key_E, Qt.Key.Key_P, Qt.Key.Key_BracketRight, Qt.Key.Key_BracketRight):
        QTest.keyClick(c, k)
    QTest.keyClick(c, Qt.Key.Key_T)  # texture layer on
    QTest.keyClick(c, Qt.Key.Key_G)  # ground truth off
    w.layers_panel.sliders["rough"].setValue(35)
    wheel(c, widget_point(c, 30, 80), 3)
    zoom, centre = c.zoom, c.view_state()[1:]
    radius = w.tools.radius
    assert radius != 6
    w.close()

    w2 = open_window(qtbot, project_dir)
    try:
        assert w2.session.current.record.name == "face-1.png"
        assert (w2.tools.tool, w2.tools.cls, w2.tools.radius) == ("eraser", "pore", radius)
        assert w2.layers.state("texture").visible and not w2.layers.state("gt").visible
        assert w2.layers.state("rough").opacity == 0.35
        assert w2.layers_panel.sliders["rough"].value() == 35
        assert not w2.canvas.fit_mode
        assert abs(w2.canvas.zoom - zoom) < 1e-6
        assert np.allclose(w2.canvas.view_state()[1:], centre, atol=1.0)
    finally:
        w2.close()


def test_first_run_opens_the_first_new_image_with_a_dismissible_hint(qtbot, tmp_path):
    QSettings().remove(DISMISSED_KEY)  # a first run (conftest dismisses it for other tests)
    root = make_project(tmp_path, count=3)
    with Project.open(root) as project:
        first = project.images()[0].id
        mask = np.zeros(SHAPE, bool)
        mask[20:30, 20:60] = True
        project.save_rough(first, {"wrinkle": mask})  # started: in progress
    w = open_window(qtbot, root)
    try:
        assert w.session.current.record.name == "face-1.png"  # the first new image
        hint = w.start_hint
        assert hint.isVisible() and "brush (B)" in hint.text.text()
        # the hint takes no keys: B / P work with it shown
        QTest.keyClick(w.canvas, Qt.Key.Key_P)
        assert w.tools.cls == "pore"
        QTest.mouseClick(hint.dismiss_button, Qt.MouseButton.LeftButton)
        assert not hint.isVisible() and dismissed()
        drag(w.canvas, [(50, 40), (50, 80)])  # painting works as usual
        assert w.canvas.document.rough("pore").any()
    finally:
        w.close()
    w2 = open_window(qtbot, root)
    try:
        assert not w2.start_hint.isVisible()  # dismissed for good
        w2.registry["start_hint"].trigger()  # Help -> Start hint shows it again
        assert w2.start_hint.isVisible()
    finally:
        w2.close()
