"""Team work mounted on the typed window: inactive on a folder project, and what a team
snapshot brings (statuses others set) reaching the session's one status model."""

from __future__ import annotations

import dataclasses

from core.project import Status
from core.project.team_sync import TeamSnapshot

from .helpers import make_project, open_window


def test_folder_project_leaves_team_work_off(qtbot, tmp_path):
    w = open_window(qtbot, make_project(tmp_path, count=2), ahead=False)
    assert not w.team.active and not w.team.blocks_editing
    assert not w.docks["team"].isVisible()
    assert w.training.before_start == w.team.begin_retrain
    assert w.team.begin_retrain()  # no team project: nothing to lock
    titles = [a.text() for a in w.menus.file.actions()]
    assert titles.index("Open &team project…") == titles.index("&Open project…") + 1
    assert not w.team_opener.open("postgresql://nobody@/no_such_db?connect_timeout=1", user="x")
    assert w.messages  # the failure is reported, the folder project stays open
    assert w.session is not None and not w.team.active


def test_snapshot_statuses_reach_the_model(qtbot, tmp_path):
    w = open_window(qtbot, make_project(tmp_path, count=3), ahead=False)
    session = w.session
    w.team.session = session  # as attach does on a team project (no claims needed here)
    current = session.current.image_id
    other = w.image_list.neighbour(current, +1)
    seen: list[tuple[int, str]] = []
    session.statusChanged.connect(lambda i, s: seen.append((i, s)))
    base = {i: Status(w.image_list.status(i)) for i in session.model.ids()}
    w.team.apply(TeamSnapshot(statuses=base))
    assert seen == []  # the first snapshot only repeats what is shown

    w.team.apply(TeamSnapshot(statuses={**base, other: Status.SUBMITTED}))
    assert w.image_list.status(other) == "submitted"
    assert other in w.review.queue()  # the review queue is a view of the same model
    assert seen == []  # not the open image: its listeners are not asked to rerun

    w.team.apply(
        TeamSnapshot(statuses={**base, other: Status.SUBMITTED, current: Status.SUBMITTED})
    )
    assert session.model.status(current) == "submitted"
    assert seen == [(current, "submitted")]
    w.team.session = None


def test_open_project_with_a_team_address_records_the_postgresql_user(
    qtbot, pg_server, tmp_path, monkeypatch
):
    """`skintrace open URL`: the history user is the login role; the address is not kept."""
    from app.gui import project_dialogs
    from app.gui.main_window import MainWindow
    from core.project.transfer import push

    from .helpers import make_project

    url = pg_server.create_database()
    root = make_project(tmp_path, count=1)
    push(root, url)
    remembered: list[str] = []
    w = MainWindow()
    qtbot.addWidget(w)
    w.prefs = dataclasses.replace(w.prefs, user_name="typed-name")
    monkeypatch.setattr(project_dialogs, "add_recent_project", remembered.append)
    assert w.open_project(url.replace("postgres@", "postgres:secret@"))
    assert w.session is not None
    assert w.session.project.user == "postgres"
    assert remembered == []
    assert "[team project, postgres]" in w.windowTitle()
    w.close()
