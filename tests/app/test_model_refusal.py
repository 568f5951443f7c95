"""The Models dock refuses a bad checkpoint with a message and keeps the current model."""

from __future__ import annotations

import json
import os
import shutil

import torch
from PySide6.QtCore import Qt

from core.assist.retrain import Decision, register_model
from core.model.checkpoint import CONFIG, WEIGHTS, save_checkpoint
from core.model.registry import create_model
from core.project import Project

from .helpers import make_project, open_window

SHAPE = (64, 80)


def _checkpoint(path, bias: float):
    net = create_model("reduced-unet", width=4).eval()
    with torch.no_grad():
        net.outc.conv.bias.fill_(bias)
    return save_checkpoint(path, net, name="reduced-unet", config={"width": 4}, metadata={})


def _decision(iou: float) -> Decision:
    return Decision(True, {"wrinkle": iou, "pore": iou}, None, "val", 3, "test")


def _break_width(folder) -> None:
    doc = json.loads((folder / CONFIG).read_text())
    doc["config"]["width"] = 2**40
    (folder / CONFIG).write_text(json.dumps(doc))


def test_use_selected_refuses_a_checkpoint_edited_since_it_was_registered(qtbot, tmp_path):
    root = make_project(tmp_path, count=2, shape=SHAPE)
    with Project.open(root) as p:
        old = _checkpoint(root / "models" / "old", -3.0)
        good = register_model(p, old, _decision(0.2))
        new = _checkpoint(root / "models" / "new", -2.0)
        other = register_model(p, new, _decision(0.1))
        p.set_current_model(good)
    _break_width(new)  # e.g. replaced by another workstation after registration
    w = open_window(qtbot, root, ahead=False)
    view = w.model_history
    row = next(
        r for r in range(view.table.rowCount()) if view.table.item(r, 1).text() == f"#{other}"
    )
    view.table.selectRow(row)
    with qtbot.waitSignal(view.refused, timeout=10000) as blocker:
        qtbot.mouseClick(view.use_button, Qt.MouseButton.LeftButton)
    message = blocker.args[0]
    assert f"Model #{other} was not used" in message and "config.width" in message
    assert "current model stays" in message and "\n" not in message
    assert message in w.messages  # the window said so
    qtbot.wait(50)
    assert view.current_id == good and w.prelabels.source.model_id == good
    w.close()
    with Project.open(root, read_only=True) as p:
        assert p.current_model().id == good


def test_add_refuses_weights_that_are_a_device_and_registers_nothing(qtbot, tmp_path):
    root = make_project(tmp_path, count=2, shape=SHAPE)
    with Project.open(root) as p:
        good = register_model(p, _checkpoint(root / "models" / "a", -3.0), _decision(0.2))
    bad = tmp_path / "from-another-lab"
    shutil.copytree(root / "models" / "a", bad)
    (bad / WEIGHTS).unlink()
    os.symlink("/dev/zero", bad / WEIGHTS)
    w = open_window(qtbot, root, ahead=False)
    view = w.model_history
    with qtbot.waitSignal(view.refused, timeout=10000) as blocker:
        view.add_checkpoint(bad)
    assert str(bad / WEIGHTS) in blocker.args[0] and "outside" in blocker.args[0]
    assert view.table.rowCount() == 1 and view.current_id == good
    # A sound checkpoint from elsewhere is added and becomes current.
    fine = _checkpoint(tmp_path / "fine", -1.0)
    with qtbot.waitSignal(view.modelChanged, timeout=10000):
        view.add_checkpoint(fine)
    assert view.table.rowCount() == 2 and view.current_id != good
    assert w.prelabels.source.model_id == view.current_id
    w.close()


def test_roll_back_refuses_a_previous_model_whose_weights_were_truncated(qtbot, tmp_path):
    root = make_project(tmp_path, count=2, shape=SHAPE)
    with Project.open(root) as p:
        first_path = _checkpoint(root / "models" / "a", -3.0)
        register_model(p, first_path, _decision(0.2))
        second = register_model(p, _checkpoint(root / "models" / "b", -2.0), _decision(0.4))
    blob = (first_path / WEIGHTS).read_bytes()
    (first_path / WEIGHTS).write_bytes(blob[: len(blob) // 2])
    w = open_window(qtbot, root, ahead=False)
    view = w.model_history
    with qtbot.waitSignal(view.refused, timeout=10000) as blocker:
        qtbot.mouseClick(view.rollback_button, Qt.MouseButton.LeftButton)
    assert "corrupt" in blocker.args[0] and str(first_path / WEIGHTS) in blocker.args[0]
    qtbot.wait(50)
    assert view.current_id == second
    w.close()


def test_background_retraining_refuses_a_bad_candidate_and_keeps_the_current_model(qtbot, tmp_path):
    from core.assist.retrain import new_run

    root = make_project(tmp_path, count=2, shape=SHAPE)
    with Project.open(root) as p:
        good = register_model(p, _checkpoint(root / "models" / "a", -3.0), _decision(0.2))
    w = open_window(qtbot, root, ahead=False)
    controller = w.training
    run = new_run(w.session.project)
    # The evaluation scored the candidate, then its config was replaced (a copy from
    # elsewhere, a second process): registration checks the folder again.
    _checkpoint(run.candidate, -1.0)
    _break_width(run.candidate)
    current = w.session.project.current_model().path
    report = {
        "dataset": "d",
        "split": "val",
        "images": 3,
        "results": [
            {"method": "m", "source": str(run.candidate), "iou": {"wrinkle": 0.9, "pore": 0.9}},
            {"method": "m", "source": str(current), "iou": {"wrinkle": 0.1, "pore": 0.1}},
        ],
    }
    run.evaluation.parent.mkdir(parents=True, exist_ok=True)
    run.evaluation.write_text(json.dumps(report))
    controller.run, controller._current_path, controller.state = run, current, "evaluating"
    with qtbot.waitSignal(controller.finished, timeout=10000) as blocker:
        controller._evaluation_finished(0, None)
    result = blocker.args[0]
    assert result["outcome"] == "failed" and "config.width" in result["message"]
    assert any("Retraining failed" in m and "config.width" in m for m in w.messages)
    assert w.session.project.current_model().id == good
    assert [m.id for m in w.session.project.models()] == [good]
    w.close()
