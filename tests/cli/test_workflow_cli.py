"""``skintrace mark``: the review workflow from the command line (core.project.workflow)."""

from __future__ import annotations

import numpy as np
import pytest

from app.cli import main
from core.imageio import save_png
from core.project import Project, Status

SHAPE = (24, 32)


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        save_png(src / f"face{i}.png", np.full((*SHAPE, 3), 70 + 30 * i, np.uint8))
    folder = tmp_path / "p"
    with Project.create(folder, user="ana") as p:
        list(p.import_images(src))
        mask = np.zeros(SHAPE, bool)
        mask[3:8, 2:25] = True
        for r in p.images():
            p.save_rough(r.id, {"wrinkle": mask})
    return folder


def _status(folder, name):
    with Project.open(folder, read_only=True) as p:
        return next(r.status for r in p.images() if r.name == name)


def test_submit_accept_reject_reopen_by_id_and_name(project, capsys):
    with Project.open(project, read_only=True) as p:
        first = next(r.id for r in p.images() if r.name == "face0.png")
    assert main(["mark", str(project), "submit", str(first), "face1.png", "--user", "ana"]) == 0
    assert "face0.png: in progress -> submitted" in capsys.readouterr().out
    assert main(["mark", str(project), "accept", "face0.png", "--user", "rev"]) == 0
    assert (
        main(["mark", str(project), "reject", "face1.png", "--comment", "pores", "--user", "rev"])
        == 0
    )
    assert _status(project, "face0.png") == Status.ACCEPTED
    assert _status(project, "face1.png") == Status.REJECTED
    with Project.open(project, read_only=True) as p:
        last = p.history()[-1]
    assert (last.to_status, last.user, last.comment) == (Status.REJECTED, "rev", "pores")
    assert main(["mark", str(project), "reopen", "face0.png"]) == 0
    assert _status(project, "face0.png") == Status.IN_PROGRESS
    assert main(["mark", str(project), "submit", "face0.png"]) == 0
    capsys.readouterr()
    assert main(["mark", str(project), "submit", "face0.png"]) == 0  # nothing to do: said so
    assert "face0.png: already submitted" in capsys.readouterr().out


def test_refusals_are_one_line_and_change_nothing(project, capsys):
    assert main(["mark", str(project), "reject", "face0.png"]) == 1  # no comment
    assert "reject needs --comment" in capsys.readouterr().err
    assert main(["mark", str(project), "accept", "nosuch.png"]) == 1
    assert "has no image 'nosuch.png'" in capsys.readouterr().err
    assert main(["mark", str(project), "accept", "face2.png"]) == 1  # in progress, not submitted
    err = capsys.readouterr().err
    assert err.startswith("skintrace: error:") and err.count("\n") == 1
    assert _status(project, "face2.png") == Status.IN_PROGRESS
