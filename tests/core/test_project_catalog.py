"""core.project catalog: create/open, status workflow, masks, params, locking, damage."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.classes import CLASSES
from core.errors import ProjectError, ProjectLockedError, ProjectNotWritableError
from core.gt.engine import GTParams
from core.imageio import encode_png
from core.project import MaskFileError, Project, Status
from core.project.schema import SCHEMA_VERSION
from core.project.status import TRANSITIONS


def _png(path: Path, rng: np.random.Generator, shape=(24, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)))
    return path


def _demo(make, tmp_path, rng, monkeypatch):
    monkeypatch.setenv("SKINTRACE_USER", "alice")
    for i in range(3):
        _png(tmp_path / "src" / f"face{i}.png", rng)
    p = make(name="Demo")
    for _ in p.import_images(tmp_path / "src"):
        pass
    return p


@pytest.fixture
def project(project_factory, tmp_path, rng, monkeypatch):
    """The demo project on each backend (SQLite folder, PostgreSQL team project)."""
    p = _demo(lambda **kw: project_factory.create("proj", **kw), tmp_path, rng, monkeypatch)
    p.factory = project_factory
    yield p
    p.close()


@pytest.fixture
def local_project(tmp_path, rng, monkeypatch):
    """The demo project in a folder: for what only a SQLite project has (files, the lock)."""
    p = _demo(lambda **kw: Project.create(tmp_path / "proj", **kw), tmp_path, rng, monkeypatch)
    yield p
    p.close()


def test_create_makes_layout_and_refuses_existing(tmp_path):
    with Project.create(tmp_path / "p", name="Faces") as p:
        assert p.name == "Faces" and len(p) == 0
        assert p.params() == GTParams()
        for sub in ("images", "masks", "annotators", "prelabels", "models", "exports"):
            assert (tmp_path / "p" / sub).is_dir()
        conn = sqlite3.connect(tmp_path / "p" / "catalog.sqlite")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conn.close()
    with pytest.raises(ProjectError, match="already holds a project"):
        Project.create(tmp_path / "p")
    with pytest.raises(ProjectError, match="catalog.sqlite is missing"):
        Project.open(tmp_path / "nothing")
    assert not (tmp_path / "nothing" / "catalog.sqlite").exists()  # never created on open


def test_status_workflow_and_history(project):
    a, b, c = (r.id for r in project.images())
    assert project.counts()[Status.NEW] == 3
    project.set_status(a, "in progress")
    project.set_status(a, Status.SUBMITTED, comment="done")
    project.set_status(a, "rejected", comment="missed forehead")
    project.set_status(a, "in_progress")
    project.set_status(a, "submitted")
    project.set_status(a, "accepted")
    with pytest.raises(ProjectError, match="image .* is accepted; it cannot become submitted"):
        project.set_status(a, "submitted")
    with pytest.raises(ProjectError, match="is new; it cannot become accepted"):
        project.set_status(b, "accepted")
    with pytest.raises(ProjectError, match="unknown status 'done'"):
        project.set_status(b, "done")
    with pytest.raises(ProjectError, match="no image with id 999"):
        project.set_status(999, "in_progress")
    hist = project.history(a)
    assert [h.to_status for h in hist] == [
        Status.NEW,
        Status.IN_PROGRESS,
        Status.SUBMITTED,
        Status.REJECTED,
        Status.IN_PROGRESS,
        Status.SUBMITTED,
        Status.ACCEPTED,
    ]
    assert hist[0].from_status is None and hist[2].from_status is Status.IN_PROGRESS
    assert hist[3].comment == "missed forehead" and {h.user for h in hist} == {"alice"}
    assert all(h.time.endswith("Z") for h in hist)
    assert project.counts()[Status.ACCEPTED] == 1
    assert [r.id for r in project.images(status="accepted")] == [a]
    assert [r.id for r in project.images(status=["new", "accepted"])] == [a, b, c]
    # Every status is reachable and every status has a way forward.
    assert all(TRANSITIONS[s] for s in Status)


def test_search_is_a_literal_substring(project):
    assert [r.name for r in project.images(search="FACE1")] == ["face1.png"]
    assert project.images(search="%") == []
    assert project.images(search="_") == []


def test_rough_masks_round_trip_and_start_work(project, rng):
    rec = project.images()[0]
    empty = project.load_rough(rec.id)
    assert set(empty) == {"wrinkle", "pore"} and not empty["pore"].any()
    wrinkle = rng.random((rec.rows, rec.cols)) > 0.7
    project.save_rough(rec.id, {"wrinkle": wrinkle})
    loaded = project.load_rough(rec.id)
    np.testing.assert_array_equal(loaded["wrinkle"], wrinkle)
    assert loaded["wrinkle"].dtype == bool and not loaded["pore"].any()
    assert project.image(rec.id).status is Status.IN_PROGRESS
    assert project.mask_revisions(rec.id) == {"wrinkle": 1, "pore": 0}
    project.save_rough(rec.id, {"wrinkle": wrinkle})  # unchanged: not rewritten
    assert project.mask_revisions(rec.id)["wrinkle"] == 1
    project.save_rough(rec.id, {"wrinkle": ~wrinkle, "pore": wrinkle})
    assert project.mask_revisions(rec.id) == {"wrinkle": 2, "pore": 1}
    if project.db.dialect == "sqlite":
        on_disk = project.root / "masks" / str(rec.id) / "pore.png"
        assert set(np.unique(cv2.imread(str(on_disk), cv2.IMREAD_UNCHANGED))) == {0, 255}
    else:  # the PNG is a bytea row of the team catalog
        assert not (project.root / "masks").exists()
        with project.db.read() as tx:
            data = tx.scalar(
                "SELECT data FROM blobs WHERE image_id = ? AND name = 'pore'", (rec.id,)
            )
        assert set(np.unique(cv2.imdecode(np.frombuffer(data, np.uint8), -1))) == {0, 255}
    with pytest.raises(ProjectError, match="mask is \\(3, 3\\)"):
        project.save_rough(rec.id, {"pore": np.zeros((3, 3), bool)})
    with pytest.raises(ValueError, match="unknown class"):
        project.save_rough(rec.id, {"acne": wrinkle})


def test_corrupt_or_changed_mask_is_named_and_others_load(local_project, rng):
    r1, r2, _ = local_project.images()
    for rec in (r1, r2):
        local_project.save_rough(rec.id, {"pore": rng.random((rec.rows, rec.cols)) > 0.5})
    bad = local_project.root / "masks" / str(r1.id) / "pore.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(MaskFileError, match=f"masks/{r1.id}/pore.png does not match the catalog"):
        local_project.load_rough(r1.id)
    assert local_project.load_rough(r2.id)["pore"].any()
    bad.unlink()
    with pytest.raises(MaskFileError, match=f"masks/{r1.id}/pore.png is missing"):
        local_project.load_rough(r1.id)
    # Saving again repairs the image.
    local_project.save_rough(r1.id, {"pore": np.ones((r1.rows, r1.cols), bool)})
    assert local_project.load_rough(r1.id)["pore"].all()


def test_corrupt_catalog_is_named_not_recreated(tmp_path):
    Project.create(tmp_path / "p").close()
    cat = tmp_path / "p" / "catalog.sqlite"
    cat.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ProjectError, match=f"catalog {cat} is damaged"):
        Project.open(tmp_path / "p")
    assert cat.read_bytes().startswith(b"this is not")
    # The lock was released: the failure did not leave the project "open elsewhere".
    with pytest.raises(ProjectError, match="is damaged"):
        Project.open(tmp_path / "p")


def test_newer_schema_is_refused(tmp_path):
    Project.create(tmp_path / "p").close()
    conn = sqlite3.connect(tmp_path / "p" / "catalog.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ProjectError, match="newer than this SkinTrace"):
        Project.open(tmp_path / "p")


def test_migration_from_version_1_keeps_data(tmp_path, rng):
    from core.project import schema

    conn = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    conn.executescript(f"BEGIN;{schema.MIGRATIONS[0]}PRAGMA user_version = 1;COMMIT;")
    conn.close()
    with Project.create(tmp_path / "p") as p:
        pass
    # Put a version-1 catalog with the same meta in place of the new one.
    new = sqlite3.connect(tmp_path / "p" / "catalog.sqlite")
    meta = new.execute("SELECT key, value FROM meta").fetchall()
    new.close()
    old = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    old.executemany("INSERT INTO meta VALUES (?, ?)", meta)
    old.close()
    (tmp_path / "old.sqlite").replace(tmp_path / "p" / "catalog.sqlite")
    with pytest.raises(ProjectError, match="older schema"):
        Project.open(tmp_path / "p", read_only=True)
    with Project.open(tmp_path / "p") as p:
        p.set_setting("k", [1, 2])
        assert p.get_setting("k") == [1, 2]
    with Project.open(tmp_path / "p", read_only=True) as p:
        assert p.get_setting("k") == [1, 2]


def test_second_writer_is_locked_out_and_can_read(local_project, tmp_path):
    with pytest.raises(ProjectLockedError, match=r"open in another SkinTrace \(alice@.* pid \d+\)"):
        Project.open(local_project.root)
    with Project.open(local_project.root, read_only=True) as ro:
        assert len(ro) == 3 and ro.read_only
        rid = ro.images()[0].id
        with pytest.raises(ProjectError, match="read-only"):
            ro.set_status(rid, "in_progress")
        local_project.set_status(rid, "in_progress")  # the writer's commit is visible to readers
        assert ro.image(rid).status is Status.IN_PROGRESS
    local_project.close()
    with Project.open(local_project.root) as again:  # the lock went with close()
        assert again.image(rid).status is Status.IN_PROGRESS
    with pytest.raises(ProjectError, match="is closed"):
        local_project.images()


def test_params_default_and_override(project):
    rec = project.images()[0]
    custom = GTParams(sigma=2.5, pore_threshold=6.0)
    project.set_params(custom, image_id=rec.id)
    assert project.params(rec.id) == custom
    assert project.image(rec.id).has_params_override
    other = project.images()[1].id
    assert project.params(other) == GTParams()
    project.set_params(GTParams(sigma=7.0))
    assert project.params(other).sigma == 7.0 and project.params(rec.id) == custom
    project.clear_params_override(rec.id)
    assert project.params(rec.id).sigma == 7.0


def test_calibrated_and_fixed_thresholds_are_stored_per_project_and_image(project):
    rec, other = project.images()[0].id, project.images()[1].id
    assert project.params(None).is_auto("pore") and project.params(None).is_auto("wrinkle")
    # an older project stored the old numeric defaults: they stay fixed numbers
    old = GTParams(wrinkle_threshold=20.0, pore_threshold=8.0)
    project.set_params(old)
    assert project.params(other) == old and not project.params(other).is_auto("pore")
    # a fixed pore threshold for one image over a calibrated project default
    project.set_params(GTParams())
    project.set_params(GTParams(pore_threshold=4.5), image_id=rec)
    assert project.params(rec).pore_threshold == 4.5 and project.params(rec).is_auto("wrinkle")
    assert project.params(other) == GTParams()


def test_prelabels_models_settings(project, rng):
    rec = project.images()[0]
    assert project.load_prelabel(rec.id) is None
    maps = {c: rng.integers(0, 256, (rec.rows, rec.cols), dtype=np.uint8) for c in CLASSES}
    project.save_prelabel(rec.id, maps, source="models/run1")
    got, source = project.load_prelabel(rec.id)
    assert source == "models/run1"
    for c in CLASSES:
        np.testing.assert_array_equal(got[c], maps[c])
    assert project.image(rec.id).status is Status.PRELABELED
    with pytest.raises(ProjectError, match="needs maps for"):
        project.save_prelabel(rec.id, {"wrinkle": maps["wrinkle"]}, source="x")
    project.clear_prelabel(rec.id)
    assert project.load_prelabel(rec.id) is None

    assert project.models() == [] and project.current_model() is None
    m1 = project.add_model(project.root / "models" / "a", {"iou_wrinkle": 0.4}, note="first")
    m2 = project.add_model("/elsewhere/b", {"iou_wrinkle": 0.5})
    assert [m.id for m in project.models()] == [m1, m2]
    assert project.models()[0].path == project.root / "models" / "a"
    project.set_current_model(m2)
    assert project.current_model().metrics == {"iou_wrinkle": 0.5}
    with pytest.raises(ProjectError, match="no model with id 99"):
        project.set_current_model(99)
    project.set_current_model(None)
    assert project.current_model() is None
    assert project.get_setting("missing", 5) == 5
    with pytest.raises(ProjectError, match="JSON value"):
        project.set_setting("bad", object())
    # settings(prefix): exact, case-sensitive prefix (no LIKE wildcards in "_" or "%").
    for key, value in [("a_b.1", 1), ("a_b.2", {"x": 2}), ("aXb.3", 3), ("A_B.4", 4), ("a_", 5)]:
        project.set_setting(key, value)
    assert project.settings("a_b.") == {"a_b.1": 1, "a_b.2": {"x": 2}}
    assert set(project.settings()) >= {"a_b.1", "aXb.3", "A_B.4", "a_"}


def test_calls_from_two_threads_are_serialized(project, rng):
    ids = [r.id for r in project.images()]
    masks = {i: rng.random((24, 32)) > 0.5 for i in ids}
    errors: list[BaseException] = []

    def writer():
        try:
            for _ in range(15):
                for i in ids:
                    project.save_rough(i, {"wrinkle": masks[i]})
                    masks[i] = ~masks[i]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    while t.is_alive():
        assert len(project.images()) == 3
        project.counts()
        project.set_setting("tick", 1)
    t.join()
    assert errors == []
    for i in ids:
        np.testing.assert_array_equal(project.load_rough(i)["wrinkle"], ~masks[i])


def test_save_interrupted_after_commit_is_finished_on_reopen(local_project, rng, monkeypatch):
    from core.project.masks import FileStore

    rec = local_project.images()[0]
    old = rng.random((rec.rows, rec.cols)) > 0.5
    local_project.save_rough(rec.id, {"wrinkle": old, "pore": old})
    new = ~old

    def crash(self, image_id, cls):
        raise KeyboardInterrupt  # the process dies between commit and rename

    monkeypatch.setattr(FileStore, "install", crash)
    with pytest.raises(KeyboardInterrupt):
        local_project.save_rough(rec.id, {"wrinkle": new, "pore": new})
    monkeypatch.undo()
    # A reader already sees the committed save (it reads the pending file).
    with Project.open(local_project.root, read_only=True) as ro:
        np.testing.assert_array_equal(ro.load_rough(rec.id)["pore"], new)
    local_project.close()
    with Project.open(local_project.root) as again:
        assert again.recovered == [
            f"completed masks/{rec.id}/pore.png",
            f"completed masks/{rec.id}/wrinkle.png",
        ]
        loaded = again.load_rough(rec.id)
        np.testing.assert_array_equal(loaded["wrinkle"], new)
        np.testing.assert_array_equal(loaded["pore"], new)


def test_save_failing_before_commit_keeps_the_old_masks(local_project, rng, monkeypatch):
    rec = local_project.images()[0]
    old = rng.random((rec.rows, rec.cols)) > 0.5
    local_project.save_rough(rec.id, {"wrinkle": old})

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Project, "now_and_user", fail)
    with pytest.raises(OSError, match="disk full"):
        local_project.save_rough(rec.id, {"wrinkle": ~old})
    monkeypatch.undo()
    assert not list((local_project.root / "masks").glob("*/*.pending"))
    np.testing.assert_array_equal(local_project.load_rough(rec.id)["wrinkle"], old)
    assert local_project.mask_revisions(rec.id)["wrinkle"] == 1
    # A pending file left by a process killed before its commit is rolled back on open.
    stray = local_project.root / "masks" / str(rec.id) / "wrinkle.png.pending"
    stray.write_bytes(b"half-written save")
    local_project.close()
    with Project.open(local_project.root) as again:
        assert again.recovered == [f"rolled back masks/{rec.id}/wrinkle.png"]
        np.testing.assert_array_equal(again.load_rough(rec.id)["wrinkle"], old)
    assert not stray.exists()


def test_read_only_project_writes_nothing(project, rng):
    rec = project.images()[0]
    with project.factory.open(project, read_only=True) as ro:
        with pytest.raises(ProjectError, match="read-only"):
            ro.save_rough(rec.id, {"pore": np.ones((rec.rows, rec.cols), bool)})
        with pytest.raises(ProjectError, match="read-only"):
            ro.set_params(GTParams(sigma=1.0))
    assert not (project.root / "masks" / str(rec.id)).exists()


def test_damaged_prelabel_is_named(local_project, rng):
    rec = local_project.images()[1]
    maps = {c: rng.integers(0, 256, (rec.rows, rec.cols), dtype=np.uint8) for c in CLASSES}
    local_project.save_prelabel(rec.id, maps, source="baseline:frangi")
    (local_project.root / "prelabels" / str(rec.id) / "wrinkle.png").write_bytes(b"junk")
    with pytest.raises(MaskFileError, match=f"prelabels/{rec.id}/wrinkle.png does not match"):
        local_project.load_prelabel(rec.id)


def test_lock_file_that_cannot_be_opened_suggests_read_only(tmp_path):
    Project.create(tmp_path / "p").close()
    lock = tmp_path / "p" / ".skintrace.lock"
    lock.unlink()
    lock.mkdir()  # unopenable for writing, even for root (like a read-only share)
    with pytest.raises(ProjectNotWritableError, match="cannot be opened for writing.*read-only"):
        Project.open(tmp_path / "p")
    with Project.open(tmp_path / "p", read_only=True) as ro:
        assert len(ro) == 0
