"""Output folders that would destroy the user's files are refused, with and without --force.

Each case of issue 16 is reproduced through the real command line on real folders; the
check is that the refusal is one line, exit 1, and every file is still there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from core.dataset import MARKER, read_manifest
from core.imageio import encode_png
from core.project import Project


def _png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(array))
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; SQLite's journal files and the lock change on any open."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm", ".lock"))
    }


@pytest.fixture
def world(tmp_path, rng, monkeypatch):
    """A home folder holding a project with one accepted image and its input folders."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    faces = home / "faces"
    rough = home / "rough"
    for i in range(2):
        _png(faces / f"f{i}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        _png(rough / f"f{i}.png", np.full((32, 32), 255, np.uint8))
    proj = home / "work" / "proj"
    assert main(["new", str(proj)]) == 0
    assert main(["import", str(proj), str(faces), "-q"]) == 0
    with Project.open(proj) as p:
        rec = p.images()[0]
        p.save_rough(rec.id, {"wrinkle": np.ones((32, 32), bool)})
        p.set_status(rec.id, "submitted")
        p.set_status(rec.id, "accepted")
    return home, proj, faces, rough


def _refused(argv: list[str], capsys, message: str) -> None:
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("skintrace: error: "), err
    assert message in err, err


@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("project", "is the project"),
        ("parent", "contains the project"),
        ("inside", "is inside the project"),
        ("home", "is your home folder"),
        ("above-home", "contains your home folder"),
    ],
)
def test_export_refuses_destructive_targets(world, capsys, where, message, force):
    home, proj, faces, _ = world
    out = {
        "project": proj,
        "parent": proj.parent,
        "inside": proj / "masks",
        "home": home,
        "above-home": home.parent,
    }[where]
    before = _snapshot(home)
    _refused(["export", str(proj), str(out), "-q", *force], capsys, message)
    assert _snapshot(home) == before
    assert Project.open(proj, read_only=True).images()


@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("images", "is the image folder"),
        ("masks", "is the wrinkle mask folder"),
        ("inside", "is inside the image folder"),
        ("parent", "contains the image folder"),
        ("project", "is inside the SkinTrace project"),
        ("a-project", "is a SkinTrace project"),
    ],
)
def test_from_masks_refuses_its_input_folders(world, capsys, where, message, force):
    home, proj, faces, rough = world
    out = {
        "images": faces,
        "masks": rough,
        "inside": faces / "ds",
        "parent": home / "faces" / "..",  # the home folder, written the long way
        "project": proj / "masks" / "ds",
        "a-project": proj,
    }[where]
    if where == "parent":
        message = "is your home folder"
    before = _snapshot(home)
    argv = ["dataset", "from-masks", str(faces), str(rough), str(rough), str(out), "-q"]
    _refused([*argv, *force], capsys, message)
    assert _snapshot(home) == before


def test_force_replaces_only_a_folder_skintrace_wrote(world, tmp_path, capsys):
    _, proj, _, _ = world
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_bytes(b"years of work")
    _refused(["export", str(proj), str(mine), "--force", "-q"], capsys, "not a folder SkinTrace")
    assert (mine / "thesis.docx").read_bytes() == b"years of work"

    ds = proj / "exports" / "v1"  # the project's own exports/ folder is allowed
    assert main(["export", str(proj), str(ds), "-q"]) == 0
    assert (ds / MARKER).is_file()
    (ds / "notes.txt").write_text("x")
    assert main(["export", str(proj), str(ds), "--force", "-q"]) == 0
    assert not (ds / "notes.txt").exists() and len(read_manifest(ds).items) == 1
