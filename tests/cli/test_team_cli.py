"""skintrace team assign | stats | claims (on a project folder; a team address works alike)."""

from __future__ import annotations

from app.cli import main
from core.project import Project, Status
from core.project.claims import Claims
from core.project.team import add_work_time, assignments
from tests.core.team_helpers import make_project


def test_assign_stats_and_claims(tmp_path, capsys):
    make_project("sqlite", None, tmp_path, n=6).close()
    proj = str(tmp_path / "proj")
    assert main(["team", "assign", proj, "ana", "bo", "--how", "folder"]) == 0
    out = capsys.readouterr().out
    assert "assigned 6 image(s) (folder)" in out and "ana: 3" in out and "bo: 3" in out
    assert main(["team", "assign", proj, "cy", "--ids", "1-2"]) == 0
    assert "cy: 2" in capsys.readouterr().out
    with Project.open(proj, user="ana") as p:
        assert assignments(p.db)[1] == "cy"
        p.set_status(3, Status.IN_PROGRESS)
        p.set_status(3, Status.SUBMITTED)
        add_work_time(p.db, "ana", 3, 75)
        Claims(p.db, user="bo", host="lab-2 pid 22").claim(4)
    assert main(["team", "stats", proj]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "user",
        "assigned",
        "open",
        "done",
        "accepted",
        "rejected",
        "reviewed",
        "time",
    ]
    assert table[1].split() == ["ana", "1", "0", "1", "0", "0", "0", "0:01:15"]
    assert main(["team", "stats", proj, "--csv"]) == 0
    assert "cy,2,2,0,0,0,0,0:00:00" in capsys.readouterr().out
    assert main(["team", "claims", proj]) == 0
    out = capsys.readouterr().out
    assert "4" in out and "bo" in out and "lab-2" in out


def test_assign_refuses_bad_input(tmp_path, capsys):
    make_project("sqlite", None, tmp_path, n=2).close()
    proj = str(tmp_path / "proj")
    assert main(["team", "assign", proj, "ana", "ana"]) == 1
    assert "named twice" in capsys.readouterr().err
    assert main(["team", "assign", proj, "ana", "--how", "count", "--count", "0"]) == 1
    assert "at least 1" in capsys.readouterr().err
    assert main(["team", "claims", proj]) == 0
    assert "no image is open" in capsys.readouterr().out
