"""Review mode's pre-label queue: accept (A) or reject (R) a model pre-label from the keyboard."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox
from scipy import ndimage

from app.gui.main_window import MainWindow
from core.assist.prelabel import BASELINE_SOURCE, baseline_source, model_source, plan_prelabels
from core.gt.engine import compute_gt
from core.project import Project, Status

from .helpers import SHAPE, drag, make_project, open_window

SOURCE = BASELINE_SOURCE
ACCEPTED = f"accepted model pre-label (source: {SOURCE})"
REJECTED = f"rejected model pre-label (source: {SOURCE})"
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def stored_maps(seed: int) -> dict[str, np.ndarray]:
    """A 0/255 pre-label like the baselines': a wrinkle line and a few pores."""
    rng = np.random.default_rng(seed)
    wrinkle = np.zeros(SHAPE, np.uint8)
    row = int(rng.integers(20, 70))
    wrinkle[row, 20:100] = 255
    pore = np.zeros(SHAPE, np.uint8)
    pore[rng.integers(0, SHAPE[0], 12), rng.integers(0, SHAPE[1], 12)] = 255
    return {"wrinkle": wrinkle, "pore": pore}


def expected_rough(maps, level=128, grow=None):
    """Independent pre-label -> rough rule: map >= level, dilated by a disk whose radius
    is 5 px at 768x640, scaled with the square root of the image area."""
    if grow is None:
        rows, cols = next(iter(maps.values())).shape
        grow = max(1, round(5 * np.sqrt(rows * cols / (768 * 640))))
    yy, xx = np.mgrid[-grow : grow + 1, -grow : grow + 1]
    disk = (yy**2 + xx**2) <= grow * (grow + 1)
    return {c: ndimage.binary_dilation(m >= level, structure=disk) for c, m in maps.items()}


@pytest.fixture
def project_dir(tmp_path):
    root = make_project(tmp_path, count=3)
    with Project.open(root) as project:
        for n, record in enumerate(project.images()):
            # stored by today's source (the baselines), so nothing is recomputed in the test
            project.save_prelabel(record.id, stored_maps(n), source=SOURCE)
    return root


@pytest.fixture
def window(qtbot, project_dir):
    w = open_window(qtbot, project_dir, size=(1000, 700))
    yield w
    w.close()


def key(w, k, mod=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(w.canvas, k, mod)


def wait_shown(qtbot, w, image_id):
    qtbot.waitUntil(
        lambda: (
            w.session.current is not None
            and w.session.current.image_id == image_id
            and w.prelabels.shown_source() == SOURCE
        ),
        timeout=10000,
    )


def answer_next_question(qtbot, yes: bool, seen: list[str]) -> None:
    """Click Yes / No in the next modal question box (a real QMessageBox)."""

    def click():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox), box
        seen.append(box.text())
        button = QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No
        QTest.mouseClick(box.button(button), Qt.MouseButton.LeftButton)

    QTimer.singleShot(50, click)


