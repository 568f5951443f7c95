"""Schema 4: a real schema-3 catalog (made by the schema-3 DDL) is upgraded in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from core.assist.active import load_uncertainties
from core.assist.prelabel import rejected_prelabels
from core.assist.retrain import LOG_MADE_CURRENT, rollback_target
from core.gt.engine import GTParams
from core.imageio import encode_png
from core.project import Project, Status
from core.project.catalog import CATALOG, SUBFOLDERS, project_meta
from core.project.masks import encode_mask, sha256_bytes
from core.project.schema import MIGRATIONS, SCHEMA_VERSION

SHAPE = (12, 16)
T0 = "2026-01-02T10:42:00.000Z"


def _schema3_project(root: Path) -> None:
    """A project folder as SkinTrace with schema 3 wrote it: three images, one mask,
    settings rows for uncertainties, a rejected pre-label and the model log."""
    root.mkdir()
    for sub in SUBFOLDERS:
        (root / sub).mkdir()
    conn = sqlite3.connect(root / CATALOG, isolation_level=None)
    for version, script in enumerate(MIGRATIONS[:3], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
    meta = project_meta("old", GTParams(), user="ana")
    rows = [
        ("images", (i, f"{i}.png", f"images/{i}.png", 1, f"{i:064x}", 10, *SHAPE, "new", T0, T0))
        for i in (1, 2, 3)
    ]
    mask = np.zeros(SHAPE, bool)
    mask[2:5, 3:9] = True
    data = encode_mask(mask)
    (root / "masks" / "1").mkdir()
    (root / "masks" / "1" / "wrinkle.png").write_bytes(data)
    for i in (1, 2, 3):
        (root / "images" / f"{i}.png").write_bytes(encode_png(np.zeros((*SHAPE, 3), np.uint8)))
    settings = {
        "active.uncertainty.1": '{"value": 0.25, "source": "model:1:a"}',
        "active.uncertainty.2": '{"value": 0.5, "source": "baseline:x"}',
        "active.uncertainty.9": '{"value": 0.5, "source": "gone"}',  # no such image
        "active.uncertainty.x": '{"value": 0.5}',  # not an id
        "prelabel.rejected.2": '"model:1:a"',
        "prelabel.rejected.3": "{broken",  # not JSON: dropped, never fatal
        "model.current": "2",
        "retrain.current_log": "[null, 1, 2, 77]",  # 77 was never registered
        "retrain.options": '{"epochs": 3}',  # a real setting: stays
    }
    with conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        for _, row in rows:
            conn.execute(
                "INSERT INTO images(id, name, path, copied, content_hash, size_bytes, rows, "
                "cols, status, added_utc, updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            conn.execute(
                "INSERT INTO history(image_id, from_status, to_status, user, time_utc) "
                "VALUES (?, NULL, 'new', 'ana', ?)",
                (row[0], T0),
            )
        conn.execute("UPDATE images SET status = 'in_progress' WHERE id = 1")
        conn.execute(
            "INSERT INTO masks(image_id, class, sha256, painted, revision, saved_utc, user) "
            "VALUES (1, 'wrinkle', ?, ?, 3, ?, 'ana')",
            (sha256_bytes(data), int(mask.sum()), T0),
        )
        for mid in (1, 2):
            conn.execute(
                "INSERT INTO models(id, path, metrics_json, added_utc) VALUES (?, ?, '{}', ?)",
                (mid, f"models/m{mid}", T0),
            )
        conn.executemany("INSERT INTO settings(key, value_json) VALUES (?, ?)", settings.items())
    conn.close()


def test_a_schema_3_catalog_is_upgraded_to_4(tmp_path):
    root = tmp_path / "old"
    _schema3_project(root)
    with Project.open(root, user="bob") as p:
        assert p.recovered == []
        # settings rows → prelabel_state (only images that exist, only sound rows)
        assert load_uncertainties(p, [1, 2, 3]) == {1: 0.25, 2: 0.5}
        assert load_uncertainties(p, [1, 2], source="baseline:x") == {2: 0.5}
        assert rejected_prelabels(p) == {2: "model:1:a"}
        # settings rows → model_log
        assert p.current_model() is not None and p.current_model().id == 2
        made = [e.model_id for e in p.model_log(LOG_MADE_CURRENT)]
        assert made == [None, 1, 2]
        assert rollback_target(p) == 1
        assert set(p.settings()) == {"retrain.options"}
        # user → user_name; the masks, their revision and the history are kept
        assert p.annotators(1) == ["ana"]
        assert p.mask_revisions(1) == {"wrinkle": 3, "pore": 0}
        assert p.load_rough(1)["wrinkle"].sum() == 18
        assert [(h.user, h.to_status) for h in p.history(1)] == [("ana", Status.NEW)]
        p.save_rough(1, {"pore": np.ones(SHAPE, bool)})
        assert p.annotations(1)["bob"]["pore"].all()
    conn = sqlite3.connect(root / CATALOG)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"prelabel_state", "model_log", "claims", "assignments"} <= tables
    for table in ("masks", "history", "exclusions", "claims", "assignments"):
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        assert "user" not in columns and "user_name" in columns, table
    assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    conn.close()


def test_prelabel_state_goes_with_its_image(tmp_path):
    root = tmp_path / "old"
    _schema3_project(root)
    with Project.open(root) as p:
        p.set_prelabel_state(3, uncertainty=0.9, source="s")
        p.set_prelabel_state(3, rejected_source="r")  # the other fields are kept
        state = p.prelabel_state(3)[3]
        assert (state.uncertainty, state.source, state.rejected_source) == (0.9, "s", "r")
        with pytest.raises(Exception, match="no image with id 42"):
            p.set_prelabel_state(42, uncertainty=0.1)
        with p.db.transaction() as tx:
            tx.execute("DELETE FROM images WHERE id = 3")
        assert 3 not in p.prelabel_state()
