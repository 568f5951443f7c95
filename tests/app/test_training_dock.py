"""The training dock: warning with the recommended number, verdict on top, plot axes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from app.gui.assist.metrics_plot import MARGINS, MetricsPlot
from app.gui.assist.training_panel import RECOMMENDED_ACCEPTED
from core.project import Project

from .helpers import SHAPE, make_project, open_window


def test_too_few_accepted_images_are_warned_about_with_the_recommended_number(qtbot, tmp_path):
    root = make_project(tmp_path, count=3)
    with Project.open(root) as project:
        mask = np.zeros(SHAPE, bool)
        mask[20:30, 20:60] = True
        for record in project.images()[:2]:
            project.save_rough(record.id, {"wrinkle": mask})
            project.set_status(record.id, "submitted")
        project.set_status(project.images()[0].id, "accepted")
    w = open_window(qtbot, root, size=(1366, 768))
    try:
        panel = w.training_panel
        w.findChild(QDockWidget, "dock_training").raise_()
        qtbot.waitUntil(lambda: not panel.warning.visibleRegion().isEmpty(), timeout=2000)
        text = panel.warning.text()
        assert "1 accepted image:" in text and "at least 2" in text
        # review mode: accept the second one; the warning follows with the recommendation
        QTest.keyClick(w.canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: w.review.queue() == [w.session.project.images()[1].id])
        qtbot.waitUntil(lambda: w.session.current.image_id == w.review.queue()[0])
        QTest.keyClick(w.canvas, Qt.Key.Key_A)
        qtbot.waitUntil(lambda: "2 accepted images" in panel.warning.text(), timeout=5000)
        assert f"{RECOMMENDED_ACCEPTED} or more are recommended" in panel.warning.text()
        # the verdict sits above the details, visible without scrolling the dock
        w.training.finished.emit({"outcome": "kept", "message": "IoU 0.41 ≤ 0.44"})
        assert "Current model kept" in panel.result.text()
        assert panel.result.y() < panel.plot.y() and panel.result.y() < panel.epoch.y()
        w.findChild(QDockWidget, "dock_training").raise_()
        qtbot.waitUntil(lambda: not panel.result.visibleRegion().isEmpty(), timeout=2000)
        region = panel.result.visibleRegion().boundingRect()
        assert region.height() == panel.result.height()  # all of it, not cut
    finally:
        w.close()


def test_the_plot_has_axes_with_ticks_and_labels(qtbot):
    plot = MetricsPlot()
    qtbot.addWidget(plot)
    plot.resize(320, 200)
    plot.set_records(
        [
            {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "iou_wrinkle": 0.1 * e}
            for e in range(1, 6)
        ]
    )
    assert plot.loss_top() == 1.2 * 1.1
    image = plot.grab().toImage()
    rect = plot.plot_rect()
    assert rect.left() == MARGINS[0] and plot.height() - rect.bottom() == MARGINS[3]
    text = plot.palette().text().color()

    def ink(x0, y0, x1, y1) -> int:
        return sum(
            image.pixelColor(x, y).lightness() < 128
            and text.lightness() < 128
            or image.pixelColor(x, y) == text
            for x in range(int(x0), int(x1))
            for y in range(int(y0), int(y1))
        )

    assert ink(0, rect.top(), rect.left() - 4, rect.bottom()) > 20  # loss ticks, left
    assert ink(rect.right() + 4, rect.top(), plot.width(), rect.bottom()) > 20  # IoU, right
    assert ink(rect.left(), rect.bottom() + 3, rect.right(), plot.height() - 18) > 20  # epochs
    want = QColor("#E69F00")  # the legend's first entry, "train loss", in its colour

    def near(c: QColor) -> bool:
        return abs(c.red() - want.red()) + abs(c.green() - want.green()) + abs(c.blue()) < 90

    legend = [
        image.pixelColor(x, y)
        for x in range(0, 90)
        for y in range(plot.height() - 16, plot.height())
    ]
    assert sum(near(c) for c in legend) > 5
