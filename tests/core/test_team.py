"""core.project.claims / team / team_sync on real catalogs (SQLite; PostgreSQL too when
the team backend is there): claims and leases, assignment, queues, stats, retrain lock."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from core.errors import ProjectError
from core.project import Project, Status
from core.project.claims import ClaimedError, ClaimLostError, Claims, this_host
from core.project.team import (
    add_work_time,
    assign,
    assignments,
    first_in_queue,
    next_in_queue,
    plan_assignment,
    queue,
    stats,
    stats_rows,
    unassign,
)
from core.project.team_sync import RetrainBusyError, RetrainLock, snapshot
from tests.core.team_helpers import BACKENDS, make_project, open_as


@pytest.fixture(params=BACKENDS)
def team_project(request, tmp_path) -> Iterator[Project]:
    p = make_project(request.param, request, tmp_path)
    yield p
    p.close()


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


# ---------------------------------------------------------------------- claims


def test_claim_is_exclusive_until_released(team_project):
    p = team_project
    one, two = (r.id for r in p.images()[:2])
    ana = Claims(p.db, user="ana", host="lab-1 pid 11")
    bo = Claims(p.db, user="bo", host="lab-2 pid 22")
    claim = ana.claim(one)
    assert claim.user == "ana" and claim.expires_utc > claim.claimed_utc
    with pytest.raises(ClaimedError, match=r"open by ana on lab-1 until"):
        bo.claim(one)
    assert bo.holder(one).user == "ana" and bo.holder(two) is None
    assert ana.claim(one).claimed_utc == claim.claimed_utc  # claiming again renews
    bo.claim(two)
    assert {i: c.user for i, c in ana.all().items()} == {one: "ana", two: "bo"}
    assert not bo.release(one)  # not bo's to release
    assert ana.release(one)
    assert bo.claim(one).user == "bo"
    assert bo.release_all() == 2 and ana.all() == {}


def test_expired_lease_is_free_and_the_loser_is_told(team_project):
    p = team_project
    image = p.images()[0].id
    bo = Claims(p.db, user="bo", host="lab-2 pid 22", lease_s=0.05)
    ana = Claims(p.db, user="ana", host="lab-1 pid 11")
    bo.claim(image)
    time.sleep(0.1)  # bo's machine stopped renewing
    assert ana.holder(image) is None
    assert ana.claim(image).user == "ana"
    with pytest.raises(ClaimLostError, match="ana has it now"):
        bo.renew(image)
    assert bo.renew_all() == 0 and ana.renew_all() == 1
    assert ana.expire() == 0


def test_claim_of_a_dead_process_on_this_host_is_free_at_once(team_project):
    p = team_project
    image = p.images()[0].id
    gone = Claims(p.db, user="bo", host=this_host().rsplit(" pid ", 1)[0] + f" pid {_dead_pid()}")
    gone.claim(image)  # long lease, but its process has exited
    me = Claims(p.db, user="ana")
    assert me.holder(image) is None
    assert me.claim(image).host == this_host()


def test_steal_and_unknown_image(team_project):
    p = team_project
    image = p.images()[0].id
    Claims(p.db, user="bo", host="lab-2 pid 22").claim(image)
    admin = Claims(p.db, user="admin", host="lab-0 pid 1")
    assert admin.claim(image, steal=True).user == "admin"
    with pytest.raises(ProjectError, match="no image 999"):
        admin.claim(999)
    with pytest.raises(ProjectError, match="positive"):
        Claims(p.db, user="x", lease_s=0)


# ---------------------------------------------------------------------- assignment


def test_plan_assignment_ways():
    images = [(i, f"{'a' if i <= 3 else 'b'}/{i}.png") for i in range(1, 11)]
    rr = plan_assignment(images, ["ana", "bo", "cy"])
    assert [rr[i] for i in (1, 2, 3, 4)] == ["ana", "bo", "cy", "ana"]
    by_count = plan_assignment(images, ["ana", "bo"], how="count", count=4)
    assert sorted(by_count) == list(range(1, 9)) and by_count[4] == "ana" and by_count[5] == "bo"
    even = plan_assignment(images, ["ana", "bo", "cy"], how="count")
    assert len(even) == 10 and sum(u == "cy" for u in even.values()) == 2
    folders = plan_assignment(images, ["ana", "bo"], how="folder")
    assert {folders[i] for i in (1, 2, 3)} == {"bo"} and {folders[i] for i in range(4, 11)} == {
        "ana"
    }
    with pytest.raises(ProjectError, match="twice"):
        plan_assignment(images, ["ana", "ana"])
    with pytest.raises(ProjectError, match="at least one"):
        plan_assignment(images, [])
    with pytest.raises(ProjectError, match="unknown assignment"):
        plan_assignment(images, ["ana"], how="random")  # type: ignore[arg-type]


def test_assign_keeps_existing_unless_reassigned(team_project):
    p = team_project
    ids = [r.id for r in p.images()]
    first = assign(p.db, ["ana", "bo"])
    assert sorted(first["ana"] + first["bo"]) == ids
    again = assign(p.db, ["cy"])
    assert again == {"cy": []}  # nothing unassigned left
    moved = assign(p.db, ["cy"], image_ids=ids[:2], reassign=True)
    assert moved == {"cy": ids[:2]}
    assert assignments(p.db)[ids[0]] == "cy"
    assert unassign(p.db, ids[:1]) == 1 and ids[0] not in assignments(p.db)
    with pytest.raises(ProjectError, match="no image 999"):
        assign(p.db, ["ana"], image_ids=[999])


def test_queue_walks_own_unfinished_images_and_rejected_go_back(team_project, tmp_path):
    p = team_project
    ids = [r.id for r in p.images()]
    assign(p.db, ["ana", "bo"])  # round-robin: ana gets ids[0], ids[2], ...
    ana_ids = ids[0::2]
    assert queue(p.db, "ana") == ana_ids
    # bo works on one of ana's images, submits it; the reviewer rejects it: back to bo.
    target = ana_ids[0]
    with open_as(p, "bo") as bo:
        bo.set_status(target, Status.IN_PROGRESS)
        bo.set_status(target, Status.SUBMITTED)
    with open_as(p, "rev") as rev:
        rev.set_status(target, Status.REJECTED, comment="pores missed")
    with open_as(p, "ana") as ana:
        assert target not in queue(ana.db, "ana")
        assert target in queue(ana.db, "bo")
        # claims held by others drop out of Next; one's own stay.
        other = Claims(ana.db, user="cy", host="lab-3 pid 3")
        other.claim(ana_ids[1])
        live = other.all()
        assert next_in_queue(ana.db, "ana", claims=live) == ana_ids[2]
        assert next_in_queue(ana.db, "ana", after=ana_ids[-1]) == ana_ids[1]
        assert next_in_queue(ana.db, "nobody") is None
        # where each starts when the window opens: the first of their queue nobody holds
        assert first_in_queue(ana.db, "ana", me="lab-1 pid 1") == ana_ids[2]  # [1]: cy's
        assert first_in_queue(ana.db, "nobody") is None  # nothing assigned: window's default


def test_stats_per_person(team_project):
    p = team_project
    a, b, c = (r.id for r in p.images()[:3])
    assign(p.db, ["ana", "bo"], image_ids=[a, b, c])
    with open_as(p, "ana") as ana:
        for i in (a, c):
            ana.set_status(i, Status.IN_PROGRESS)
            ana.set_status(i, Status.SUBMITTED)
        add_work_time(ana.db, "ana", a, 30)
        add_work_time(ana.db, "ana", a, 5000)  # capped at 10 min
        add_work_time(ana.db, "ana", c, 12.5)
    with open_as(p, "rev") as rev:
        rev.set_status(a, Status.ACCEPTED)
        rev.set_status(c, Status.REJECTED)
        people = {s.user: s for s in stats(rev.db)}
        rows = stats_rows(list(people.values()))
    ana_s, rev_s = people["ana"], people["rev"]
    assert (ana_s.assigned, ana_s.done, ana_s.accepted, ana_s.rejected) == (2, 2, 1, 1)
    assert ana_s.open == 1  # c came back rejected; a is accepted
    assert ana_s.seconds == pytest.approx(30 + 600 + 12.5)
    assert (rev_s.reviewed, rev_s.done, rev_s.assigned) == (2, 0, 0)
    assert people["bo"].assigned == 1 and people["bo"].open == 1
    assert ("ana", "2", "1", "2", "1", "1", "0", "0:10:42") in rows


# ---------------------------------------------------------------------- refresh, retrain


def test_snapshot_changes(team_project):
    p = team_project
    a, b = (r.id for r in p.images()[:2])
    first = snapshot(p.db)
    assert first.changes(None).statuses == set(first.statuses)
    assert not snapshot(p.db).changes(first)
    p.set_status(a, Status.IN_PROGRESS)
    Claims(p.db, user="bo", host="lab-2 pid 22").claim(b)
    later = snapshot(p.db)
    changes = later.changes(first)
    assert changes.statuses == {a} and changes.claims == {b} and not changes.model
    assert later.claims[b].user == "bo"
    # a new current model (chosen on another workstation) shows as a model change
    model = p.add_model(p.root / "models" / "m1", {"iou": 0.5})
    p.set_current_model(model)
    newest = snapshot(p.db)
    assert newest.changes(later).model and newest.current_model == model
    assert not snapshot(p.db).changes(newest)


def test_retrain_lock_one_at_a_time(team_project):
    p = team_project
    ana = RetrainLock(p.db, user="ana", host="lab-1 pid 11")
    bo = RetrainLock(p.db, user="bo", host="lab-2 pid 22", lease_s=0.05)
    with ana:
        with pytest.raises(RetrainBusyError, match="ana on lab-1 is retraining"):
            bo.acquire()
        ana.renew()
        assert bo.holder()["user"] == "ana"
    assert ana.holder() is None
    bo.acquire()  # bo's lease is short: a machine that died frees the lock
    time.sleep(0.1)
    ana.acquire()
    with pytest.raises(ProjectError, match="ran out"):
        bo.renew()
    ana.release()
    bo.release()  # no longer holds it: nothing to do


def test_team_work_under_annotator_and_reviewer_roles(pg_server, tmp_path):
    """The grants of a team project let an annotator claim, save, log time and retrain,
    a reviewer assign and review; an annotator cannot assign."""
    import numpy as np
    import psycopg

    from tests.core.team_helpers import make_pg_project, open_team

    url = pg_server.create_database()
    database = url.rsplit("/", 1)[1]
    names = {r: f"{r}_{database}" for r in ("ana", "rev")}
    with psycopg.connect(pg_server.url(database), autocommit=True) as conn:
        p = make_pg_project(url, tmp_path, n=4)  # the owner migrates: roles exist now
        conn.execute(f'CREATE ROLE "{names["ana"]}" LOGIN IN ROLE skintrace_annotator')
        conn.execute(f'CREATE ROLE "{names["rev"]}" LOGIN IN ROLE skintrace_reviewer')
    ids = [r.id for r in p.images()]
    ana_url = pg_server.url(database, user=names["ana"])
    rev_url = pg_server.url(database, user=names["rev"])
    with open_team(rev_url, user="rev", root=p.root) as rev:
        assert assign(rev.db, ["ana"]) == {"ana": ids}
    with open_team(ana_url, user="ana", root=p.root) as ana:
        with pytest.raises(ProjectError):
            assign(ana.db, ["ana"], reassign=True)
        image = next_in_queue(ana.db, "ana")
        claims = Claims(ana.db, user="ana")
        claims.claim(image)
        shape = ana.load_rough(image)["wrinkle"].shape
        ana.save_rough(
            image, {"wrinkle": np.ones(shape, bool)}, base_revisions=ana.mask_revisions(image)
        )
        add_work_time(ana.db, "ana", image, 42)
        ana.set_status(image, Status.SUBMITTED)
        assert claims.release(image)
        with RetrainLock(ana.db, user="ana") as lock:
            lock.renew()
        assert RetrainLock(ana.db, user="x").holder() is None
        assert snapshot(ana.db).statuses[image] is Status.SUBMITTED
    with open_team(rev_url, user="rev", root=p.root) as rev:
        rev.set_status(image, Status.ACCEPTED)
        people = {s.user: s for s in stats(rev.db)}
    assert (people["ana"].done, people["ana"].accepted, people["ana"].seconds) == (1, 1, 42)
    assert people["rev"].reviewed == 1
    p.close()
