"""Cancelling a retraining run: it returns at once and the window keeps running meanwhile."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt, QTimer

from core.project import Project

from .helpers import SHAPE, make_project, open_window

#: A training process that reports one epoch and then, on SIGTERM, stops only once the
#: file named on its command line exists (a slow clean stop the test controls).
SLOW_STOP = r"""
import json, os, signal, sys, time
release = sys.argv[1]
asked = []
signal.signal(signal.SIGTERM, lambda *_: asked.append(1))
print(json.dumps({"event": "epoch", "epoch": 1, "epochs": 3, "train_loss": 1.0,
                  "val_loss": 1.0, "iou_wrinkle": 0.0, "iou_pore": 0.0}), flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not (asked and os.path.exists(release)):
    time.sleep(0.02)
sys.exit(130)
"""


def _project(tmp_path):
    root = make_project(tmp_path, count=3, shape=SHAPE)
    with Project.open(root) as p:
        from core.demo.synthetic import make_face

        for r in p.images()[:2]:
            p.save_rough(r.id, make_face(10 + r.id - 1, shape=SHAPE).rough)
            p.set_status(r.id, "submitted")
            p.set_status(r.id, "accepted")
    return root


def _slow_training(monkeypatch, release):
    import core.assist.retrain

    monkeypatch.setattr(
        core.assist.retrain,
        "train_command",
        lambda run, options: [sys.executable, "-c", SLOW_STOP, str(release)],  # fmt: skip
    )


def _train_until_an_epoch(qtbot, w):
    with qtbot.waitSignal(w.training.epochReported, timeout=60000):
        qtbot.mouseClick(w.training_panel.start_button, Qt.MouseButton.LeftButton)
    run = w.training.run.root
    for i in range(300):  # a run folder with some files to remove
        (run / f"shard-{i:03d}.bin").write_bytes(b"\0" * 64)
    return run


def test_cancel_returns_at_once_and_the_window_runs_while_it_completes(qtbot, tmp_path, monkeypatch):  # fmt: skip
    release = tmp_path / "release"
    _slow_training(monkeypatch, release)
    w = open_window(qtbot, _project(tmp_path))
    panel, training = w.training_panel, w.training
    run = _train_until_an_epoch(qtbot, w)
    ticks: list[str] = []
    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(lambda: ticks.append(training.state))
    timer.start()
    with qtbot.waitSignal(training.finished, timeout=30000) as blocker:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        # back from the click while the process has not stopped (it cannot yet)
        assert training.process is not None and training.process.processId() > 0
        assert training.state == "cancelling" and panel.state.text() == "cancelling…"
        assert not panel.cancel_button.isEnabled() and not panel.start_button.isEnabled()
        qtbot.waitUntil(lambda: ticks.count("cancelling") >= 5, timeout=10000)
        release.touch()  # now the process may stop; the folder is then removed
    timer.stop()
    assert blocker.args[0]["outcome"] == "cancelled"
    assert not run.exists() and training.state == "idle"
    assert panel.start_button.isEnabled() and panel.state.text() == "idle"
    assert "Cancelled" in panel.result.text()
    w.close()


def test_closing_the_window_during_training_stops_it_and_removes_the_run(qtbot, tmp_path, monkeypatch):  # fmt: skip
    release = tmp_path / "release"
    release.touch()  # stops at once when asked
    _slow_training(monkeypatch, release)
    w = open_window(qtbot, _project(tmp_path))
    run = _train_until_an_epoch(qtbot, w)
    proc = w.training.process
    w.close()  # the session closes: the cancel waits, as the project goes
    assert proc.state() == proc.ProcessState.NotRunning
    assert not run.exists() and w.training.state == "idle"
