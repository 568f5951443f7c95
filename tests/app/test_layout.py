"""The window fits 1366×768 and 1600×1000: no cut button, no horizontal scroll bar,
table columns and status names in full (with a screenshot of each dock at each size)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QDockWidget,
    QScrollArea,
    QTableWidget,
)

from app.gui.fit import MIN_TEXT_COLUMN
from core.project import Project

from .helpers import SHAPE, make_project, open_window

SIZES = [(1366, 768), (1600, 1000)]
#: A window manager's title bar and frame, at most (openbox: 19 px; GNOME: about 37).
TITLE_BAR = 40


@pytest.fixture
def project_dir(tmp_path):
    root = make_project(tmp_path, count=3)
    with Project.open(root) as project:
        a, b, _ = (r.id for r in project.images())
        mask = np.zeros(SHAPE, bool)
        mask[20:30, 20:60] = True
        project.save_rough(a, {"wrinkle": mask})
        project.set_status(a, "submitted")
        project.set_status(a, "rejected", comment="the forehead lines are missing, please add")
        maps = {c: np.zeros(SHAPE, np.uint8) for c in ("wrinkle", "pore")}
        maps["wrinkle"][40, 10:90] = 255
        project.save_prelabel(b, maps, source="baseline")
    return root


def visible_in_dock(widget) -> bool:
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def check_dock(w, dock: QDockWidget) -> list[str]:
    problems = []
    for area in dock.findChildren(QAbstractScrollArea):
        if area.isVisible() and area.horizontalScrollBar().isVisible():
            problems.append(f"{dock.windowTitle()}: horizontal scroll bar in {type(area).__name__}")
    scroll = dock.widget() if isinstance(dock.widget(), QScrollArea) else None
    for button in dock.findChildren(QAbstractButton):
        if not visible_in_dock(button) or button.objectName().startswith("qt_"):
            continue
        if button.width() < button.minimumSizeHint().width():
            problems.append(f"{dock.windowTitle()}: {button.text()!r} is squeezed")
        if scroll is not None:
            right = button.mapTo(scroll.viewport(), button.rect().topRight()).x()
            if right >= scroll.viewport().width():
                problems.append(f"{dock.windowTitle()}: {button.text()!r} is cut off")
    for table in dock.findChildren(QTableWidget):
        if not visible_in_dock(table):
            continue
        last = table.columnCount() - 1
        for col in range(last):
            need = max(table.sizeHintForColumn(col), table.horizontalHeader().sectionSizeHint(col))
            if table.columnWidth(col) < need:
                header = table.horizontalHeaderItem(col).text()
                problems.append(f"{dock.windowTitle()}: column {header!r} is truncated")
        if table.columnWidth(last) < MIN_TEXT_COLUMN:
            problems.append(f"{dock.windowTitle()}: the last column is too narrow")
    return problems


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_dock_fits_the_screen_size(qtbot, project_dir, tmp_path, size):
    w = open_window(qtbot, project_dir, size=size)
    try:
        assert w.minimumSizeHint().width() <= size[0]
        assert w.minimumSizeHint().height() <= size[1]
        assert (w.width(), w.height()) == size
        # the pre-label queue in review mode has the longest buttons
        w.review.set_active(True)
        w.review.set_queue("prelabeled")
        problems = []
        for key in ("review", "images", "params", "training", "models", "history"):
            dock = w.findChild(QDockWidget, f"dock_{key}")
            dock.raise_()
            for _ in range(5):
                QApplication.processEvents()
            shot = tmp_path / f"{key}_{size[0]}x{size[1]}.png"
            assert w.grab().save(str(shot)) and shot.stat().st_size > 0
            problems += check_dock(w, dock)
            for other in ("tools", "layers"):
                problems += check_dock(w, w.findChild(QDockWidget, f"dock_{other}"))
        # the status filter shows whole names, in the box and in its list
        combo = w.image_list.filter
        widest = max(
            combo.fontMetrics().horizontalAdvance(combo.itemText(i)) for i in range(combo.count())
        )
        assert combo.width() >= widest + 20
        combo.showPopup()
        qtbot.waitUntil(combo.view().isVisible, timeout=2000)
        assert combo.view().viewport().width() >= combo.view().sizeHintForColumn(0)
        combo.hidePopup()
        assert not problems, "\n".join(problems)
    finally:
        w.close()


def test_on_a_small_screen_the_window_opens_maximized(qtbot):
    """Resized to the screen, the frame would push the status bar off it (1366×768)."""
    from app.gui.main_window import DEFAULT_SIZE, MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    screen = w.screen().availableGeometry()
    small = screen.width() < DEFAULT_SIZE[0] or screen.height() < DEFAULT_SIZE[1]
    w.show_fitted()
    assert w.isVisible()
    assert w.isMaximized() == small
    assert w.statusBar().isVisible()


def test_the_styled_window_fits_1366x768_under_a_title_bar(qtbot, project_dir):
    """With the app's style sheet the docks are taller: the right column still fits the
    768 px of a laptop screen less a window manager's title bar (the GT panel scrolls)."""
    from app.gui.resources import style_sheet

    app = QApplication.instance()
    previous = (app.style().name(), app.styleSheet())
    app.setStyle("Fusion")
    app.setStyleSheet(style_sheet())
    try:
        w = open_window(qtbot, project_dir, size=(1366, 720))
        for _ in range(5):
            QApplication.processEvents()
        assert w.minimumSizeHint().height() <= 768 - TITLE_BAR
        tools, layers = (w.findChild(QDockWidget, f"dock_{k}") for k in ("tools", "layers"))
        assert tools.height() >= tools.widget().sizeHint().height()  # nothing cut off
        assert layers.height() >= layers.widget().sizeHint().height()
        w.close()
    finally:
        app.setStyleSheet(previous[1])
        app.setStyle(previous[0])


def test_history_columns_fit_when_its_tab_is_shown(qtbot, project_dir):
    """A hidden History panel skips fitting its columns on each switch; showing it fits them."""
    w = open_window(qtbot, project_dir, size=(1366, 768))
    try:
        history = w.findChild(QDockWidget, "dock_history")
        history.hide()
        w.next_image()
        qtbot.waitUntil(lambda: w.history_view._fit_pending, timeout=5000)
        history.show()
        qtbot.waitUntil(lambda: not w.history_view._fit_pending, timeout=5000)
        assert check_dock(w, history) == []
    finally:
        w.close()
