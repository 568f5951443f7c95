"""core.project.workflow: each operation moves in one transaction and says what changed."""

from __future__ import annotations

import numpy as np
import pytest

from core.assist.prelabel import rejected_prelabels
from core.errors import ProjectError
from core.imageio import save_png
from core.project import Project, Status
from core.project import workflow as wf

SHAPE = (32, 40)


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        save_png(src / f"{i}.png", np.full((*SHAPE, 3), 60 + 40 * i, np.uint8))
    p = Project.create(tmp_path / "p", user="rita")
    list(p.import_images(src))
    yield p
    p.close()


def _painted(project: Project, image_id: int) -> None:
    mask = np.zeros(SHAPE, bool)
    mask[4:9, 3:30] = True
    project.save_rough(image_id, {"wrinkle": mask})


def test_submit_accept_reject_reopen_return_the_change(project):
    a, b, _ = (r.id for r in project.images())
    _painted(project, a)
    change = wf.submit(project, a)
    assert (change.before, change.after, change.changed) == (
        Status.IN_PROGRESS,
        Status.SUBMITTED,
        True,
    )
    assert [(h.from_status, h.to_status, h.user) for h in change.history] == [
        (Status.IN_PROGRESS, Status.SUBMITTED, "rita")
    ]
    assert change.history[-1] == project.history(a)[-1]
    assert wf.accept(project, a, comment="fine").history[0].comment == "fine"
    # Submitting a finished image reopens it first: two rows, one transaction.
    again = wf.submit(project, a)
    assert [h.to_status for h in again.history] == [Status.IN_PROGRESS, Status.SUBMITTED]
    assert again.history[0].comment == wf.REOPENED_TO_SUBMIT
    assert not wf.submit(project, a).changed  # already submitted
    assert wf.reject(project, a, comment="missed pores").after == Status.REJECTED
    assert wf.reopen(project, a).after == Status.IN_PROGRESS
    # A refused move changes nothing.
    before = project.history(b)
    with pytest.raises(ProjectError, match="cannot become accepted"):
        wf.accept(project, b)
    assert project.history(b) == before and project.image(b).status == Status.NEW


def test_change_status_through_steps_is_all_or_nothing(project):
    a, b, _ = (r.id for r in project.images())
    change = wf.change_status(project, a, "accepted", through=("in_progress", "submitted"))
    assert [h.to_status for h in change.history] == [
        Status.IN_PROGRESS,
        Status.SUBMITTED,
        Status.ACCEPTED,
    ]
    with pytest.raises(ProjectError, match="cannot become"):
        wf.change_status(project, b, "accepted", through=("submitted",))  # new → submitted
    assert [h.to_status for h in project.history(b)] == [Status.NEW]


def test_prelabel_operations(project):
    a, b, _ = (r.id for r in project.images())
    maps = {c: np.zeros(SHAPE, np.uint8) for c in ("wrinkle", "pore")}
    maps["wrinkle"][5:9, 2:30] = 220
    for image_id in (a, b):
        project.save_prelabel(image_id, maps, source="model:1:m")
    opened = wf.open_prelabel(project, a)
    assert (opened.before, opened.after, opened.source) == (
        Status.PRELABELED,
        Status.IN_PROGRESS,
        "model:1:m",
    )
    undone = wf.undo_review(project, a)
    assert undone.after == Status.PRELABELED and undone.history[0].comment.startswith("undo")
    rejected = wf.reject_prelabel(project, b, note="blurry")
    assert rejected.after == Status.NEW and rejected.history[0].comment.endswith(": blurry")
    assert rejected_prelabels(project) == {b: "model:1:m"}
    assert project.load_prelabel(b) is None
    assert not (project.root / "prelabels" / str(b) / "wrinkle.png").exists()
    with pytest.raises(ProjectError, match="only pre-labeled"):
        wf.reject_prelabel(project, b)
    _painted(project, a)  # the pre-label saved as rough masks: pre-labeled → in progress
    with pytest.raises(ProjectError, match="confirm"):
        wf.accept_prelabel(project, a, confirmed=False)
    accepted = wf.accept_prelabel(project, a, confirmed=True)
    assert [h.to_status for h in accepted.history] == [Status.SUBMITTED, Status.ACCEPTED]
    assert accepted.history[0].comment == wf.accept_comment("model:1:m")
