"""One status owner: the session's ProjectModel, fed only by what the writer wrote.

The image list, the review queue and "next unfinished" all read the one model; a status
shows only once the catalog has it, and a failed write leaves the model as it was.
"""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from app.gui.image_list import ImageList
from app.gui.project_model import UNFINISHED, ReviewQueueProxy
from app.gui.session import AnnotationSession
from core.project import Project

from .helpers import make_project, open_window


@pytest.fixture
def session(qtbot, tmp_path):
    """A session on a 4-image project, with an image list and a review queue on its model."""
    root = make_project(tmp_path, count=4)
    s = AnnotationSession(Project.open(root))
    s.image_list = ImageList()  # type: ignore[attr-defined]
    qtbot.addWidget(s.image_list)
    s.image_list.set_model(s.model)
    s.queue = ReviewQueueProxy("submitted")  # type: ignore[attr-defined]
    s.queue.setSourceModel(s.model)
    s.records()
    yield s
    s.close()


def catalog(project: Project) -> dict[int, str]:
    return {r.id: r.status.value for r in project.images()}


def test_a_status_written_through_the_writer_shows_in_list_and_queue(session, qtbot):
    ids = session.model.ids()
    image_list, queue = session.image_list, session.queue
    assert image_list.model is session.model  # the list has no statuses of its own
    reported: list[tuple[int, str]] = []
    session.statusChanged.connect(lambda i, s: reported.append((i, s)))
    gate = threading.Event()
    session.writer.submit("gate", gate.wait)  # hold the writer: the status stays queued
    try:
        session.set_status(ids[1], "submitted")
        # queued, not written: nothing is shown ahead of the catalog
        assert image_list.status(ids[1]) == "new"
        assert session.model.pending(ids[1])
        assert queue.ids() == [] and reported == []
    finally:
        gate.set()  # (a failed assertion must not leave the writer held)
    qtbot.waitUntil(lambda: image_list.status(ids[1]) == "submitted", timeout=5000)
    assert not session.model.pending(ids[1])
    assert queue.ids() == [ids[1]]
    assert reported == [(ids[1], "submitted")]
    assert catalog(session.project)[ids[1]] == "submitted"
    image_list.filter.setCurrentIndex(image_list.filter.findData("submitted"))
    assert image_list.visible_ids() == [ids[1]]
    image_list.filter.setCurrentIndex(image_list.filter.findData("unfinished"))
    assert image_list.visible_ids() == [ids[0], ids[2], ids[3]]


def test_a_refused_status_write_leaves_the_model_unchanged(session, qtbot):
    ids = session.model.ids()
    errors: list[str] = []
    session.error.connect(errors.append)
    session.set_status(ids[0], "accepted")  # new → accepted is not an allowed move
    assert session.model.pending(ids[0])
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert "cannot become accepted" in errors[0]
    qtbot.waitUntil(lambda: not session.model.pending(ids[0]), timeout=5000)
    assert session.model.status(ids[0]) == "new" == catalog(session.project)[ids[0]]
    assert session.image_list.status(ids[0]) == "new"
    assert session.queue.ids() == []


def test_a_failed_save_leaves_the_status_where_the_catalog_has_it(session, qtbot):
    ids = session.model.ids()
    states: list[str] = []
    session.saveStateChanged.connect(states.append)
    session.open_image(ids[0], wait=True)
    doc = session.document
    painted = np.zeros(doc.shape[:2], dtype=bool)
    painted[10:20, 10:40] = True
    doc.set_rough("wrinkle", painted)
    # the image's mask folder is a file: the save fails on disk, the catalog is untouched
    folder = session.project.root / "masks" / str(ids[0])
    shutil.rmtree(folder, ignore_errors=True)
    folder.write_bytes(b"not a folder")
    session.save_current()
    qtbot.waitUntil(lambda: "NOT SAVED" in states, timeout=5000)
    assert catalog(session.project)[ids[0]] == "new"
    assert session.model.status(ids[0]) == "new"  # no "in progress" badge ahead of it
    assert session.image_list.status(ids[0]) == "new"
    folder.unlink()
    session.save_current()  # the same masks, saved for real this time
    qtbot.waitUntil(lambda: session.model.status(ids[0]) == "in_progress", timeout=5000)
    assert catalog(session.project)[ids[0]] == "in_progress"


