"""Model-assisted annotation end to end, with a tiny model trained in a real process.

Import synthetic images, paint and submit two (one from a baseline pre-label turned into
rough masks), accept them in review mode from the keyboard, which starts retraining in
the background (a real ``python -m app train`` QProcess), see the new model's pre-label
appear on the next image, turn it into rough masks, reject an image with a comment and
find it back in annotation with the comment shown.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from scipy import ndimage

from app.gui.assist.review import CommentDialog
from core.assist.prelabel import BASELINE_SOURCE
from core.gt.engine import compute_gt
from core.imageio import load_image
from core.project import Project, Status

from .helpers import drag, make_project, open_window

SHAPE = (96, 112)
TINY = {
    "model": "proposed",
    "width": 4,
    "epochs": 2,
    "batch_size": 2,
    "device": "cpu",
    "threads": 1,
}
COMMENT = "forehead wrinkles missing"


def expected_rough(maps, levels, grow=None):
    """Independent pre-label -> rough rule: map >= level, dilated by a disk whose radius
    is 5 px at 768x640, scaled with the square root of the image area."""
    if grow is None:
        rows, cols = next(iter(maps.values())).shape
        grow = max(1, round(5 * np.sqrt(rows * cols / (768 * 640))))
    yy, xx = np.mgrid[-grow : grow + 1, -grow : grow + 1]
    disk = (yy**2 + xx**2) <= grow * (grow + 1)
    return {
        c: ndimage.binary_dilation(maps[c] >= levels[c], structure=disk)
        for c in ("wrinkle", "pore")
    }


@pytest.fixture
def project_dir(tmp_path):
    root = make_project(tmp_path, count=4, shape=SHAPE)
    with Project.open(root) as project:
        project.set_setting("train_config", TINY)
        # A 2-epoch width-4 model cannot beat the baselines; let it replace them anyway so
        # the test sees model pre-labels (tests/core/test_retrain.py covers the baseline rule).
        project.set_setting("retrain.options", {"beat_baselines": False})
        project.set_setting("retrain.after_accepted", 2)
    return root


@pytest.fixture
def window(qtbot, project_dir):
    w = open_window(qtbot, project_dir, size=(1200, 800))
    yield w
    w.training.cancel()
    w.close()


def key(w, k, mod=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(w.canvas, k, mod)


CTRL = Qt.KeyboardModifier.ControlModifier


def ids_by_name(w):
    return {r.name: r.id for r in w.image_list.model.records}


def wait_open(qtbot, w, name):
    qtbot.waitUntil(
        lambda: w.session.current is not None and w.session.current.record.name == name,
        timeout=10000,
    )


def paint_and_submit(qtbot, w, row):
    w.canvas.set_zoom(3.0)
    w.canvas.centerOn(56, 48)
    w.tools.set_class("wrinkle")
    w.tools.set_radius(3)
    drag(w.canvas, [(row, 30), (row, 60), (row, 85)])
    assert w.canvas.document.rough("wrinkle")[row, 30:86].all()
    key(w, Qt.Key.Key_Return, CTRL)


def test_model_assisted_annotation_end_to_end(qtbot, window, project_dir):
    w = window
    ids = ids_by_name(w)
    doc = w.canvas.document
    # before any model: baseline pre-labels, computed ahead, shown as the prediction layer
    qtbot.waitUntil(lambda: w.prelabels.shown_source() == BASELINE_SOURCE, timeout=10000)
    assert "baselines" in w.prelabels.source_label.text()
    qtbot.waitUntil(lambda: w.image_list.status(ids["face-1.png"]) == "prelabeled", timeout=10000)
    assert w.layers.prediction() is not None

    # image 1: painted with the brush, submitted; the next unfinished image opens
    paint_and_submit(qtbot, w, 40)
    wait_open(qtbot, w, "face-1.png")

    # image 2: the baseline pre-label becomes rough masks (Ctrl+P), undoable; GT = rough x texture
    qtbot.waitUntil(lambda: w.prelabels.shown_source() == BASELINE_SOURCE, timeout=10000)
    doc = w.canvas.document
    maps = w.layers.prediction()
    want = expected_rough(maps, {"wrinkle": 128, "pore": 128})
    assert want["wrinkle"].any() and want["pore"].any()
    key(w, Qt.Key.Key_P, CTRL)
    for c in ("wrinkle", "pore"):
        np.testing.assert_array_equal(doc.rough(c), want[c])
    gt = compute_gt(doc.image, {c: doc.rough(c) for c in want}, doc.params)
    for c in want:
        np.testing.assert_array_equal(doc.gt(c), gt[c])
    key(w, Qt.Key.Key_Z, CTRL)  # ONE undo takes back both classes
    assert not doc.rough("wrinkle").any() and not doc.rough("pore").any()
    key(w, Qt.Key.Key_Y, CTRL)
    for c in ("wrinkle", "pore"):
        np.testing.assert_array_equal(doc.rough(c), want[c])
    paint_and_submit(qtbot, w, 60)
    wait_open(qtbot, w, "face-2.png")
    qtbot.waitUntil(
        lambda: (
            [w.image_list.status(ids[n]) for n in ("face-0.png", "face-1.png")]
            == ["submitted", "submitted"]
        ),
        timeout=10000,
    )

    # review mode from the keyboard: A accepts; the second acceptance starts retraining
    assert w.review_panel.visibleRegion().isEmpty()  # tabbed behind the image list
    key(w, Qt.Key.Key_R, CTRL)
    assert w.review.active
    qtbot.waitUntil(lambda: not w.review_panel.visibleRegion().isEmpty(), timeout=2000)
    wait_open(qtbot, w, "face-0.png")
    queue = w.review_panel.list  # the queue highlights the image on the canvas
    assert queue.currentItem().data(Qt.ItemDataRole.UserRole) == ids["face-0.png"]
    key(w, Qt.Key.Key_A)
    wait_open(qtbot, w, "face-1.png")
    assert queue.currentItem().data(Qt.ItemDataRole.UserRole) == ids["face-1.png"]
    bar = w.status.training  # the status bar follows the run, epoch by epoch
    shown: list[str] = []
    w.training.epochReported.connect(lambda _r: shown.append(bar.format()))
    with qtbot.waitSignal(w.training.finished, timeout=120000) as blocker:
        key(w, Qt.Key.Key_A)
        qtbot.waitUntil(lambda: w.training.state == "training", timeout=10000)
        assert bar.isVisible() and bar.format().startswith("Training")
        # the training runs in another process; the window stays responsive meanwhile
        assert w.training.process.processId() not in (0, QApplication.applicationPid())
    assert shown == ["Training 1/2", "Training 2/2"]
    assert not bar.isVisible()
    result = blocker.args[0]
    assert result["outcome"] == "replaced", result
    assert [r["epoch"] for r in w.training.records] == [1, 2]
    assert w.training_panel.epoch.text() == "2/2"
    with Project.open(project_dir, read_only=True) as ro:
        models = ro.models()
        assert len(models) == 1 and ro.current_model().id == models[0].id
        assert {"iou_wrinkle", "iou_pore", "iou_mean", "val_images"} <= set(models[0].metrics)
        assert ro.image(ids["face-0.png"]).status is Status.ACCEPTED
    assert w.model_history.table.rowCount() == 1
    assert w.model_history.table.item(0, 0).text() == "●"
    assert len(w.model_history.table.item(0, 2).text()) == 16  # added, to the minute

    # the new model pre-labels the next image; it is shown when that image opens
    key(w, Qt.Key.Key_R, CTRL)  # leave review mode
    assert not w.review.active
    key(w, Qt.Key.Key_N)
    wait_open(qtbot, w, "face-2.png")
    qtbot.waitUntil(lambda: (w.prelabels.shown_source() or "").startswith("model:"), timeout=30000)
    assert "model #" in w.prelabels.source_label.text()
    from core.model import Predictor

    predictor = Predictor(models[0].path, device="cpu")
    image = load_image(w.session.current.record.path).pixels
    expected = predictor.predict([image])[0]
    shown = w.layers.prediction()
    for c in ("wrinkle", "pore"):
        np.testing.assert_array_equal(shown[c], expected[c])
    qtbot.waitUntil(lambda: w.image_list.status(ids["face-2.png"]) == "prelabeled", timeout=10000)

    # the model's pre-label becomes rough masks with the checkpoint's mask levels
    doc = w.canvas.document
    key(w, Qt.Key.Key_P, CTRL)
    want = expected_rough(expected, predictor.mask_levels)
    for c in ("wrinkle", "pore"):
        np.testing.assert_array_equal(doc.rough(c), want[c])
    paint_and_submit(qtbot, w, 50)
    qtbot.waitUntil(lambda: w.image_list.status(ids["face-2.png"]) == "submitted", timeout=10000)

    # reject with a comment (R, a real dialog typed into), then find it back in annotation
    key(w, Qt.Key.Key_R, CTRL)
    wait_open(qtbot, w, "face-2.png")

    def fill_dialog():
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, CommentDialog)
        QTest.keyClicks(dialog.text, COMMENT)
        QTest.keyClick(dialog.text, Qt.Key.Key_Return, CTRL)  # sends, like OK

    QTimer.singleShot(50, fill_dialog)
    key(w, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: w.image_list.status(ids["face-2.png"]) == "rejected", timeout=10000)
    key(w, Qt.Key.Key_R, CTRL)
    assert not w.review.active
    # with review mode off, R toggles the rough layer again
    visible = w.layers.state("rough").visible
    key(w, Qt.Key.Key_R)
    assert w.layers.state("rough").visible != visible
    key(w, Qt.Key.Key_R)
    key(w, Qt.Key.Key_N)
    wait_open(qtbot, w, "face-3.png")
    key(w, Qt.Key.Key_N)
    wait_open(qtbot, w, "face-2.png")
    assert w.history_view.banner.isVisibleTo(w.history_view)
    assert COMMENT in w.history_view.banner.text()
    assert COMMENT in w.status.currentMessage()
    changes = [
        w.history_view.table.item(r, 2).text() for r in range(w.history_view.table.rowCount())
    ]
    assert changes[0] == "submitted → rejected"
    when = w.history_view.table.item(0, 0)
    assert len(when.text()) == 16  # to the minute, the day over the time
    assert when.toolTip().startswith(when.text().replace("\n", " "))
    assert w.canvas.editable
    with Project.open(project_dir, read_only=True) as ro:
        last = ro.history(ids["face-2.png"])[-1]
        assert last.to_status is Status.REJECTED and last.comment == COMMENT
