"""What the user sees when something is slow or goes wrong: messages, progress, choices.

Found by using the real window under X (docs/annotation-window.md); each test fails
without its fix.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.gui import session as session_module
from app.gui.assist.review import CommentDialog
from app.gui.main_window import MainWindow
from core.gt.engine import GTParams
from core.project import Project

from .helpers import make_project, open_window


def test_status_bar_messages_are_visible(window, qtbot):
    bar = window.status
    bar.clearMessage()
    qtbot.wait(20)
    before = bar.grab().toImage()
    bar.showMessage("Every image is submitted — nothing left to annotate.")
    qtbot.wait(20)
    assert bar.grab().toImage() != before  # the message is drawn, not hidden behind widgets
    bar.clearMessage()
    assert window.status.position.isVisible()  # the cursor read-out comes back


def test_second_instance_is_asked_once_and_opens_read_only(qtbot, project_dir, monkeypatch):
    questions: list[str] = []
    w = MainWindow()
    qtbot.addWidget(w)
    monkeypatch.setattr(w.notifier, "ask", lambda q: questions.append(q) or True)
    with Project.open(project_dir):  # the other SkinTrace holds the writer lock
        assert w.open_project(project_dir)
        assert w.session.read_only and "[read-only]" in w.windowTitle()
        assert len(questions) == 1 and questions[0].lower().count("read-only?") == 1
        assert not w.tools_panel.clear_button.isEnabled()
        w.close()


def test_unwritable_project_folder_opens_read_only_and_says_why(qtbot, project_dir):
    lock = project_dir / ".skintrace.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()  # cannot be opened for writing, even by root (like a read-only share)
    questions: list[str] = []
    w = MainWindow()
    qtbot.addWidget(w)
    w.notifier.ask = lambda q: questions.append(q) or True  # type: ignore[method-assign]
    assert w.open_project(project_dir)
    assert w.session.read_only and w.session.current is not None
    assert questions == []  # writing can never work there: nothing to ask
    assert w.messages == []  # not a dead-end error either
    badge = w.status.read_only
    assert not badge.isHidden() and badge.text().startswith("Read-only (is a directory")
    assert "cannot be opened for writing" in badge.toolTip()
    assert "opened read-only" in w.status.currentMessage()
    assert "[read-only]" in w.windowTitle() and not w.canvas.editable
    w.close()


def test_failed_image_keeps_the_open_image_selected(window, project_dir, qtbot):
    records = window.session.records()
    (project_dir / "images" / records[1].name).unlink()
    window.session._prefetching.clear()  # the neighbour was prefetched before the delete
    view = window.image_list.view
    index = view.model().index(1, 0)
    QTest.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center()
    )
    qtbot.waitUntil(lambda: len(window.messages) == 1, timeout=5000)
    assert records[1].name in window.messages[0]
    assert window.session.current.image_id == records[0].id
    assert view.currentIndex().row() == 0  # the list shows what the canvas shows
    window.open_image(records[2].id)  # and the window keeps working
    qtbot.waitUntil(lambda: window.session.current.image_id == records[2].id, timeout=5000)


def test_large_parameter_change_shows_progress_and_applies_the_latest(window, qtbot, monkeypatch):
    monkeypatch.setattr(session_module, "LARGE_IMAGE_PIXELS", 0)  # take the worker path
    session, doc = window.session, window.canvas.document
    steps: list[tuple[int, int, str]] = []
    shown: list[bool] = []
    session.busyProgress.connect(lambda p: steps.append((p.done, p.total, p.message)))
    session.busyProgress.connect(lambda _p: shown.append(window.status.busy.isVisible()))
    first = GTParams(sigma=3.0, pore_threshold=5.0)
    latest = GTParams(sigma=4.0, pore_threshold=6.0)
    session.apply_params(first)
    session.apply_params(latest)  # while the first still runs: queued, not raced
    qtbot.waitUntil(
        lambda: doc.params == latest and not window.status.busy.isVisible(), timeout=10000
    )
    assert doc.textures.sigma == 4.0 and doc.textures.pore_threshold == 6.0
    assert [s[:2] for s in steps[:4]] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert "wrinkle texture map" in steps[0][2] and "pore texture map" in steps[1][2]
    assert all(shown)
    assert window.canvas.editable


def test_reject_comment_is_sent_with_ctrl_enter(qtbot):
    dialog = CommentDialog("face-0.png")
    qtbot.addWidget(dialog)
    dialog.show()
    ctrl = Qt.KeyboardModifier.ControlModifier
    QTest.keyClick(dialog.text, Qt.Key.Key_Return, ctrl)  # nothing to send yet
    assert dialog.isVisible() and dialog.text.toPlainText() == ""
    QTest.keyClicks(dialog.text, "pores missed")
    QTest.keyClick(dialog.text, Qt.Key.Key_Return)  # a plain Enter is a new line
    QTest.keyClicks(dialog.text, "on the left cheek")
    QTest.keyClick(dialog.text, Qt.Key.Key_Enter, ctrl)
    assert not dialog.isVisible() and dialog.result() == CommentDialog.DialogCode.Accepted
    assert dialog.comment() == "pores missed\non the left cheek"


def test_tab_in_a_form_field_moves_focus_not_the_class(window, qtbot):
    window.activateWindow()
    spin = window.params_panel.rows["sigma"].spin
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    cls = window.tools.cls
    QTest.keyClick(spin, Qt.Key.Key_Tab)
    assert window.tools.cls == cls  # the class stays
    assert not spin.hasFocus()  # focus went on to the next field
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus, timeout=2000)
    QTest.keyClick(window.canvas, Qt.Key.Key_Tab)
    assert window.tools.cls != cls  # on the canvas Tab switches the class


def test_new_user_name_applies_to_the_open_project(window, project_dir, qtbot, monkeypatch):
    import dataclasses

    monkeypatch.setattr(window.notifier, "ask", lambda _q: True)  # submit the unpainted image
    window.apply_preferences(dataclasses.replace(window.prefs, user_name="ana"))
    first = window.session.current.image_id
    window.submit()
    window.session.flush(10)
    with Project.open(project_dir, read_only=True) as p:
        assert p.history(first)[-1].user == "ana"


def test_another_project_does_not_show_the_last_training_run(window, tmp_path, qtbot):
    panel = window.training_panel
    record = {"epoch": 3, "epochs": 3, "train_loss": 0.1, "val_loss": 0.2, "iou_wrinkle": 0.5}
    window.training.records = [record]
    window.training.epochReported.emit(record)
    window.training.finished.emit({"outcome": "replaced", "message": "first model"})
    assert panel.epoch.text() == "3/3" and panel.result.text()
    other = make_project(tmp_path / "other", count=1)
    assert window.open_project(other)
    assert [panel.epoch.text(), panel.loss.text(), panel.iou.text()] == ["—"] * 3
    assert panel.result.text() == "" and panel.plot.records == []


def test_an_empty_project_says_how_to_add_images(qtbot, tmp_path):
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.project_actions.create_project(str(tmp_path / "empty"), name="empty")
    assert w.session.current is None
    assert "Import images" in w.status.currentMessage()
    w.close()


def test_painting_a_read_only_project_says_why_nothing_happens(qtbot, project_dir):
    from .helpers import drag

    w = open_window(qtbot, project_dir, read_only=True)
    doc = w.canvas.document
    w.canvas.set_zoom(4.0)
    w.canvas.centerOn(64, 48)
    drag(w.canvas, [(48, 40), (48, 60)])
    assert not doc.rough("wrinkle").any() and not doc.modified
    assert "read-only" in w.status.currentMessage()
    w.close()


def test_submitting_an_unpainted_image_asks_first(window, project_dir, qtbot, monkeypatch):
    questions: list[str] = []
    answer = [False]
    monkeypatch.setattr(window.notifier, "ask", lambda q: questions.append(q) or answer[0])
    first = window.session.current
    window.submit()
    assert len(questions) == 1 and first.record.name in questions[0]
    assert window.session.current is first  # not submitted, still open
    answer[0] = True
    window.submit()
    qtbot.waitUntil(lambda: window.image_list.status(first.image_id) == "submitted", timeout=5000)


def test_closing_waits_for_a_running_prelabel_job(qtbot, project_dir, monkeypatch):
    import threading

    import numpy as np

    started, release = threading.Event(), threading.Event()

    def slow_predict(image):
        started.set()
        release.wait(10)
        return {c: np.zeros(image.shape[:2], np.uint8) for c in ("wrinkle", "pore")}

    w = MainWindow()
    qtbot.addWidget(w)
    monkeypatch.setattr(w.prelabels, "_predictor", lambda source: slow_predict)
    assert w.open_project(project_dir)
    w.prelabels.schedule()
    assert started.wait(10)
    threading.Timer(0.5, release.set).start()  # the job ends while close waits
    w.close()
    assert w.prelabels.pool.activeThreadCount() == 0
