"""Two windows, two users (each its own PostgreSQL login role, annotator), one team
project: claims shown, painting off on an image someone else holds, a stale save refused
and the newer masks shown, a review by the reviewer role in another process reaching
both windows, claims released on close."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from app.gui.main_window import MainWindow
from app.gui.team_dialog import strip_password, with_password
from tests.core.team_helpers import open_team

from .helpers import make_project

ROOT = Path(__file__).resolve().parents[2]


def _window(qtbot, url: str, user: str) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.prelabels.ahead = False
    w.resize(1000, 650)
    assert w.team_opener.open(url, user=user)
    w.show()
    qtbot.waitUntil(lambda: w.team.active and w.session.current is not None, timeout=10_000)
    return w


def _settled(w: MainWindow) -> None:
    w.team.pool.waitForDone(10_000)
    w.session.flush(10.0)


def _roles(pg_server, url: str) -> dict[str, str]:
    """Login roles ana, bo, carl (annotators) and rev (reviewer): their URLs."""
    import psycopg

    database = url.rsplit("/", 1)[1]
    urls = {}
    with psycopg.connect(pg_server.url(database), autocommit=True) as conn:
        for name, group in (
            ("ana", "annotator"),
            ("bo", "annotator"),
            ("carl", "annotator"),
            ("rev", "reviewer"),
        ):
            role = f"{name}_{database}"
            conn.execute(f'CREATE ROLE "{role}" LOGIN IN ROLE skintrace_{group}')
            urls[name] = pg_server.url(database, user=role)
    return urls


def test_two_users_claims_stale_save_and_review(qtbot, tmp_path, pg_server):
    from core.project.transfer import push

    pg_url = pg_server.create_database()
    root = make_project(tmp_path, count=3)
    push(root, pg_url)
    urls = _roles(pg_server, pg_url)

    def opener(address, *, user, read_only=False):
        return open_team(address, user=user, root=root, read_only=read_only)

    ana = _window(qtbot, urls["ana"], "ana")
    first = ana.session.current.image_id
    qtbot.waitUntil(lambda: first in ana.team.claims, timeout=10_000)
    assert ana.canvas.editable and not ana.team.blocks_editing
    assert ana.findChild(type(ana.team.panel)) is ana.team.panel
    assert ana.docks.by_key["team"].isVisible()  # a tab beside the GT parameters
    assert f"[team project, {ana.session.project.user}]" in ana.windowTitle()

    bo = _window(qtbot, urls["bo"], "bo")  # opens the same first image: ana holds it
    qtbot.waitUntil(lambda: bo.team.blocks_editing, timeout=10_000)
    assert not bo.canvas.editable
    assert any("open by ana" in m for m in bo.messages)
    bo.team.poll()
    qtbot.waitUntil(lambda: first in bo.team.claims, timeout=10_000)
    assert bo.team.claims[first].user == "ana"

    # bo moves on to the next image and holds it; ana's window sees it on its next poll.
    second = bo.image_list.neighbour(first, +1)
    bo.open_image(second)
    qtbot.waitUntil(lambda: second in bo.team.claims and not bo.team.blocks_editing, timeout=10_000)
    assert bo.canvas.editable
    ana.team.poll()
    qtbot.waitUntil(lambda: ana.team.claims.get(second) is not None, timeout=10_000)
    assert ana.team.claims[second].user == "bo"

    # carl (another connection) saves image 2 behind bo's back; bo's save is then stale.
    rows, cols = bo.session.current.document.shape
    theirs = np.zeros((rows, cols), bool)
    theirs[:10, :10] = True
    with opener(urls["carl"], user="carl") as carl:
        carl.save_rough(second, {"wrinkle": theirs})
    mine = np.zeros((rows, cols), bool)
    mine[-10:, -10:] = True
    bo.session.current.document.set_rough("wrinkle", mine)
    bo.session.save_current()
    _settled(bo)
    qtbot.waitUntil(lambda: any("after you opened it" in m for m in bo.messages), timeout=10_000)
    assert any("saved by carl" in m for m in bo.messages)
    qtbot.waitUntil(
        lambda: bool(bo.session.current.document.rough("wrinkle")[:10, :10].all()), timeout=10_000
    )
    with opener(pg_url, read_only=True, user="check") as check:
        stored = check.load_rough(second)["wrinkle"]
    assert stored[:10, :10].all() and not stored[-10:, -10:].any()  # carl's work kept

    # ana paints and submits her image; a reviewer accepts it; both windows show it.
    ana.session.current.document.set_rough("pore", mine)
    ana.submit()
    _settled(ana)
    # the reviewer works in another process, as the reviewer role
    script = (
        "import sys; from pathlib import Path; from core.project import Status; "
        "from tests.core.team_helpers import open_team; "
        "p = open_team(sys.argv[1], user='rev', root=Path(sys.argv[2])); "
        "assert p.image(int(sys.argv[3])).status is Status.SUBMITTED; "
        "p.set_status(int(sys.argv[3]), Status.ACCEPTED); p.close()"
    )
    subprocess.run(
        [sys.executable, "-c", script, urls["rev"], str(root), str(first)],
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    for w in (ana, bo):
        w.team.poll()
        qtbot.waitUntil(lambda w=w: w.image_list.status(first) == "accepted", timeout=10_000)

    # the Team dock's summary; closing a window releases its claims, and ana, who has
    # bo's image open with painting off, takes it once it is free.
    ana.team.refresh_stats()
    qtbot.waitUntil(lambda: ana.team.panel.table.rowCount() >= 2, timeout=10_000)
    assert ana.team.begin_retrain()  # one retraining at a time per project
    assert not bo.team.begin_retrain()
    assert any("ana on" in m and "retraining" in m for m in bo.messages)
    ana.team.retrain_state_changed("idle")  # the retraining ended
    assert bo.team.begin_retrain()
    bo.team.retrain_state_changed("idle")
    ana.open_image(second)
    qtbot.waitUntil(lambda: ana.team.blocks_editing, timeout=10_000)
    bo.close()
    ana.team.poll()
    qtbot.waitUntil(lambda: not ana.team.blocks_editing, timeout=10_000)
    qtbot.waitUntil(lambda: ana.team.claims.get(second) is not None, timeout=10_000)
    assert ana.team.is_mine(ana.team.claims[second])
    qtbot.waitUntil(lambda: ana.canvas.editable, timeout=10_000)
    ana.close()


def test_password_is_never_kept():
    address = with_password("postgresql://ana@lab/skin", "s3cret")
    assert "s3cret" in address
    assert "s3cret" not in strip_password(address)
    assert "lab" in strip_password(address)
