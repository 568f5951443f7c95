"""`skintrace PATH...`: image files and folders become a project in the data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.cli import build_parser, main
from core.demo.projects import (
    PROJECTS_DIR,
    data_dir,
    images_project_folder,
    open_images_project,
    resolve_paths,
)
from core.errors import ProjectError
from core.imageio import encode_png
from core.project import Project


def _png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)))
    return path


def _run(paths: list[Path]) -> dict:
    last = None
    for step in open_images_project(paths):
        last = step
    assert last is not None
    return last.info


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKINTRACE_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # the display check passes


def test_folder_and_files_become_one_project_in_place(tmp_path):
    folder = tmp_path / "shoot"
    _png(folder / "a.png", 1)
    _png(folder / "sub" / "b.png", 2)
    (folder / "notes.txt").write_text("x")
    single = _png(tmp_path / "loose" / "c.png", 3)
    _png(tmp_path / "loose" / "not-given.png", 4)  # beside a given file: not imported
    _png(tmp_path / "loose" / "deeper" / "c.png", 5)  # same name deeper: not imported

    info = _run([folder, single])
    assert info["created"] and info["images"] == 3
    root = info["folder"]
    assert root.parent == data_dir() / PROJECTS_DIR
    assert root.name.startswith("c-")  # .../loose/c.png sorts before .../shoot
    with Project.open(root, read_only=True) as project:
        records = {r.name: r for r in project.images()}
    assert set(records) == {"a.png", "sub/b.png", "c.png"}
    assert all(not r.copied for r in records.values())  # referenced, not copied
    assert records["c.png"].path == single.resolve()
    assert not (root / "images").exists() or not any((root / "images").iterdir())
    assert len(info["summary"].not_images) == 1


def test_same_set_reopens_its_project_and_imports_new_images(tmp_path):
    folder = tmp_path / "faces"
    _png(folder / "a.png", 1)
    first = _run([folder])
    _png(folder / "b.png", 2)
    _png(folder / "copy-of-a.png", 1)  # same pixels as a.png: a duplicate
    # another spelling of the same set (with "..", repeated)
    again = _run([folder / ".." / "faces", folder])
    assert again["folder"] == first["folder"] and not again["created"]
    assert again["images"] == 2 and again["summary"].added == 1
    assert len(again["summary"].duplicates) == 2  # a.png again and its copy
    # a different set is a different project
    other = _run([folder / "b.png"])
    assert other["folder"] != first["folder"]


def test_project_folder_name_ignores_order(tmp_path):
    a, b = _png(tmp_path / "a.png", 1), _png(tmp_path / "b.png", 2)
    assert images_project_folder([a, b]) == images_project_folder([b, a, a])
    assert images_project_folder([b, a]).name.startswith("a-")
    assert images_project_folder([a, b]) != images_project_folder([a])


def test_folder_without_images_leaves_no_project(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(ProjectError, match="no image found"):
        _run([empty])
    projects = data_dir() / PROJECTS_DIR
    assert not projects.exists() or list(projects.iterdir()) == []


def test_a_project_among_several_paths_is_refused(tmp_path):
    with Project.create(tmp_path / "proj"):
        pass
    image = _png(tmp_path / "a.png", 1)
    with pytest.raises(ProjectError, match="open it on its own"):
        resolve_paths([tmp_path / "proj", image])


def test_missing_path_is_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skintrace: error:") and "nope.png" in err and err.count("\n") == 1
    assert not (data_dir() / PROJECTS_DIR).exists()


def test_read_only_needs_a_project_folder(tmp_path, capsys):
    image = _png(tmp_path / "a.png", 1)
    assert main([str(image), "--read-only"]) == 1
    assert "--read-only opens a project folder" in capsys.readouterr().err


def test_help_mentions_the_paths_form(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "PATH ..." in out and "skintrace PATH [PATH ...]" in out and "./train" in out
    assert "train" in build_parser().format_help()


def test_command_names_keep_priority(tmp_path, monkeypatch, capsys):
    (tmp_path / "status").mkdir()  # a folder named like a command
    monkeypatch.chdir(tmp_path)
    # `skintrace status` is the status command (it wants a project argument) ...
    with pytest.raises(SystemExit):
        main(["status"])
    assert "project" in capsys.readouterr().err
    # ... while ./status is a path
    assert main(["./status"]) == 1
    assert "no image found" in capsys.readouterr().err
