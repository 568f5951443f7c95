"""Faces at import: the Import dialog's alignment option (real clicks) and faces found in
the background for newly imported images, without opening them."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox
from skimage import data

from app.gui.main_window import MainWindow
from core.face.align import load_transform
from core.face.store import face_file, load_face
from core.imageio import load_image, save_png

pytest.importorskip("dlib")


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    assert w.project_actions.create_project(str(tmp_path / "proj"), name="proj")
    yield w
    w.close()


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "photos"
    save_png(src / "astronaut.png", data.astronaut()[::2, ::2])  # 256×256, one face
    save_png(src / "blank.png", np.full((120, 160, 3), 200, np.uint8))  # no face
    return src


def _click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_import_dialog_aligns_faces_to_the_chosen_crop(window, photos, qtbot):
    seen: dict[str, object] = {}

    def fill_in() -> None:
        dlg = window.project_actions.import_dialog
        if dlg is None or not dlg.isVisible():  # the action may run events before the dialog
            QTimer.singleShot(10, fill_in)
            return
        try:
            seen["spins_off"] = not dlg.width_spin.isEnabled()
            ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
            dlg.folder_edit.clear()
            QTest.keyClicks(dlg.folder_edit, str(photos / "nothing"))
            _click(ok)  # not a folder: said in the dialog, which stays open
            seen["error"] = dlg.error.text()
            seen["still_open"] = dlg.isVisible()
            dlg.folder_edit.clear()
            QTest.keyClicks(dlg.folder_edit, str(photos))
            _click(dlg.align)
            seen["spins_on"] = dlg.width_spin.isEnabled()
            for spin, value in ((dlg.width_spin, "384"), (dlg.height_spin, "320")):
                spin.lineEdit().selectAll()
                QTest.keyClicks(spin.lineEdit(), value)
            _click(ok)
        finally:
            if dlg.isVisible():
                dlg.reject()

    assert window.registry["import_images"].isEnabled()  # also in a new, empty project
    QTimer.singleShot(0, fill_in)
    window.registry["import_images"].trigger()  # File → Import images… (modal dialog)
    assert seen["spins_off"] and seen["spins_on"] and seen["still_open"]
    assert "not a folder" in str(seen["error"])
    worker = window.project_actions.import_worker
    assert worker is not None
    qtbot.waitUntil(lambda: worker.ended, timeout=20_000)
    project = window.session.project
    records = project.images()
    assert [r.name for r in records] == ["astronaut.png"]  # the crop; blank.png had no face
    assert load_image(records[0].path).pixels.shape[:2] == (320, 384)
    assert "aligned" in str(records[0].path)
    transform, _ = load_transform(project.root / "aligned" / "transforms" / "astronaut.json")
    assert transform is not None
    report = window.status.currentMessage()
    assert "aligned 1 photo(s)" in report and "1 not aligned (first: blank.png: no face" in report
    # and the crop's face is then found in the background, without opening it
    qtbot.waitUntil(lambda: face_file(project.root, records[0].id).exists(), timeout=20_000)
    assert load_face(project.root, records[0].id).state == "found"


def test_imported_images_get_their_faces_in_the_background(window, photos, qtbot):
    queue = window.face_queue
    with qtbot.waitSignal(queue.finished, timeout=20_000) as finished:
        worker = window.project_actions.start_import(str(photos))
        assert worker is not None
    assert finished.args[0] == 2 and finished.args[1] == {"found": 1, "none": 1}
    root = window.session.project.root
    recs = {r.name: r for r in window.session.project.images()}
    astro = load_face(root, recs["astronaut.png"].id, content_hash=recs["astronaut.png"].content_hash)  # fmt: skip
    assert astro is not None and astro.state == "found"
    assert load_face(root, recs["blank.png"].id).state == "none"
    assert window.session.current is None  # nothing was opened: found on import
    assert "faces of 2 imported image(s) found (1 found, 1 none)" in window.status.currentMessage()
    assert queue.bar.isHidden()
    # opening the image reads the stored face (no new detection needed)
    window.next_unfinished()
    qtbot.waitUntil(lambda: window.faces.result is not None, timeout=10_000)
    assert window.faces.result.state in ("found", "none")