def test_accept_correct_reject_and_undo_prelabels_from_the_keyboard(qtbot, window):
    w = window
    project = w.session.project
    ids = [r.id for r in w.image_list.model.records]
    maps = {i: project.load_prelabel(i)[0] for i in ids}
    w.layers.set_visible("prediction", False)

    key(w, Qt.Key.Key_R, CTRL)  # review mode
    assert w.review.active
    w.review_panel.kind.setCurrentIndex(w.review_panel.kind.findData("prelabeled"))
    assert w.review.kind == "prelabeled" and w.review.queue() == ids
    assert w.review_panel.list.count() == 3
    assert w.review_panel.accept_button.text() == "Correct (A)"
    assert w.layers.state("prediction").visible  # the reviewer sees what is judged
    wait_shown(qtbot, w, ids[0])
    doc = w.canvas.document

    # painting is off in review mode, and the window says so
    drag(w.canvas, [(40, 30), (40, 90)])
    assert not doc.rough("wrinkle").any() and not doc.rough("pore").any()
    assert "Review mode" in w.status.currentMessage()

    # Shift+A asks first; "No" changes nothing
    questions: list[str] = []
    answer_next_question(qtbot, False, questions)
    key(w, Qt.Key.Key_A, SHIFT)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    assert "training data unedited" in questions[0]
    assert not doc.rough("wrinkle").any() and w.canvas.document is doc
    # "Yes": the pre-label becomes rough masks (GT = rough x texture), saved, accepted
    answer_next_question(qtbot, True, questions)
    key(w, Qt.Key.Key_A, SHIFT)
    want = expected_rough(maps[ids[0]])
    assert want["wrinkle"].any() and want["pore"].any()
    for c in want:
        np.testing.assert_array_equal(doc.rough(c), want[c])
    gt = compute_gt(doc.image, want, doc.params)
    for c in want:
        np.testing.assert_array_equal(doc.gt(c), gt[c])
    assert "accepted (pre-label, unedited) face-0.png → face-1.png" in w.status.currentMessage()
    wait_shown(qtbot, w, ids[1])  # the next pre-label of the queue opens

    # R: the pre-label is discarded and the image goes back to annotation
    key(w, Qt.Key.Key_R)
    wait_shown(qtbot, w, ids[2])
    assert w.session.flush(10.0)
    qtbot.waitUntil(lambda: w.review.queue() == [ids[2]], timeout=5000)

    # A: opened for correction: rough masks from the pre-label, review mode off, painting on
    doc2 = w.canvas.document
    key(w, Qt.Key.Key_A)
    want2 = expected_rough(maps[ids[2]])
    for c in want2:
        np.testing.assert_array_equal(doc2.rough(c), want2[c])
    assert not w.review.active and w.canvas.editable
    assert "correct the pre-label" in w.status.currentMessage()
    assert w.session.flush(10.0)
    assert project.image(ids[2]).status is Status.IN_PROGRESS
    assert "opened for correction" in project.history(ids[2])[-1].comment

    assert project.image(ids[0]).status is Status.ACCEPTED
    saved = project.load_rough(ids[0])
    for c in want:
        np.testing.assert_array_equal(saved[c], want[c])
    moves = [(h.from_status, h.to_status, h.comment, h.user) for h in project.history(ids[0])]
    user = project.user
    assert moves[-3:] == [
        (Status.PRELABELED, Status.IN_PROGRESS, ACCEPTED, user),
        (Status.IN_PROGRESS, Status.SUBMITTED, ACCEPTED, user),
        (Status.SUBMITTED, Status.ACCEPTED, ACCEPTED, user),
    ]

    assert project.image(ids[1]).status is Status.NEW
    assert project.load_prelabel(ids[1]) is None
    assert not (project.root / "prelabels" / str(ids[1])).exists() or not any(
        (project.root / "prelabels" / str(ids[1])).iterdir()
    )
    assert not any(project.load_rough(ids[1])[c].any() for c in want)  # painted from scratch
    last = project.history(ids[1])[-1]
    assert (last.from_status, last.to_status, last.comment, last.user) == (
        Status.PRELABELED,
        Status.NEW,
        REJECTED,
        user,
    )
    # the same source does not pre-label it again; a newer model may
    assert ids[1] not in w.prelabels.pending()
    assert ids[1] not in plan_prelabels(project, baseline_source())
    assert ids[1] in plan_prelabels(project, model_source(7, project.root / "models" / "m"))
    w.prelabels.schedule()
    qtbot.wait(50)
    assert not w.prelabels.busy() and w.image_list.status(ids[1]) == "new"

    # Ctrl+Z in review mode undoes the decisions, newest first, in the catalog
    key(w, Qt.Key.Key_R, CTRL)
    key(w, Qt.Key.Key_Z, CTRL)  # the correction: back to the pre-label queue
    assert w.session.flush(10.0)
    assert project.image(ids[2]).status is Status.PRELABELED
    assert project.history(ids[2])[-1].comment == "undo review: was in progress"
    key(w, Qt.Key.Key_Z, CTRL)  # a discarded pre-label cannot come back: it says so
    assert "cannot come back" in w.status.currentMessage()
    key(w, Qt.Key.Key_Z, CTRL)  # the unedited acceptance
    assert w.session.flush(10.0)
    assert project.image(ids[0]).status is Status.PRELABELED
    qtbot.waitUntil(lambda: w.review.queue() == [ids[0], ids[2]], timeout=5000)
    assert w.session.current.image_id == ids[0]  # reopened to judge again


