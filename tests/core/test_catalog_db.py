"""The catalog's transaction API: reads never wait for writes, optimistic saves, Tx rules."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.errors import ProjectError
from core.gt.engine import GTParams
from core.imageio import save_png
from core.project import Project, Status
from core.project.records import StaleSaveError

SHAPE = (40, 56)


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        save_png(src / f"{i}.png", np.full((*SHAPE, 3), 50 + 30 * i, np.uint8))
    p = Project.create(tmp_path / "p", user="ana")
    list(p.import_images(src))
    yield p
    p.close()


def _mask(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(SHAPE) > 0.7


def _blocked(monkeypatch, target: str, attribute: str) -> tuple[threading.Event, threading.Event]:
    """Make ``target.attribute`` wait for ``release`` after setting ``entered``."""
    import importlib

    owner = importlib.import_module(target)
    holder = owner
    *path, name = attribute.split(".")
    for part in path:
        holder = getattr(holder, part)
    real = getattr(holder, name)
    entered, release = threading.Event(), threading.Event()

    def slow(*args, **kwargs):
        entered.set()
        assert release.wait(30), "the test never released the blocked call"
        return real(*args, **kwargs)

    monkeypatch.setattr(holder, name, slow)
    return entered, release


def _start_save(project: Project, image_id: int, masks: dict) -> tuple[threading.Thread, list]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            project.save_rough(image_id, masks)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_reads_complete_while_a_save_holds_the_write_transaction(project, monkeypatch):
    a, b, _ = (r.id for r in project.images())
    project.save_rough(b, {"pore": _mask(2)})
    # Staging.commit runs INSIDE the save's write transaction: block the save there.
    entered, release = _blocked(monkeypatch, "core.project.masks", "Staging.commit")
    saver, errors = _start_save(project, a, {"wrinkle": _mask(1)})
    read: list = []

    def reads() -> None:  # in a thread: a read that waited would hang, not fail
        read.append(project.params() == project.params(a))
        read.append([r.id for r in project.images()])
        read.append(project.counts()[Status.NEW])  # the save's move is not committed yet
        read.append(project.image(a).status)
        read.append(project.history(a)[-1].to_status)
        read.append(project.load_rough(b)["pore"].sum())
        read.append(project.mask_revisions(a))

    try:
        assert entered.wait(30)
        reader = threading.Thread(target=reads)
        reader.start()
        reader.join(60)  # reached only if a read waits for the blocked save
        assert not reader.is_alive(), "a read waited for the save holding the writer"
        assert saver.is_alive()  # all of that happened while the save was still running
        assert read == [
            True, [a, b, 3], 2, Status.NEW, Status.NEW, _mask(2).sum(),
            {"wrinkle": 0, "pore": 0},
        ]  # fmt: skip
    finally:
        release.set()
        saver.join(30)
    assert errors == []
    assert project.image(a).status == Status.IN_PROGRESS
    np.testing.assert_array_equal(project.load_rough(a)["wrinkle"], _mask(1))


def test_a_save_encodes_its_masks_before_it_takes_the_write_lock(project, monkeypatch):
    a, b, _ = (r.id for r in project.images())
    entered, release = _blocked(monkeypatch, "core.project.rough", "encode_mask")
    saver, errors = _start_save(project, a, {"wrinkle": _mask(1)})
    try:
        assert entered.wait(30)
        # Writes of other threads go through while the save encodes.
        project.set_params(GTParams(sigma=2.0), image_id=b)
        project.set_status(b, "in_progress")
        assert project.params(b).sigma == 2.0
        assert saver.is_alive()
    finally:
        release.set()
        saver.join(30)
    assert errors == []
    assert project.mask_revisions(a)["wrinkle"] == 1


def test_a_save_based_on_an_older_revision_is_refused_and_writes_nothing(project):
    a = project.images()[0].id
    project.save_rough(a, {"wrinkle": _mask(1), "pore": _mask(2)})
    opened = project.mask_revisions(a)
    assert opened == {"wrinkle": 1, "pore": 1}
    project.save_rough(a, {"wrinkle": _mask(3)})  # someone else's save meanwhile
    with pytest.raises(StaleSaveError, match=r"image \d+ \(wrinkle\) was saved by ana at ") as info:
        project.save_rough(a, {"wrinkle": _mask(4), "pore": _mask(5)}, base_revisions=opened)
    assert "your changes were not saved" in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ProjectError)
    np.testing.assert_array_equal(project.load_rough(a)["wrinkle"], _mask(3))
    np.testing.assert_array_equal(project.load_rough(a)["pore"], _mask(2))
    assert project.mask_revisions(a) == {"wrinkle": 2, "pore": 1}
    # A class the save does not touch may have moved on; the current base saves.
    project.save_rough(a, {"pore": _mask(6)}, base_revisions=opened)
    project.save_rough(a, {"wrinkle": _mask(7)}, base_revisions=project.mask_revisions(a))
    assert project.mask_revisions(a) == {"wrinkle": 3, "pore": 2}


def test_transactions_nest_roll_back_and_read_their_own_writes(project):
    a = project.images()[0].id
    db = project.db
    assert db.dialect == "sqlite" and not db.read_only and db.describe.endswith("catalog.sqlite")
    with db.transaction() as tx:
        tx.execute("UPDATE images SET name = 'x.png' WHERE id = ?", (a,))
        with db.transaction() as inner:  # joins the outer transaction
            assert inner is tx
        assert project.image(a).name == "x.png"  # a read in the writing thread sees it
        seen = []
        reader = threading.Thread(target=lambda: seen.append(project.image(a).name))
        reader.start()
        reader.join(30)
        assert seen == ["0.png"]  # another thread reads the last commit, without waiting
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.execute("UPDATE images SET name = 'y.png' WHERE id = ?", (a,))
        raise RuntimeError("boom")
    assert project.image(a).name == "x.png"
    with db.transaction() as tx:
        new = tx.insert(
            "INSERT INTO model_log(model_id, time_utc, kind) VALUES (NULL, 't', 'k') RETURNING id"
        )
        assert tx.scalar("SELECT kind FROM model_log WHERE id = ?", (new,)) == "k"
        assert tx.scalar("SELECT 1 FROM model_log WHERE id = -1", default=7) == 7
        with pytest.raises(ValueError, match="RETURNING"):
            tx.insert("INSERT INTO model_log(time_utc, kind) VALUES ('t', 'k')")
        with pytest.raises(ProjectError, match="no such table"):
            tx.query("SELECT * FROM nowhere")
    with db.read() as tx, pytest.raises(ProjectError, match="readonly|read-only|query_only"):
        tx.execute("DELETE FROM images")
    assert len(project) == 3


def test_read_only_and_closed_catalogs_refuse_writes(project):
    root = project.root
    project.close()
    with pytest.raises(ProjectError, match="closed"), project.db.read():
        pass
    with Project.open(root, read_only=True) as ro:
        assert ro.db.read_only and len(ro) == 3
        with pytest.raises(ProjectError, match="read-only"), ro.db.transaction():
            pass
