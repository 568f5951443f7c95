"""The annotation window end to end: real mouse and key events on a real project."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.gui.main_window import MainWindow
from core.gt.engine import compute_gt
from core.project import Project, Status

from .helpers import Recorder, button_drag, drag, wheel, widget_point


def _key(window, key, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(window.canvas, key, modifier)


def test_opens_first_unfinished_image(window):
    assert window.session.current is not None
    assert window.session.current.record.name == "face-0.png"
    assert window.canvas.document.shape == (96, 128)
    assert "face-0.png" in window.windowTitle()


def test_stroke_paints_rough_and_gt_live_then_undo_redo(window):
    canvas, doc = window.canvas, window.canvas.document
    canvas.set_zoom(4.0)
    canvas.centerOn(64, 48)
    window.tools.set_class("wrinkle")
    window.tools.set_radius(3)
    row = 48
    drag(canvas, [(row, 40), (row, 60), (row, 80)], release=False)
    rough = doc.rough("wrinkle")
    assert rough[row, 40:81].all()
    assert not rough[row + 5, 40:81].any()
    assert not doc.rough("pore").any()
    # GT follows the brush before release: the overlay already shows the GT pixels
    gt = doc.gt("wrinkle")
    expected = compute_gt(doc.image, {"wrinkle": rough, "pore": doc.rough("pore")}, doc.params)
    np.testing.assert_array_equal(gt, expected["wrinkle"])
    assert gt[row - 3 : row + 4, 40:81].any() and not gt[~rough].any()
    overlay = canvas.stack.overlays["gt"].array
    assert np.array_equal(overlay[row - 3 : row + 4, 40:81] != 0, gt[row - 3 : row + 4, 40:81] > 0)
    QTest.mouseRelease(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        widget_point(canvas, row, 80),
    )
    painted = rough.copy()
    _key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not doc.rough("wrinkle").any() and not doc.gt("wrinkle").any()
    assert not canvas.stack.overlays["rough"].array.any()
    _key(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    np.testing.assert_array_equal(doc.rough("wrinkle"), painted)
    _key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _key(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(doc.rough("wrinkle"), painted)


def test_keys_switch_class_tool_and_brush_size(window):
    t = window.tools
    t.set_radius(6)
    _key(window, Qt.Key.Key_P)
    assert t.cls == "pore"
    _key(window, Qt.Key.Key_W)
    assert t.cls == "wrinkle"
    _key(window, Qt.Key.Key_Tab)
    assert t.cls == "pore"
    _key(window, Qt.Key.Key_BracketRight)
    assert t.radius == 7
    _key(window, Qt.Key.Key_BracketLeft)
    _key(window, Qt.Key.Key_BracketLeft)
    assert t.radius == 5
    _key(window, Qt.Key.Key_E)
    assert t.tool == "eraser"
    _key(window, Qt.Key.Key_L)
    assert t.tool == "lasso"
    _key(window, Qt.Key.Key_B)
    assert t.tool == "brush"


def test_eraser_and_lasso_and_clear_class(window):
    canvas, doc = window.canvas, window.canvas.document
    canvas.set_zoom(4.0)
    canvas.centerOn(64, 48)
    window.tools.set_class("pore")
    window.tools.set_tool("lasso")
    drag(canvas, [(40, 50), (40, 70), (56, 70), (56, 50)])
    pore = doc.rough("pore")
    assert pore[42:55, 52:69].all() and not pore[30, 60] and not pore[60, 60]
    window.tools.set_tool("eraser")
    window.tools.set_radius(2)
    drag(canvas, [(48, 55), (48, 65)])
    assert not doc.rough("pore")[48, 56:65].any() and doc.rough("pore")[44, 60]
    window.registry["clear_class"].trigger()
    assert not doc.rough("pore").any()
    window.undo()
    assert doc.rough("pore")[44, 60]


def test_wheel_zoom_keeps_point_under_cursor(window):
    canvas = window.canvas
    canvas.fit()
    pos = widget_point(canvas, 30, 90)
    before = canvas.view_to_image(pos)
    for notches in (1, 1, 2, -1, 3):
        z0 = canvas.zoom
        wheel(canvas, pos, notches)
        assert canvas.zoom == pytest.approx(z0 * 1.2**notches)
        after = canvas.view_to_image(pos)
        tol = 1.0 / canvas.zoom  # one screen pixel of scroll-bar rounding
        assert after[0] == pytest.approx(before[0], abs=tol)
        assert after[1] == pytest.approx(before[1], abs=tol)
    _key(window, Qt.Key.Key_1)
    assert canvas.zoom == pytest.approx(1.0)
    _key(window, Qt.Key.Key_F)
    vp = canvas.viewport().rect()
    assert canvas.zoom == pytest.approx(0.98 * min(vp.width() / 128, vp.height() / 96))


def test_middle_button_pans(window):
    canvas = window.canvas
    canvas.set_zoom(3.0)
    start = widget_point(canvas, 40, 60)
    before = canvas.view_to_image(start)
    button_drag(canvas, Qt.MouseButton.MiddleButton, start, QPoint(30, 15))
    after = canvas.view_to_image(start)
    assert after[1] == pytest.approx(before[1] - 10, abs=0.5)
    assert after[0] == pytest.approx(before[0] - 5, abs=0.5)
    assert not window.canvas.document.rough("wrinkle").any()


def test_switching_images_autosaves_masks(window, project_dir, qtbot):
    canvas = window.canvas
    first = window.session.current.image_id
    canvas.set_zoom(4.0)
    canvas.centerOn(64, 48)
    window.tools.set_radius(2)
    drag(canvas, [(30, 50), (30, 70)])
    painted = window.canvas.document.rough("wrinkle").copy()
    _key(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.session.current.image_id != first, timeout=5000)
    window.session.writer.wait_idle(10)
    with Project.open(project_dir, read_only=True) as p:
        saved = p.load_rough(first)
        assert p.image(first).status == Status.IN_PROGRESS
    np.testing.assert_array_equal(saved["wrinkle"], painted)
    assert list((project_dir / "masks").rglob("*.png"))


def test_submit_marks_submitted_and_opens_next_unfinished(window, project_dir, qtbot):
    first = window.session.current.image_id
    canvas = window.canvas
    canvas.set_zoom(4.0)
    canvas.centerOn(64, 48)
    drag(canvas, [(30, 50), (30, 52)])
    _key(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: window.session.current is not None and window.session.current.image_id != first,
        timeout=5000,
    )
    assert window.session.writer.wait_idle(10)
    with Project.open(project_dir, read_only=True) as p:
        assert p.image(first).status == Status.SUBMITTED
        history = [h.to_status for h in p.history(first)]
    assert history[-1] == Status.SUBMITTED
    qtbot.waitUntil(lambda: window.image_list.status(first) == "submitted", timeout=5000)


def test_close_waits_for_pending_writes(qtbot, project_dir):
    w = MainWindow()
    qtbot.addWidget(w)
    w.open_project(project_dir)
    w.show()
    image_id = w.session.current.image_id
    w.canvas.set_zoom(4.0)
    w.canvas.centerOn(64, 48)
    drag(w.canvas, [(20, 20), (20, 40)])
    painted = w.canvas.document.rough("wrinkle").copy()
    w.close()  # no explicit save: close must flush
    with Project.open(project_dir) as p:  # writable: the lock was released
        np.testing.assert_array_equal(p.load_rough(image_id)["wrinkle"], painted)


def test_read_only_when_locked(qtbot, project_dir, monkeypatch):
    holder = Project.open(project_dir)  # another writer holds the lock
    try:
        w = MainWindow()
        qtbot.addWidget(w)
        monkeypatch.setattr(w.notifier, "ask", lambda q: "read-only" in q)
        assert w.open_project(project_dir)
        assert w.session.read_only and "[read-only]" in w.windowTitle()
        assert not w.params_panel.isEnabled()
        assert not w.registry["submit"].isEnabled()
        drag(w.canvas, [(20, 20), (20, 40)])
        assert not w.canvas.document.rough("wrinkle").any()
        w.close()
    finally:
        holder.close()


def test_bad_input_is_reported_and_window_keeps_working(window, project_dir, qtbot):
    records = window.session.records()
    broken = records[2]  # records[1] is prefetched already; break one that is not
    broken.path.write_bytes(b"not an image")
    current = window.session.current.image_id
    window.open_image(broken.id)
    qtbot.waitUntil(lambda: len(window.messages) == 1, timeout=5000)
    assert broken.path.name in window.messages[0]
    assert window.session.current.image_id == current
    window.open_image(records[1].id)
    qtbot.waitUntil(lambda: window.session.current.image_id == records[1].id, timeout=5000)
    assert not window.open_project(project_dir.parent / "nowhere")
    assert "not a SkinTrace project" in window.messages[-1]
    assert window.session is not None  # the open project is kept


def test_autosave_after_a_pause_without_switching(window, project_dir, qtbot):
    session = window.session
    session._autosave.setInterval(150)  # 2 s in the app; shortened to keep the test quick
    image_id = session.current.image_id
    window.canvas.set_zoom(4.0)
    window.canvas.centerOn(64, 48)
    drag(window.canvas, [(60, 30), (60, 50)])
    painted = window.canvas.document.rough("wrinkle").copy()
    assert window.status.save_state.text() == "unsaved changes"
    qtbot.waitUntil(lambda: window.status.save_state.text() == "saved", timeout=5000)
    with Project.open(project_dir, read_only=True) as p:
        np.testing.assert_array_equal(p.load_rough(image_id)["wrinkle"], painted)
    assert not window.canvas.document.modified


def test_damaged_mask_file_is_reported(window, project_dir, qtbot):
    session = window.session
    records = session.records()
    target = records[2]
    session.project.save_rough(target.id, {"wrinkle": np.ones((96, 128), bool)})
    for f in (project_dir / "masks").rglob("*.png"):
        f.write_bytes(b"\x89PNG broken")
    session._prefetching.clear()
    window.open_image(target.id)
    qtbot.waitUntil(lambda: len(window.messages) == 1, timeout=5000)
    assert "mask" in window.messages[0].lower()
    assert session.current.image_id == records[0].id  # still on the first image


def test_opening_an_image_still_prefetching_waits_for_it(qtbot, project_dir, monkeypatch):
    from app.gui import session as session_module

    real, loads, release = session_module.load_document, [], threading.Event()

    def load_document(project, image_id, **kwargs):
        loads.append(image_id)
        if threading.current_thread() is not threading.main_thread():
            release.wait(5)  # hold background loads until the image is asked for
        return real(project, image_id, **kwargs)

    monkeypatch.setattr(session_module, "load_document", load_document)
    w = MainWindow()
    qtbot.addWidget(w)
    w.prelabels.ahead = False
    assert w.open_project(project_dir)
    second = w.session.records()[1].id
    qtbot.waitUntil(lambda: second in loads, timeout=5000)  # its prefetch is running
    w.open_image(second)
    assert w.session.current.image_id != second
    release.set()
    qtbot.waitUntil(lambda: w.session.current.image_id == second, timeout=5000)
    assert loads.count(second) == 1  # shown from the prefetch, not loaded a second time
    w.close()


def test_left_documents_keep_their_undo_history_until_the_cache_is_full(
    qtbot, project_dir, monkeypatch
):
    from app.gui import session as session_module

    monkeypatch.setattr(session_module, "CACHE_SIZE", 1)
    session = session_module.AnnotationSession(Project.open(project_dir))
    try:
        ids = [r.id for r in session.records()]
        session.open_image(ids[0], wait=True)
        painted = session.document
        painted.set_rough("wrinkle", np.ones(painted.shape[:2], dtype=bool))
        session.open_image(ids[1], wait=True)
        assert session.flush(5)
        qtbot.waitUntil(lambda: not session._dirty, timeout=5000)  # the save was confirmed
        session.open_image(ids[0], wait=True)
        assert session.document is painted and painted.can_undo  # from the cache
        for image_id in ids[1:]:
            session.open_image(image_id, wait=True)
        assert list(session._cache) == [ids[1]]  # the oldest, saved, was evicted
        session.open_image(ids[0], wait=True)
        assert session.document is not painted and not session.document.can_undo
        assert session.document.rough("wrinkle").all()  # reloaded from disk
    finally:
        session.close()


def test_autosaves_report_a_status_only_when_it_changes(window, qtbot):
    session, canvas = window.session, window.canvas
    image_id = session.current.image_id
    reported: list[str] = []  # for the open image (pre-labels of others come meanwhile)
    session.statusChanged.connect(lambda i, s: reported.append(s) if i == image_id else None)
    canvas.set_zoom(4.0)
    canvas.centerOn(64, 48)
    for row in (40, 50, 60):  # three strokes, each saved
        drag(canvas, [(row, 30), (row, 50)])
        session.save_current()
        assert session.writer.wait_idle(5)
        qtbot.waitUntil(lambda: window.status.save_state.text() == "saved", timeout=5000)
    # The first save started the image; later autosaves report nothing. The background
    # pre-label of the open image may land before that first save (reads no longer wait
    # for writes, so it often does): then "prelabeled" comes first, once.
    assert reported in (["in_progress"], ["prelabeled", "in_progress"])
    assert window.image_list.status(image_id) == "in_progress"


def test_a_queued_save_replaced_by_a_later_one_keeps_its_comment(window, qtbot):
    session = window.session
    image_id = session.current.image_id
    gate = threading.Event()
    session.writer.submit("gate", gate.wait)  # hold the writer: the saves stay queued
    mask = np.zeros(session.document.shape[:2], dtype=bool)
    mask[40:50, 30:60] = True
    session.document.set_rough("wrinkle", mask)
    session.save_current(comment="accepted model pre-label")
    session.save_current()  # e.g. the switch to the next image, same masks
    session.document.set_rough("pore", mask)
    session.save_current()  # newer masks replace the queued save
    gate.set()
    assert session.writer.wait_idle(5)
    qtbot.waitUntil(lambda: window.status.save_state.text() == "saved", timeout=5000)
    last = session.project.history(image_id)[-1]
    assert (last.to_status, last.comment) == (Status.IN_PROGRESS, "accepted model pre-label")
    assert session.project.load_rough(image_id)["pore"].any()
    assert not session.document.modified


def test_saved_is_shown_only_once_the_newest_masks_are_written(window, qtbot, monkeypatch):
    session, project = window.session, window.session.project
    real, gates, calls = project.save_rough, [threading.Event(), threading.Event()], []

    def slow_save(*args, **kwargs):
        calls.append(kwargs)
        gates[len(calls) - 1].wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(project, "save_rough", slow_save)
    doc = session.document
    mask = np.zeros(doc.shape[:2], dtype=bool)
    mask[40:50, 30:60] = True
    doc.set_rough("wrinkle", mask)
    session.save_current()
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)  # the first save is running
    doc.set_rough("pore", mask)
    session.save_current()  # queued behind it
    written = Recorder(session.writer.written)
    gates[0].set()
    qtbot.waitUntil(lambda: bool(written.calls), timeout=5000)  # the first save is on disk
    qtbot.wait(20)
    assert window.status.save_state.text() == "saving…" and doc.modified
    gates[1].set()
    qtbot.waitUntil(lambda: window.status.save_state.text() == "saved", timeout=5000)
    assert not doc.modified


def test_lasso_alt_release_erases_and_esc_drops_the_outline(window):
    canvas, doc = window.canvas, window.canvas.document
    canvas.set_zoom(4.0)
    canvas.centerOn(64, 48)
    window.tools.set_class("pore")
    window.tools.set_tool("lasso")
    drag(canvas, [(30, 40), (30, 90), (66, 90), (66, 40)])
    assert doc.rough("pore")[32:65, 42:89].all()
    # Alt held at the release: the lasso erases inside the outline
    drag(canvas, [(40, 50), (40, 70), (56, 70), (56, 50)], release=False)
    end = widget_point(canvas, 56, 50)
    QTest.mouseRelease(
        canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, end
    )
    pore = doc.rough("pore")
    assert not pore[42:55, 52:69].any() and pore[34, 60] and pore[62, 60]
    # Esc while drawing drops the outline: the release then fills nothing
    before = doc.rough("pore").copy()
    drag(canvas, [(42, 52), (42, 68), (54, 68), (54, 52)], release=False)
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    QTest.mouseRelease(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        widget_point(canvas, 54, 52),
    )
    np.testing.assert_array_equal(doc.rough("pore"), before)
    assert canvas._lasso_item.path().isEmpty()


def test_thumbnails_never_hold_back_opening_an_image(qtbot, project_dir, monkeypatch):
    from PySide6.QtCore import QThreadPool

    from app.gui import image_list as image_list_module

    real, gate = image_list_module.make_thumbnail, threading.Event()

    def slow_thumbnail(path, *args):
        gate.wait(10)  # a large folder's thumbnails, still being made
        return real(path, *args)

    monkeypatch.setattr(image_list_module, "make_thumbnail", slow_thumbnail)
    pool = QThreadPool.globalInstance()
    threads = pool.maxThreadCount()
    pool.setMaxThreadCount(1)  # a one-core machine: any queued job delays the load
    w = MainWindow()
    qtbot.addWidget(w)
    try:
        w.prelabels.ahead = False
        assert w.open_project(project_dir)
        third = w.session.records()[2].id
        w.open_image(third)
        qtbot.waitUntil(lambda: w.session.current.image_id == third, timeout=5000)
        assert not w.image_list.model.has_thumbnail(third)  # thumbnails still on their way
    finally:
        gate.set()
        w.close()
        pool.setMaxThreadCount(threads)
