"""The model-assisted parts one by one: batch pre-labels, cancel, rollback, active order, plot."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from app.gui.assist.training_panel import MetricsPlot
from core.assist.active import save_uncertainty
from core.assist.prelabel import BASELINE_SOURCE
from core.assist.retrain import Decision, register_model
from core.project import Project, Status

from .helpers import make_project, open_window

SHAPE = (96, 112)
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def statuses(root):
    with Project.open(root, read_only=True) as p:
        return {r.name: r.status for r in p.images()}


def test_pre_annotate_all_runs_as_a_batch_and_saves_every_new_image(qtbot, tmp_path):
    root = make_project(tmp_path, count=5, shape=SHAPE)
    w = open_window(qtbot, root, ahead=False)  # nothing ahead: the batch does the work
    qtbot.waitUntil(lambda: not w.prelabels.busy(), timeout=10000)
    steps = []
    w.prelabels.batchProgress.connect(steps.append)
    with qtbot.waitSignal(w.prelabels.batchFinished, timeout=20000):
        QTest.keyClick(w.canvas, Qt.Key.Key_A, CTRL_SHIFT)
    assert steps[0].total == 4 and [s.done for s in steps[1:-1]] == [1, 2, 3, 4]
    assert steps[-1].info["summary"] == {"done": 4, "skipped": 0, "failed": 0}
    assert w.prelabels.dialog is None
    assert "finished: 4 done, 0 skipped, 0 failed" in w.status.currentMessage()
    w.session.flush(10)
    assert set(statuses(root).values()) == {Status.PRELABELED}
    qtbot.waitUntil(
        lambda: {w.image_list.status(r.id) for r in w.image_list.model.records} == {"prelabeled"},
        timeout=5000,
    )
    w.close()


def test_damaged_saved_prelabel_is_reported_and_computed_again(qtbot, tmp_path):
    root = make_project(tmp_path, count=2, shape=SHAPE)
    w = open_window(qtbot, root)
    qtbot.waitUntil(lambda: set(statuses(root).values()) == {Status.PRELABELED}, timeout=20000)
    w.close()
    for f in (root / "prelabels").rglob("*.png"):
        f.write_bytes(b"\x89PNG\r\n\x1a\ndamaged")
    messages: list[str] = []
    w = open_window(qtbot, root, messages=messages)  # a new window: the files are read
    # Every message is recorded: a later one (the texture maps' progress, "Pre-label by")
    # may replace this one before a poll of currentMessage() sees it on a loaded machine.
    qtbot.waitUntil(lambda: any("computing it again" in m for m in messages), timeout=20000)
    qtbot.waitUntil(lambda: w.prelabels.shown_source() is not None, timeout=20000)
    assert w.layers.prediction() is not None
    w.session.flush(10)
    with Project.open(root, read_only=True) as p:  # the new one replaced the damaged file
        assert p.load_prelabel(w.session.current.image_id) is not None
    w.close()


def test_pre_annotate_all_cancel_stops_after_the_running_image(qtbot, tmp_path, monkeypatch):
    root = make_project(tmp_path, count=4, shape=SHAPE)
    w = open_window(qtbot, root, ahead=False)
    qtbot.waitUntil(lambda: not w.prelabels.busy(), timeout=10000)
    started, release = threading.Event(), threading.Event()

    def slow_predict(image):
        started.set()
        release.wait(10)
        return {c: np.zeros(image.shape[:2], np.uint8) for c in ("wrinkle", "pore")}

    monkeypatch.setattr(w.prelabels, "_predictor", lambda source: slow_predict)
    with qtbot.waitSignal(w.prelabels.batchFinished, timeout=20000):
        w.prelabels.pre_annotate_all()
        assert started.wait(10)
        dialog = w.prelabels.dialog
        assert dialog.isVisible() and dialog.maximum() == 3
        (button,) = dialog.findChildren(QPushButton)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        release.set()
    assert "cancelled" in w.status.currentMessage()
    w.session.flush(10)
    done = [n for n, s in statuses(root).items() if s is Status.PRELABELED]
    assert len(done) == 2  # face-0 (the open image, before) and the one running at cancel
    w.close()


def test_retraining_cancel_kills_nothing_but_the_run(qtbot, tmp_path):
    root = make_project(tmp_path, count=3, shape=SHAPE)
    with Project.open(root) as p:
        from core.demo.synthetic import make_face

        for r in p.images()[:2]:
            p.save_rough(r.id, make_face(10 + r.id - 1, shape=SHAPE).rough)
            p.set_status(r.id, "submitted")
            p.set_status(r.id, "accepted")
        p.set_setting(
            "train_config",
            {"width": 4, "epochs": 200, "device": "cpu", "threads": 1, "patience": 200},
        )
    w = open_window(qtbot, root)
    panel = w.training_panel
    assert panel.epochs.value() == 200 and panel.start_button.isEnabled()
    assert not panel.cancel_button.isEnabled()
    with qtbot.waitSignal(w.training.epochReported, timeout=60000):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.state.text() == "training" and panel.epoch.text().endswith("/200")
    run = w.training.run.root
    assert run.exists()
    with qtbot.waitSignal(w.training.finished, timeout=30000) as blocker:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0]["outcome"] == "cancelled"
    assert not run.exists() and w.training.state == "idle"
    assert panel.start_button.isEnabled()
    with Project.open(root, read_only=True) as p:
        assert p.models() == [] and p.current_model() is None
    w.close()


def test_retraining_refuses_accepted_images_without_masks(qtbot, tmp_path):
    root = make_project(tmp_path, count=3, shape=SHAPE)
    with Project.open(root) as p:
        for r in p.images()[:2]:  # accepted without a single painted pixel
            p.set_status(r.id, "in_progress")
            p.set_status(r.id, "submitted")
            p.set_status(r.id, "accepted")
    w = open_window(qtbot, root)
    with qtbot.waitSignal(w.training.finished, timeout=20000) as blocker:
        assert w.training.start()
    assert blocker.args[0]["outcome"] == "failed"
    assert "nothing to learn" in w.messages[-1]
    with Project.open(root, read_only=True) as p:
        assert p.models() == [] and p.current_model() is None  # baselines stay in use
    w.close()


def _tiny_checkpoint(path, bias):
    torch = pytest.importorskip("torch")
    from core.model import create_model, save_checkpoint

    torch.manual_seed(0)
    net = create_model("reduced-unet", width=4).eval()
    with torch.no_grad():
        net.outc.conv.bias.fill_(bias)
    return save_checkpoint(path, net, name="reduced-unet", config={"width": 4}, metadata={})


def test_model_history_lists_metrics_and_rolls_back(qtbot, tmp_path):
    root = make_project(tmp_path, count=2, shape=SHAPE)
    with Project.open(root) as p:
        a = _tiny_checkpoint(root / "models" / "a", -3.0)
        b = _tiny_checkpoint(root / "models" / "b", -2.0)
        first = register_model(
            p, a, Decision(True, {"wrinkle": 0.2, "pore": 0.1}, None, "val", 3, "first")
        )
        second = register_model(
            p,
            b,
            Decision(
                True,
                {"wrinkle": 0.4, "pore": 0.3},
                {"wrinkle": 0.2, "pore": 0.1},
                "val",
                3,
                "better",
            ),
        )
    w = open_window(qtbot, root, ahead=False)
    view = w.model_history
    assert view.table.rowCount() == 2
    top = [view.table.item(0, c).text() for c in range(4)]
    assert top[0] == "●" and top[1] == f"#{second}" and top[3] == "0.400"
    assert view.table.item(1, 5).text() == "0.150"
    assert w.prelabels.source.model_id == second
    with qtbot.waitSignal(view.modelChanged, timeout=5000):
        qtbot.mouseClick(view.rollback_button, Qt.MouseButton.LeftButton)
    assert w.prelabels.source.model_id == first
    assert f"model #{first}" in w.prelabels.source_label.text()
    assert view.table.item(1, 0).text() == "●"
    with qtbot.waitSignal(view.modelChanged, timeout=5000):
        qtbot.mouseClick(view.baseline_button, Qt.MouseButton.LeftButton)
    assert w.prelabels.source.name == BASELINE_SOURCE
    view.table.selectRow(0)
    with qtbot.waitSignal(view.modelChanged, timeout=5000):
        qtbot.mouseClick(view.use_button, Qt.MouseButton.LeftButton)
    assert w.prelabels.source.model_id == second
    w.close()
    with Project.open(root, read_only=True) as p:
        assert p.current_model().id == second


def test_next_follows_uncertainty_when_chosen(qtbot, tmp_path):
    root = make_project(tmp_path, count=4, shape=SHAPE)
    with Project.open(root) as p:
        ids = [r.id for r in p.images()]
        save_uncertainty(p, ids[1], 0.2, source=BASELINE_SOURCE)
        save_uncertainty(p, ids[2], 0.1, source=BASELINE_SOURCE)
        save_uncertainty(p, ids[3], 0.7, source=BASELINE_SOURCE)
    w = open_window(qtbot, root, ahead=False)
    assert w.session.current.image_id == ids[0]
    QTest.keyClick(w.canvas, Qt.Key.Key_N)  # file order by default
    qtbot.waitUntil(lambda: w.session.current.image_id == ids[1], timeout=5000)
    w.registry["order_uncertainty"].trigger()
    assert w.prelabels.order_mode == "uncertainty"
    QTest.keyClick(w.canvas, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: w.session.current.image_id == ids[3], timeout=5000)
    QTest.keyClick(w.canvas, Qt.Key.Key_N)
    # face-3 is open (and re-scored 0 by its baseline pre-label): face-1 (0.2) beats face-2 (0.1)
    qtbot.waitUntil(lambda: w.session.current.image_id == ids[1], timeout=5000)
    w.close()


def test_metrics_plot_scales_and_draws_every_series(qtbot):
    plot = MetricsPlot()
    qtbot.addWidget(plot)
    plot.resize(300, 160)
    records = [
        {"epoch": 1, "train_loss": 0.4, "val_loss": 0.5, "iou_wrinkle": 0.0, "iou_pore": 0.5},
        {"epoch": 2, "train_loss": 0.2, "val_loss": 0.3, "iou_wrinkle": 0.5, "iou_pore": 1.0},
    ]
    plot.set_records(records)
    rect = QRectF(0, 0, 100, 100)
    loss = plot.points("val_loss", rect)
    assert [p.x() for p in loss] == [0, 100]
    assert loss[0].y() < loss[1].y()  # loss went down: the line goes down (y grows)
    iou = plot.points("iou_pore", rect)
    assert iou[1].y() == pytest.approx(0) and iou[0].y() == pytest.approx(50)
    image = plot.grab().toImage()
    colours = {
        image.pixelColor(x, y).name() for x in range(image.width()) for y in range(image.height())
    }
    for c in ("#e69f00", "#0072b2", "#d55e00", "#56b4e9"):
        assert QColor(c).name() in colours


def test_retraining_decision_metric_is_a_project_option(qtbot, tmp_path):
    root = make_project(tmp_path, count=2, shape=SHAPE)
    with Project.open(root) as p:
        p.set_setting("retrain.options", {"epochs": 7, "decision_metric": "f1@2"})
    w = open_window(qtbot, root)
    panel = w.training_panel
    assert panel.decide_by.currentData() == "f1@2" and panel.epochs.value() == 7
    panel.decide_by.setCurrentIndex(panel.decide_by.findData("cldice"))
    assert w.session.writer.wait_idle(10)
    with Project.open(root, read_only=True) as p:
        stored = p.get_setting("retrain.options")
    assert stored == {"epochs": 7, "decision_metric": "cldice"}  # as an older version wrote
    # The epoch count is a training option: it goes to the project's partial train_config
    # (only what differs from the defaults) and leaves retrain.options.
    panel.epochs.setValue(9)
    assert w.session.writer.wait_idle(10)
    w.close()
    with Project.open(root, read_only=True) as p:
        assert p.get_setting("train_config") == {"epochs": 9}
        assert p.get_setting("retrain.options") == {"decision_metric": "cldice"}
