"""Layer styles in the window: strokes redraw only their region yet match a full redraw."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.gui.overlay import compose_rough
from core.classes import CLASSES

from .helpers import drag


def test_painted_and_erased_strokes_keep_outline_and_hatching_exact(qtbot, window):
    w = window
    c = w.canvas
    w.tools.set_radius(4)
    drag(c, [(30, 20), (35, 60), (40, 100)])
    QTest.keyClick(c, Qt.Key.Key_P)
    drag(c, [(60, 30), (62, 50)])
    QTest.keyClick(c, Qt.Key.Key_E)  # the eraser cuts the wrinkle stroke in two
    QTest.keyClick(c, Qt.Key.Key_W)
    w.tools.set_radius(3)
    drag(c, [(20, 60), (50, 60)])
    doc = c.document
    assert doc.rough("wrinkle").any() and doc.rough("pore").any()
    colors = [w.layers.color(cls) for cls in CLASSES]
    full = compose_rough([doc.rough(cls) for cls in CLASSES], colors)
    np.testing.assert_array_equal(c.stack.overlays["rough"].array, full)
    QTest.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo too
    full = compose_rough([doc.rough(cls) for cls in CLASSES], colors)
    np.testing.assert_array_equal(c.stack.overlays["rough"].array, full)