def test_prelabel_source_and_status_come_from_the_writes(session, qtbot):
    from app.gui.assist.prelabel_worker import queue_store
    from app.gui.project_model import PRELABEL_ROLE
    from core.assist.prelabel import BASELINE_SOURCE
    from core.project.workflow import reject_prelabel

    ids = session.model.ids()
    rows, cols = session.model.record(ids[2]).rows, session.model.record(ids[2]).cols
    maps = {c: np.zeros((rows, cols), dtype=np.uint8) for c in ("wrinkle", "pore")}
    maps["wrinkle"][5:9, 5:60] = 200
    queue_store(session.writer, session.project, ids[2], maps, BASELINE_SOURCE, 0.25)
    index = session.model.index(session.model.row_of(ids[2]))
    qtbot.waitUntil(lambda: session.model.status(ids[2]) == "prelabeled", timeout=5000)
    assert index.data(PRELABEL_ROLE) == BASELINE_SOURCE
    session.queue.set_kind("prelabeled")
    assert session.queue.ids() == [ids[2]]
    project = session.project
    session.submit_status_job(ids[2], lambda: reject_prelabel(project, ids[2]))
    assert session.queue.ids() == []  # in flight
    qtbot.waitUntil(lambda: session.model.status(ids[2]) == "new", timeout=5000)
    assert index.data(PRELABEL_ROLE) is None
    assert session.queue.ids() == []
    assert catalog(project)[ids[2]] == "new" and not project.prelabel_sources(ids[2])


def _settled(w) -> bool:
    """The model shows what the catalog holds and no status write is in flight."""
    model, cat = w.session.model, catalog(w.session.project)
    return all(model.status(i) == s and not model.pending(i) for i, s in cat.items())


def _next_unfinished(cat: dict[int, str], current: int) -> int | None:
    ids = list(cat)
    start = ids.index(current)
    after = [ids[(start + k) % len(ids)] for k in range(1, len(ids))]
    return next((i for i in after if cat[i] in UNFINISHED), None)


def _check_agrees_with_catalog(w, qtbot) -> dict[int, str]:
    assert w.session.flush(10.0)
    qtbot.waitUntil(lambda: _settled(w), timeout=5000)
    cat = catalog(w.session.project)
    assert w.review.queue() == [i for i, s in cat.items() if s == "submitted"]
    for image_id in cat:
        assert w.prelabels.next_target(image_id) == _next_unfinished(cat, image_id)
        assert w.image_list.status(image_id) == cat[image_id]
    return cat


def test_next_unfinished_and_review_queue_follow_submit_accept_reject(qtbot, tmp_path):
    root = make_project(tmp_path, count=4)
    w = open_window(qtbot, root, ahead=False)
    try:
        ids = w.session.model.ids()
        for image_id in ids[1:]:
            w.session.set_status(image_id, "submitted")
        cat = _check_agrees_with_catalog(w, qtbot)
        assert [cat[i] for i in ids[1:]] == ["submitted"] * 3
        assert w.prelabels.next_target(ids[1]) == ids[0]  # wraps to the only unfinished
        w.review.set_active(True)
        qtbot.waitUntil(lambda: w.session.current.image_id == ids[1], timeout=5000)
        assert w.review.accept()  # A: accepted, and the next of the queue opens
        assert ids[1] not in w.review.queue()  # its write is in flight
        qtbot.waitUntil(lambda: w.session.current.image_id == ids[2], timeout=5000)
        w.session.set_status(ids[2], "rejected", comment="pores missed on the chin")
        cat = _check_agrees_with_catalog(w, qtbot)
        assert [cat[i] for i in ids[1:]] == ["accepted", "rejected", "submitted"]
        assert w.review.queue() == [ids[3]]
        assert w.prelabels.next_target(ids[0]) == ids[2]  # rejected work comes back
        w.review.set_active(False)
        w.session.set_status(ids[2], "submitted")  # reworked and submitted again
        cat = _check_agrees_with_catalog(w, qtbot)
        assert w.review.queue() == [ids[2], ids[3]]
        assert w.prelabels.next_target(ids[0]) is None
    finally:
        w.close()
