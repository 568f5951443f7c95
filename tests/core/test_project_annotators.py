"""Several annotators per image: kept masks, independent mode, schema 3, agreement, consensus."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from core.dataset import read_manifest
from core.demo.synthetic import make_face
from core.gt.agreement import agreement_iter
from core.imageio import load_mask, save_png
from core.project import Project
from core.project.annotators import SETTING_INDEPENDENT
from core.project.schema import SCHEMA_VERSION

SHAPE = (96, 128)


def _drain(gen):
    items = list(gen)
    return items[-1] if items else None


@pytest.fixture
def root(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        save_png(src / f"face-{i}.png", make_face(20 + i, shape=SHAPE).image)
    with Project.create(tmp_path / "p", user="alice") as p:
        _drain(p.import_images(src, copy=True))
    return tmp_path / "p"


@pytest.fixture
def target(tmp_path, project_factory):
    """What Project.open takes, on both backends: a folder or a team project's URL."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        save_png(src / f"face-{i}.png", make_face(20 + i, shape=SHAPE).image)
    with project_factory.create("p", user="alice") as p:
        _drain(p.import_images(src, copy=True))
        return project_factory.target(p)


def _masks(seed: int, shift: int = 0) -> dict[str, np.ndarray]:
    face = make_face(20, shape=SHAPE)
    return {c: np.roll(m, shift, axis=1) for c, m in face.rough.items()}


def test_a_second_annotator_keeps_the_first_ones_masks(target):
    alice, bob = _masks(0), _masks(0, shift=3)
    with Project.open(target, user="alice") as p:
        p.save_rough(1, alice)
        assert p.annotators(1) == ["alice"]
    with Project.open(target, user="bob") as p:
        p.save_rough(1, bob)
        assert p.annotators(1) == ["alice", "bob"]
        np.testing.assert_array_equal(p.load_rough(1)["wrinkle"], bob["wrinkle"])  # newest
        found = p.annotations(1)
        np.testing.assert_array_equal(found["alice"]["wrinkle"], alice["wrinkle"])
        np.testing.assert_array_equal(found["bob"]["pore"], bob["pore"])
        p.save_rough(1, {"wrinkle": bob["wrinkle"] | alice["wrinkle"]})  # bob again
    if isinstance(target, Path):
        assert len(list((target / "annotators" / "1").glob("*.png"))) == 2  # alice's 2 classes
    with Project.open(target, user="alice", read_only=True) as p:
        found = p.annotations(1)
        np.testing.assert_array_equal(found["alice"]["pore"], alice["pore"])
        assert found["bob"]["wrinkle"].sum() > bob["wrinkle"].sum()
        assert p.annotations(2) == {}


def test_independent_mode_opens_each_annotators_own_masks(target):
    alice = _masks(0)
    with Project.open(target, user="alice") as p:
        p.save_rough(1, alice)
        p.set_setting(SETTING_INDEPENDENT, True)
    with Project.open(target, user="bob") as p:
        assert not any(m.any() for m in p.load_rough_for_editing(1).values())  # starts empty
        p.save_rough(1, _masks(0, shift=2))
    with Project.open(target, user="alice") as p:
        mine = p.load_rough_for_editing(1)
        np.testing.assert_array_equal(mine["wrinkle"], alice["wrinkle"])
        p.set_setting(SETTING_INDEPENDENT, False)
        assert not np.array_equal(p.load_rough_for_editing(1)["wrinkle"], alice["wrinkle"])


def test_a_schema_2_catalog_is_upgraded_and_keeps_its_masks(root):
    alice = _masks(0)
    with Project.open(root, user="alice") as p:
        p.save_rough(1, alice)
    # Make it the schema-2 file an older SkinTrace wrote.
    conn = sqlite3.connect(root / "catalog.sqlite", isolation_level=None)
    conn.executescript(
        "BEGIN; DROP TABLE annotator_masks; DROP TABLE exclusions; DROP TABLE prelabel_state; "
        "DROP TABLE model_log; DROP TABLE claims; DROP TABLE assignments; "
        "ALTER TABLE masks RENAME COLUMN user_name TO user; "
        "ALTER TABLE history RENAME COLUMN user_name TO user; "
        "PRAGMA user_version = 2; COMMIT;"
    )
    conn.close()
    with Project.open(root, user="bob") as p:
        conn = sqlite3.connect(root / "catalog.sqlite")
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        conn.close()
        assert p.annotators(1) == ["alice"]  # the masks table's user is the annotator
        p.save_rough(1, _masks(0, shift=4))
        np.testing.assert_array_equal(p.annotations(1)["alice"]["wrinkle"], alice["wrinkle"])


def test_agreement_scores_pairs_and_export_writes_the_consensus(target, tmp_path):
    alice, bob = _masks(0), _masks(0, shift=1)
    with Project.open(target, user="alice") as p:
        p.save_rough(1, alice)
        p.save_rough(2, alice)  # image 2: one annotator only
    with Project.open(target, user="bob") as p:
        p.save_rough(1, bob)
        for i in (1, 2):
            p.set_status(i, "submitted")
            p.set_status(i, "accepted")
    with Project.open(target, read_only=True) as p:
        last = _drain(agreement_iter(p, maps_dir=tmp_path / "maps"))
        report = last.info["report"]
        assert report.images == 1 and report.skipped == 1
        assert {(r.cls, r.a, r.b) for r in report.rows} == {
            ("wrinkle", "alice", "bob"),
            ("pore", "alice", "bob"),
        }
        wrinkle = next(r for r in report.rows if r.cls == "wrinkle")
        # Rough masks 1 px apart give nearly the same GT (rough × texture): scored on GT.
        assert 0.9 < wrinkle.scores["iou"] < 1.0 and wrinkle.scores["f1@1"] == 1.0
        assert "alice / bob" in report.table()
        lines = report.csv_text().splitlines()
        assert lines[0].startswith("image,class,annotator_a,annotator_b") and len(lines) == 3
        counts = load_mask(tmp_path / "maps" / "1-wrinkle-agreement.png")
        assert counts.any()
        _drain(p.export(tmp_path / "ds", consensus="majority", val_ratio=0.0))
    items = {it.id: it for it in read_manifest(tmp_path / "ds").items}
    rough = load_mask(tmp_path / "ds" / items["face-0"].rough["wrinkle"])
    np.testing.assert_array_equal(rough, alice["wrinkle"] & bob["wrinkle"])  # both agree
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    record = next(r for r in manifest["items"] if r["id"] == "face-0")
    assert record["annotators"] == ["alice", "bob"] and record["consensus"] == "majority"
    rough2 = load_mask(tmp_path / "ds" / items["face-1"].rough["wrinkle"])
    np.testing.assert_array_equal(rough2, alice["wrinkle"])  # one annotator: as saved