def test_undo_review_of_a_submitted_image(qtbot, window):
    w = window
    project = w.session.project
    ids = [r.id for r in w.image_list.model.records]
    for i in ids[:2]:
        w.session.set_status(i, "new")
        w.session.set_status(i, "submitted")
    assert w.session.flush(10.0)
    qtbot.waitUntil(lambda: w.image_list.status(ids[1]) == "submitted", timeout=5000)
    key(w, Qt.Key.Key_R, CTRL)
    qtbot.waitUntil(lambda: w.session.current.image_id == ids[0], timeout=5000)
    key(w, Qt.Key.Key_A)
    assert "accepted face-0.png → face-1.png" in w.status.currentMessage()
    qtbot.waitUntil(lambda: w.session.current.image_id == ids[1], timeout=5000)
    assert w.review_panel.undo_button.isEnabled()
    QTest.mouseClick(w.review_panel.undo_button, Qt.MouseButton.LeftButton)
    assert w.session.flush(10.0)
    assert project.image(ids[0]).status is Status.SUBMITTED
    last = project.history(ids[0])[-1]
    assert (last.from_status, last.to_status) == (Status.ACCEPTED, Status.SUBMITTED)
    qtbot.waitUntil(lambda: w.session.current.image_id == ids[0], timeout=5000)
    qtbot.waitUntil(lambda: w.review.queue() == ids[:2], timeout=5000)  # once written
    key(w, Qt.Key.Key_Z, CTRL)
    assert "No review decision to undo" in w.status.currentMessage()


def test_submitted_queue_is_unchanged_and_keys_follow_the_queue(qtbot, window):
    w = window
    key(w, Qt.Key.Key_R, CTRL)
    assert w.review.kind == "submitted" and w.review.queue() == []
    # A on a pre-labeled image while the submitted queue is shown does nothing
    qtbot.waitUntil(lambda: w.session.current is not None, timeout=10000)
    key(w, Qt.Key.Key_A)
    assert w.session.flush(10.0)
    assert w.session.project.image(w.session.current.image_id).status is Status.PRELABELED
    assert "submitted" in w.status.currentMessage()
    w.review.set_queue("prelabeled")
    assert w.review_panel.kind.currentData() == "prelabeled"
    assert w.registry["review_accept"].text() == "&Correct pre-label (review)"
    with pytest.raises(ValueError):
        w.review.set_queue("accepted")


def test_an_empty_prelabel_cannot_be_accepted(qtbot, tmp_path):
    root = make_project(tmp_path, count=1)
    empty = {c: np.zeros(SHAPE, np.uint8) for c in ("wrinkle", "pore")}
    with Project.open(root) as project:
        project.save_prelabel(project.images()[0].id, empty, source=SOURCE)
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.open_project(root)
    w.show()
    w.review.set_active(True)
    w.review.set_queue("prelabeled")
    image_id = w.review.queue()[0]
    wait_shown(qtbot, w, image_id)
    assert not w.review.accept()
    assert "marks nothing" in w.status.currentMessage()
    assert w.session.flush(10.0)
    assert w.session.project.image(image_id).status is Status.PRELABELED
    w.close()
