"""A save copies the open document's masks on the writer thread, when its job starts."""

from __future__ import annotations

import threading

import numpy as np

from core.project import Project


def test_an_edit_before_the_queued_save_runs_is_saved_with_it(window, project_dir, qtbot):
    session = window.session
    doc, image_id = session.document, session.current.image_id
    gate, started = threading.Event(), threading.Event()
    session._autosave.setInterval(10**8)  # the one save is the one queued below

    def blocker() -> None:  # holds the writer so the save below waits in its queue
        started.set()
        gate.wait(5)

    session.writer.submit(("block", 0), blocker)
    assert started.wait(5)
    first = np.zeros(doc.shape[:2], dtype=bool)
    first[10:20, 10:40] = True
    doc.set_rough("wrinkle", first)
    session.save_current()  # queued: nothing is copied yet
    second = first.copy()
    second[50:60, 30:90] = True
    doc.set_rough("pore", second)  # before the save's job has started
    doc.set_rough("exclude", first)
    gate.set()
    qtbot.waitUntil(lambda: window.status.save_state.text() == "saved", timeout=10000)
    assert session.writer.pending() == 0
    assert not doc.modified and image_id not in session._dirty  # the masks on disk are these
    with Project.open(project_dir, read_only=True) as p:
        saved = p.load_rough(image_id)
        np.testing.assert_array_equal(saved["wrinkle"], first)
        np.testing.assert_array_equal(saved["pore"], second)
        np.testing.assert_array_equal(p.load_exclusion(image_id), first)
