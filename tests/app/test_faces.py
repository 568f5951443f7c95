"""The Face dock: background detection state, manual placement by clicks, Zones layer,
Measurements table, face stored in the project."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from core.face.store import load_face

from .helpers import widget_point

pytest.importorskip("dlib")


def test_no_face_then_placed_by_hand_gives_zones_and_measurements(qtbot, window):
    faces, panel = window.faces, window.face_panel
    qtbot.waitUntil(lambda: "No face found" in panel.state.text(), timeout=10_000)
    assert faces.result.state == "none" and faces.layer.zone_names == []
    image_id = faces.image_id
    # the manual fallback: Shift+F, then click right eye, left eye, nose base
    window.registry["face_place"].trigger()
    assert faces.placing
    for row, col in ((42, 32), (42, 96), (72, 64)):
        QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=widget_point(window.canvas, row, col))  # fmt: skip
    assert not faces.placing and faces.result.state == "manual"
    face = faces.result.face
    assert face.right_eye == pytest.approx((42, 32), abs=1) and face.nose == pytest.approx((72, 64), abs=1)  # fmt: skip
    assert len(faces.layer.zone_names) == 11 and faces.layer.isVisible()
    assert "placed by hand" in panel.state.text()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 14, timeout=10_000)  # 11 + 2 unions + whole
    headers = [panel.table.verticalHeaderItem(i).text() for i in range(panel.table.rowCount())]
    assert headers[0] == "Forehead" and "Butterfly zone" in headers
    # the placement is stored in the project (through the writer) and read back
    window.session.flush(10)
    stored = load_face(window.session.project.root, image_id)
    assert stored is not None and stored.state == "manual" and stored.face == face
    # Zones layer: toggle and labels
    panel.show_zones.setChecked(False)
    assert not faces.layer.isVisible()
    window.registry["zones_toggle"].trigger()
    assert faces.layer.isVisible()
    panel.labels.setChecked(False)
    assert not any(item.isVisible() for item in faces.layer._labels)
    panel.opacity.setValue(60)
    assert faces.layer.opacity_value == pytest.approx(0.6)


def test_escape_cancels_placement_and_scale_is_checked(qtbot, window):
    faces, panel = window.faces, window.face_panel
    qtbot.waitUntil(lambda: faces.result is not None, timeout=10_000)
    faces.start_placing()
    QTest.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert not faces.placing and faces.result.state == "none"
    panel.scale_edit.setText("huge")
    panel.scale_edit.editingFinished.emit()
    assert any("not understood" in m for m in window.messages)
    panel.scale_edit.setText("4px/mm")
    panel.scale_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "mm" in (panel.table.horizontalHeaderItem(1).text() if panel.table.columnCount() and panel.table.horizontalHeaderItem(1) else ""), timeout=10_000)  # fmt: skip


def test_zone_prior_checkbox_sets_the_project_setting(qtbot, window):
    panel = window.face_panel
    qtbot.waitUntil(lambda: window.faces.result is not None, timeout=10_000)
    assert not panel.prior.isChecked()  # off by default
    panel.prior.setChecked(True)
    window.session.flush(10)
    assert window.session.project.get_setting("faces.zone_prior") is True


def test_dragging_a_face_point_moves_the_zones_and_is_stored(qtbot, window):
    from core.face.landmarks import face_from_points, manual_result

    faces, panel = window.faces, window.face_panel
    qtbot.waitUntil(lambda: faces.result is not None, timeout=10_000)
    faces._set_result(faces.image_id, manual_result(face_from_points((42, 32), (42, 96), (72, 64)), (96, 128)), save=False)  # fmt: skip
    before = faces.layer._paths["forehead"].path().boundingRect()
    panel.move_button.setChecked(True)
    assert all(h.isVisible() for h in faces.layer._handles)
    vp = window.canvas.viewport()
    # drag the left eye 10 px up: a press away from every handle paints instead (not used)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, pos=widget_point(window.canvas, 42, 96))
    QTest.mouseMove(vp, widget_point(window.canvas, 37, 96))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=widget_point(window.canvas, 32, 96))
    face = faces.result.face
    assert faces.result.state == "manual" and face.left_eye == pytest.approx((32, 96), abs=1)
    assert face.right_eye == pytest.approx((42, 32), abs=0.01)
    after = faces.layer._paths["forehead"].path().boundingRect()
    assert after != before  # the zones followed
    window.session.flush(10)
    stored = load_face(window.session.project.root, faces.image_id)
    assert stored.face == face
    panel.move_button.setChecked(False)
    assert not any(h.isVisible() for h in faces.layer._handles)
