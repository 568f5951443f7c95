"""team push / pull: a local project → PostgreSQL → a local copy, nothing lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest

from core.errors import ProjectError
from core.gt.engine import GTParams
from core.imageio import encode_png
from core.project import Project, Status
from core.project.pg.roots import image_root
from core.project.transfer import pull, push


def _png(path: Path, rng: np.random.Generator, shape=(24, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)))
    return path


def _rich_project(tmp_path: Path, rng: np.random.Generator, monkeypatch) -> Path:
    """A project with every kind of row and blob the catalog knows."""
    monkeypatch.setenv("SKINTRACE_USER", "alice")
    for i in range(3):
        _png(tmp_path / "src" / f"face{i}.png", rng)
    _png(tmp_path / "linked" / "far.png", rng)
    folder = tmp_path / "local"
    with Project.create(folder, name="Study 7") as p:
        for _ in p.import_images(tmp_path / "src", copy=True):
            pass
        for _ in p.import_images(tmp_path / "linked"):
            pass
        a, b, c, d = (r.id for r in p.images())
        rough = {cls: rng.random((24, 32)) > 0.7 for cls in ("wrinkle", "pore")}
        p.save_rough(a, {**rough, "exclude": rng.random((24, 32)) > 0.9})
        p.set_status(a, Status.SUBMITTED, comment="done, please check")
        p.set_status(a, Status.ACCEPTED, comment="fine")
        maps = {cls: rng.integers(0, 256, (24, 32), dtype=np.uint8) for cls in ("wrinkle", "pore")}
        p.save_prelabel(b, maps, source="model 1")
        p.set_params(GTParams(sigma=2.5), image_id=c)
        checkpoint = folder / "models" / "run1"
        checkpoint.mkdir(parents=True)
        (checkpoint / "weights.safetensors").write_bytes(b"\x00weights")
        mid = p.add_model(checkpoint, {"iou": 0.5}, note="first")
        p.set_current_model(mid)
        p.set_setting("ui.zoom", {"level": 3})
        p.save_rough(d, {"pore": rough["pore"]})
    monkeypatch.setenv("SKINTRACE_USER", "bob")  # a second annotator over alice's masks
    with Project.open(folder) as p:
        p.save_rough(a, {"wrinkle": ~rough["wrinkle"]})
    return folder


def _snapshot(p: Project) -> dict:
    out: dict = {"name": p.name, "params": p.params(), "models": [], "images": []}
    for r in p.images():
        out["images"].append(
            (
                r.id,
                r.name,
                r.status,
                r.content_hash,
                r.copied,
                r.has_params_override,
                r.updated,
                r.path.read_bytes() if r.path.is_file() else None,
                {k: v.tobytes() for k, v in p.load_rough(r.id).items()},
                p.load_exclusion(r.id).tobytes(),
                p.mask_revisions(r.id),
                {
                    who: {k: v.tobytes() for k, v in m.items()}
                    for who, m in p.annotations(r.id).items()
                },
                _prelabel(p, r.id),
                p.params(r.id),
            )
        )
    for m in p.models():
        files = sorted((f.name, f.read_bytes()) for f in Path(m.path).iterdir())
        out["models"].append((m.id, m.metrics, m.note, files))
    out["history"] = p.history()
    out["settings"] = p.settings()
    out["current_model"] = p.current_model().id if p.current_model() else None
    return out


def _prelabel(p: Project, image_id: int):
    found = p.load_prelabel(image_id)
    if found is None:
        return None
    maps, source = found
    return source, {k: v.tobytes() for k, v in maps.items()}


@pytest.fixture
def config_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SKINTRACE_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def test_push_then_pull_loses_nothing(tmp_path, rng, monkeypatch, pg_url, config_home):
    local = _rich_project(tmp_path, rng, monkeypatch)
    with Project.open(local, read_only=True) as p:
        before = _snapshot(p)
    share = tmp_path / "share"
    result = push(local, pg_url, root=share)
    assert result.rows["images"] == 4 and result.rows["history"] >= 7
    assert result.blobs == 7  # masks 3, exclusion 1, pre-labels 2, alice's kept wrinkle 1
    assert image_root(result.project_id) == share
    assert sorted(p.name for p in (share / "images").iterdir()) == [
        "face0.png",
        "face1.png",
        "face2.png",
    ]
    with psycopg.connect(pg_url) as conn:  # the masks are bytea rows, not files
        assert conn.execute("SELECT count(*) FROM blobs").fetchone() == (7,)

    copy = tmp_path / "copy"
    pulled = pull(pg_url, copy)  # the root remembered by push
    assert pulled.blobs == 7 and pulled.project_id == result.project_id
    with Project.open(copy, read_only=True) as p:
        after = _snapshot(p)
        assert all(r.path.is_relative_to(copy) for r in p.images() if r.copied)
    assert after == before


def test_push_refuses_a_database_with_a_project(tmp_path, rng, monkeypatch, pg_url, config_home):
    local = _rich_project(tmp_path, rng, monkeypatch)
    push(local, pg_url, root=tmp_path)  # the share holds the linked image and the project
    with pytest.raises(ProjectError, match="already holds a project"):
        push(local, pg_url)
    with psycopg.connect(pg_url) as conn:  # relative to the share: found from any machine
        paths = [p for (p,) in conn.execute("SELECT path FROM images ORDER BY id")]
    assert paths == ["images/face0.png", "images/face1.png", "images/face2.png", "linked/far.png"]
    with Project.open(pg_url, read_only=True, user="x") as team:
        assert all(r.path.is_file() for r in team.images())


def test_pull_needs_an_empty_folder_and_a_root(tmp_path, rng, monkeypatch, pg_url, config_home):
    local = _rich_project(tmp_path, rng, monkeypatch)
    push(local, pg_url)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(ProjectError, match="not empty"):
        pull(pg_url, tmp_path / "busy")
    (config_home / "team_roots.json").unlink()
    with pytest.raises(ProjectError, match="no image root"):
        pull(pg_url, tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    assert not (tmp_path / ".copy.pulling").exists()


def test_cli_push_pull_and_root(tmp_path, rng, monkeypatch, pg_url, config_home, capsys):
    from app.cli import main

    local = _rich_project(tmp_path, rng, monkeypatch)
    assert main(["team", "push", str(local), pg_url, "--root", str(tmp_path / "share")]) == 0
    out = capsys.readouterr().out
    assert "pushed 4 images" in out and "postgres@localhost (socket)" in out
    assert main(["team", "root", pg_url]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "share")
    assert main(["team", "root", pg_url, str(tmp_path / "mnt")]) == 0
    capsys.readouterr()
    assert main(["team", "pull", pg_url, str(tmp_path / "copy")]) == 0  # no images there
    assert "warning: 3 image files were not found" in capsys.readouterr().err
    assert (
        main(["team", "pull", pg_url, str(tmp_path / "c2"), "--root", str(tmp_path / "share")]) == 0
    )
    assert "pulled 4 images" in capsys.readouterr().out
