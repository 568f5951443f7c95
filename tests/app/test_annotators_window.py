"""Several annotators in the window: the independent-mode switch and the Agreement dock."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from app.gui.agreement_view import count_colors
from core.project import Project
from core.project.annotators import SETTING_INDEPENDENT

from .helpers import SHAPE, drag, make_project, open_window

ROWS, COLS = SHAPE
HALF = COLS // 2


def _rough(cols: slice) -> dict[str, np.ndarray]:
    out = {c: np.zeros(SHAPE, bool) for c in ("wrinkle", "pore")}
    for m in out.values():
        m[:, cols] = True
    return out


@pytest.fixture
def project_dir(tmp_path):
    """Image 1: alice painted everything, then bob (newest) only the left half."""
    root = make_project(tmp_path, count=2)
    with Project.open(root, user="alice") as p:
        p.save_rough(1, _rough(slice(0, COLS)))
    with Project.open(root, user="bob") as p:
        p.save_rough(1, _rough(slice(0, HALF)))
    return root


def _open_as(qtbot, root, user: str):
    QSettings().setValue("user/name", user)
    w = open_window(qtbot, root)
    w.open_image(1)
    qtbot.waitUntil(lambda: w.session.current is not None and w.session.current.image_id == 1)
    return w


def _click_menu_action(qtbot, menu, action) -> None:
    """Open ``menu`` and click ``action`` in it with the mouse."""
    menu.popup(menu.parentWidget().mapToGlobal(menu.parentWidget().rect().center()))
    qtbot.waitExposed(menu)
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    qtbot.waitUntil(lambda: not menu.isVisible())


def test_independent_mode_switch_changes_the_setting_and_the_masks_shown(qtbot, project_dir):
    w = _open_as(qtbot, project_dir, "alice")
    action = w.independent_action
    assert action.isEnabled() and not action.isChecked()
    shown = w.session.document.rough("wrinkle")
    assert shown[:, :HALF].all() and not shown[:, HALF:].any()  # bob's, the newest

    _click_menu_action(qtbot, w.menus.file, action)
    qtbot.waitUntil(lambda: w.session.project.get_setting(SETTING_INDEPENDENT) is True)
    qtbot.waitUntil(lambda: w.session.document is not None)
    qtbot.waitUntil(lambda: w.session.document.rough("wrinkle")[:, HALF:].all())
    assert action.isChecked()
    assert w.session.document.rough("pore").all()  # alice's own masks, both classes
    assert w.canvas.document is w.session.document  # the canvas shows the reloaded one

    _click_menu_action(qtbot, w.menus.file, action)
    qtbot.waitUntil(lambda: w.session.project.get_setting(SETTING_INDEPENDENT) is False)
    qtbot.waitUntil(
        lambda: (
            w.session.document is not None
            and not w.session.document.rough("wrinkle")[:, HALF:].any()
        )
    )
    assert not action.isChecked()
    w.close()
    with Project.open(project_dir, user="x", read_only=True) as p:
        assert p.independent() is False


def test_independent_mode_opens_an_empty_image_for_a_new_annotator(qtbot, project_dir):
    with Project.open(project_dir, user="alice") as p:
        p.set_setting(SETTING_INDEPENDENT, True)
    w = _open_as(qtbot, project_dir, "carol")
    assert w.independent_action.isChecked()
    assert not w.session.document.rough("wrinkle").any()  # carol has no masks yet
    w.close()
    ro = open_window(qtbot, project_dir, read_only=True)
    assert ro.independent_action.isChecked() and not ro.independent_action.isEnabled()
    ro.close()


def test_agreement_dock_counts_annotators_per_pixel(qtbot, project_dir):
    w = _open_as(qtbot, project_dir, "carol")
    view = w.agreement_view
    qtbot.waitUntil(lambda: view.result is not None and view.counts() is not None)
    assert view.result.annotators == ("alice", "bob")
    counts = view.counts()
    gt = w.session.document.gt(view.cls) > 0  # bob's GT: rough (left half) × texture
    left, right = counts[:, :HALF], counts[:, HALF:]
    assert set(np.unique(left)) <= {0, 2} and (left == 2).any()  # both painted here
    assert set(np.unique(right)) <= {0, 1} and (right == 1).any()  # only alice
    np.testing.assert_array_equal(left == 2, gt[:, :HALF])
    # one row per pair of annotators for the active class, scores in range
    assert view.table.rowCount() == 1
    assert view.table.item(0, 0).text() == "alice / bob"
    iou = float(view.table.item(0, 1).text())
    assert 0.0 < iou < 1.0
    # the overlay on the canvas draws what the map says: all-agree colour where both did
    lut = count_colors(2)
    arr = view.overlay.array
    both = np.argwhere(counts == 2)[0]
    one = np.argwhere(counts == 1)[0]
    assert arr[tuple(both)] == lut[2] and arr[tuple(one)] == lut[1] and lut[1] != lut[2]
    assert arr[counts == 0].max() == 0
    assert view.item.scene() is w.canvas.scene() and view.item.isVisible()

    # a real click on the checkbox hides the map, another shows it again
    w.findChild(QDockWidget, "dock_agreement").raise_()  # tabbed beside Layers
    qtbot.waitUntil(view.show_map.isVisible)
    box = QPoint(8, view.show_map.height() // 2)  # on the check box itself
    QTest.mouseClick(view.show_map, Qt.MouseButton.LeftButton, pos=box)
    assert not view.show_map.isChecked() and view.item is None
    QTest.mouseClick(view.show_map, Qt.MouseButton.LeftButton, pos=box)
    assert view.item is not None and view.item.scene() is w.canvas.scene()

    # switching the class shows that class's map; the exclusion mask keeps the last one
    w.tools.set_class("pore")
    assert view.cls == "pore"
    w.tools.set_class("exclude")
    assert view.cls == "pore"
    np.testing.assert_array_equal(view.counts(), view.result.counts["pore"])
    w.close()


def test_agreement_dock_says_when_there_is_nothing_to_compare(qtbot, project_dir):
    w = _open_as(qtbot, project_dir, "carol")
    view = w.agreement_view
    w.open_image(2)
    qtbot.waitUntil(lambda: view.image_id == 2 and view.result is not None)
    assert view.counts() is None and view.item is None
    assert view.table.rowCount() == 0
    assert "nothing to compare" in view.summary.text()
    w.close()


def test_a_third_annotators_saved_strokes_join_the_agreement(qtbot, project_dir):
    with Project.open(project_dir, user="alice") as p:
        p.set_setting(SETTING_INDEPENDENT, True)
    w = _open_as(qtbot, project_dir, "carol")
    view = w.agreement_view
    qtbot.waitUntil(lambda: view.result is not None and len(view.result.annotators) == 2)
    w.tools.set_tool("brush")
    drag(w.canvas, [(ROWS // 2, c) for c in range(4, COLS - 4, 4)])
    assert w.session.document.rough(view.cls).any()
    w.session.save_current()  # what autosave does a moment later
    qtbot.waitUntil(lambda: view.result is not None and len(view.result.annotators) == 3)
    assert view.result.annotators == ("alice", "bob", "carol")
    assert view.table.rowCount() == 3  # every pair
    assert view.counts().max() <= 3
    w.close()
