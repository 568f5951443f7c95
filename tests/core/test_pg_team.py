"""Team projects through Project: create, open, image roots, roles, messages."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from core.errors import ProjectError
from core.project import Project, Status
from tests.pg import PgServer


@pytest.fixture(autouse=True)
def _config(tmp_path, monkeypatch):
    monkeypatch.setenv("SKINTRACE_CONFIG_DIR", str(tmp_path / "config"))


def test_open_needs_a_project_and_an_image_root(tmp_path, pg_url, capsys):
    from app.cli import main

    with pytest.raises(ProjectError, match="holds no project"):
        Project.open(pg_url)
    Project.create(pg_url, root=tmp_path / "share", name="Team").close()
    with pytest.raises(ProjectError, match="already holds a project"):
        Project.create(pg_url, root=tmp_path / "share")
    (tmp_path / "config" / "team_roots.json").unlink()  # another machine: no root yet
    with pytest.raises(ProjectError, match="no image root .* `skintrace team root"):
        Project.open(pg_url)
    assert main(["open", pg_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skintrace team root" in err
    with Project.open(pg_url, root=tmp_path / "mnt") as p:  # given once, remembered
        assert p.root == tmp_path / "mnt" and p.name == "Team"
    with Project.open(pg_url, read_only=True) as p:
        assert p.root == tmp_path / "mnt" and p.read_only


def test_team_history_records_the_postgresql_role(pg_server: PgServer, pg_url, tmp_path):
    Project.create(pg_url, root=tmp_path, name="T").close()
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS ana_team")
        conn.execute("CREATE ROLE ana_team LOGIN IN ROLE skintrace_annotator")
        conn.execute("DROP ROLE IF EXISTS rev_team")
        conn.execute("CREATE ROLE rev_team LOGIN IN ROLE skintrace_reviewer")
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, added_utc, "
            "updated_utc) VALUES ('a.png', 'a.png', 'h', 1, 8, 8, 't', 't')"
        )
    ana_url = pg_url.replace("postgres@", "ana_team@", 1)
    with Project.open(ana_url) as p:
        assert p.user == "ana_team"
        p.save_rough(1, {"wrinkle": np.eye(8, dtype=bool)})
        p.set_status(1, Status.SUBMITTED)
        with pytest.raises(ProjectError, match="only a reviewer can set an image to accepted"):
            p.set_status(1, Status.ACCEPTED)
        assert p.image(1).status is Status.SUBMITTED
    with Project.open(pg_url.replace("postgres@", "rev_team@", 1)) as p:
        p.set_status(1, Status.ACCEPTED, comment="ok")
        assert [(h.user, h.to_status) for h in p.history(1)][-3:] == [
            ("ana_team", Status.IN_PROGRESS),
            ("ana_team", Status.SUBMITTED),
            ("rev_team", Status.ACCEPTED),
        ]


def test_project_commands_take_a_team_url(tmp_path, pg_url, capsys, rng):
    from app.cli import main
    from core.imageio import encode_png

    src = tmp_path / "share" / "batch1"
    src.mkdir(parents=True)
    for i in range(2):
        (src / f"f{i}.png").write_bytes(encode_png(rng.integers(0, 256, (16, 16, 3), np.uint8)))
    Project.create(pg_url, root=tmp_path / "share", name="T").close()
    assert main(["import", pg_url, str(src), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["status", pg_url]) == 0
    out = capsys.readouterr().out
    assert "2" in out and "new" in out.lower()
    with Project.open(pg_url, read_only=True) as p:  # stored relative to the image root
        with p.db.read() as tx:
            assert tx.query("SELECT path FROM images ORDER BY id") == [
                ("batch1/f0.png",),
                ("batch1/f1.png",),
            ]


def test_two_workstations_a_stale_save_is_refused(tmp_path, pg_url):
    from core.project.records import StaleSaveError

    Project.create(pg_url, root=tmp_path, name="T").close()
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, added_utc, "
            "updated_utc) VALUES ('a.png', 'a.png', 'h', 1, 8, 8, 't', 't')"
        )
    ana, ben = Project.open(pg_url, user="ana"), Project.open(pg_url, user="ben")
    try:
        base = ana.mask_revisions(1)
        ben.save_rough(1, {"wrinkle": np.eye(8, dtype=bool)}, base_revisions=ben.mask_revisions(1))
        with pytest.raises(StaleSaveError, match="ben"):
            ana.save_rough(1, {"wrinkle": ~np.eye(8, dtype=bool)}, base_revisions=base)
        np.testing.assert_array_equal(ana.load_rough(1)["wrinkle"], np.eye(8, dtype=bool))
        assert ana.annotators(1) == ["ben"]
    finally:
        ana.close()
        ben.close()


def test_a_save_racing_another_workstations_commit_is_refused(tmp_path, pg_url):
    """ben's save is in flight (his transaction holds the image) when ana's starts: hers
    waits for his commit and then sees that her base is stale; nothing of hers is written."""
    import threading
    import time

    from core.project.records import StaleSaveError

    Project.create(pg_url, root=tmp_path, name="T").close()
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, added_utc, "
            "updated_utc) VALUES ('a.png', 'a.png', 'h', 1, 8, 8, 't', 't')"
        )
    with Project.open(pg_url, user="ben") as ben:
        ben.save_rough(1, {"wrinkle": np.eye(8, dtype=bool)})
    ana = Project.open(pg_url, user="ana")
    base = ana.mask_revisions(1)
    errors: list[BaseException] = []

    def save() -> None:
        try:
            ana.save_rough(1, {"wrinkle": np.zeros((8, 8), bool)}, base_revisions=base)
        except BaseException as exc:
            errors.append(exc)

    try:
        with psycopg.connect(pg_url) as other:  # ben's second save, mid-transaction
            other.execute("UPDATE images SET updated_utc = 'ben' WHERE id = 1")
            other.execute("UPDATE masks SET revision = revision + 1, user_name = 'ben'")
            thread = threading.Thread(target=save)
            thread.start()
            for _ in range(600):  # until ana's transaction waits for ben's
                waiting = other.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).fetchone()
                if waiting and waiting[0] or not thread.is_alive():
                    break
                time.sleep(0.05)
            other.commit()
        thread.join(30)
        assert len(errors) == 1 and isinstance(errors[0], StaleSaveError), errors
        assert ana.mask_revisions(1)["wrinkle"] == 2
        np.testing.assert_array_equal(ana.load_rough(1)["wrinkle"], np.eye(8, dtype=bool))
    finally:
        ana.close()


def test_two_reviewers_deciding_at_once_one_wins(tmp_path, pg_url):
    """The second verdict waits for the first and then finds the image already decided."""
    import threading
    import time

    Project.create(pg_url, root=tmp_path, name="T").close()
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, added_utc, "
            "updated_utc, status) VALUES ('a.png', 'a.png', 'h', 1, 8, 8, 't', 't', 'submitted')"
        )
    errors: list[BaseException] = []
    rita = Project.open(pg_url, user="rita")

    def reject() -> None:
        try:
            rita.set_status(1, Status.REJECTED, comment="redo")
        except BaseException as exc:
            errors.append(exc)

    try:
        with psycopg.connect(pg_url) as other:  # ben's accept, mid-transaction
            other.execute("SELECT id FROM images WHERE id = 1 FOR UPDATE")
            other.execute("UPDATE images SET status = 'accepted' WHERE id = 1")
            other.execute(
                "INSERT INTO history(image_id, from_status, to_status, user_name, time_utc) "
                "VALUES (1, 'submitted', 'accepted', 'ben', 't')"
            )
            thread = threading.Thread(target=reject)
            thread.start()
            for _ in range(600):
                waiting = other.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).fetchone()
                if waiting and waiting[0] or not thread.is_alive():
                    break
                time.sleep(0.05)
            other.commit()
        thread.join(30)
        assert len(errors) == 1 and "is accepted; it cannot become rejected" in str(errors[0])
        assert [h.to_status for h in rita.history(1)] == [Status.ACCEPTED]
    finally:
        rita.close()
