"""Review decisions without Qt: pre-label correction, unedited acceptance, undo."""

from __future__ import annotations

import numpy as np
import pytest

from core.demo.synthetic import make_face
from core.errors import ProjectError
from core.imageio import save_png
from core.project import Project, Status
from core.project.review import (
    UNEDITED_WARNING,
    accept_prelabel_unedited,
    last_decision,
    open_prelabel_for_correction,
    undo_review,
)

SHAPE = (48, 64)


@pytest.fixture
def project(tmp_path, project_factory):
    """On both backends (a folder, a PostgreSQL team project)."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        save_png(src / f"face-{i}.png", make_face(30 + i, shape=SHAPE).image)
    p = project_factory.create("project", name="review test", user="rita")
    for _ in p.import_images(src, copy=True):
        pass
    yield p
    p.close()


def _prelabel(project: Project, image_id: int) -> dict[str, np.ndarray]:
    maps = {c: np.zeros(SHAPE, np.uint8) for c in ("wrinkle", "pore")}
    maps["wrinkle"][10:14, 5:40] = 200
    project.save_prelabel(image_id, maps, source="baseline:frangi")
    return maps


def _submitted(project: Project, image_id: int) -> None:
    mask = np.zeros(SHAPE, bool)
    mask[5:9, 5:30] = True
    project.save_rough(image_id, {"wrinkle": mask})
    project.set_status(image_id, "submitted")


def test_undo_accept_and_reject_go_back_to_the_review_queue_with_history(project):
    a, b, _ = (r.id for r in project.images())
    _submitted(project, a)
    _submitted(project, b)
    project.set_status(a, "accepted")
    project.set_status(b, "rejected", comment="missed the forehead")
    assert last_decision(project, a).to_status == Status.ACCEPTED
    assert undo_review(project, a) == Status.SUBMITTED
    assert undo_review(project, b) == Status.SUBMITTED
    assert project.image(a).status == project.image(b).status == Status.SUBMITTED
    last = project.history(a)[-1]
    assert (last.from_status, last.to_status) == (Status.ACCEPTED, Status.SUBMITTED)
    assert last.comment == "undo review: was accepted" and last.user == "rita"
    # an undo is not undone again, and a plain status change is no review decision
    with pytest.raises(ProjectError, match="not a review decision"):
        undo_review(project, a)
    project.set_status(a, "in_progress")
    with pytest.raises(ProjectError, match="not a review decision"):
        undo_review(project, a)


def test_opening_a_prelabel_for_correction_is_undoable(project):
    a = project.images()[0].id
    _prelabel(project, a)
    assert open_prelabel_for_correction(project, a) == "baseline:frangi"
    assert project.image(a).status == Status.IN_PROGRESS
    assert "opened for correction" in project.history(a)[-1].comment
    assert undo_review(project, a) == Status.PRELABELED
    with pytest.raises(ProjectError, match="only pre-labeled"):
        open_prelabel_for_correction(project, project.images()[1].id)


def test_unedited_acceptance_needs_confirmation_and_non_empty_masks(project):
    a = project.images()[0].id
    maps = _prelabel(project, a)
    with pytest.raises(ProjectError) as info:
        accept_prelabel_unedited(project, a, confirmed=False)
    assert str(info.value) == UNEDITED_WARNING
    assert project.image(a).status == Status.PRELABELED  # nothing moved
    with pytest.raises(ProjectError, match="empty rough masks"):
        accept_prelabel_unedited(project, a, confirmed=True)
    project.save_rough(a, {"wrinkle": maps["wrinkle"] > 0})  # moves it to in progress
    assert accept_prelabel_unedited(project, a, confirmed=True) == "baseline:frangi"
    assert project.image(a).status == Status.ACCEPTED
    moves = [(h.from_status, h.to_status) for h in project.history(a)][-2:]
    assert moves == [(Status.IN_PROGRESS, Status.SUBMITTED), (Status.SUBMITTED, Status.ACCEPTED)]
    assert undo_review(project, a) == Status.PRELABELED  # the pre-label is still stored
