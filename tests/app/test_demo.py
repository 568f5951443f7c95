"""The built-in demo project."""

from __future__ import annotations

from core.demo.projects import astronaut_crop, data_dir, ensure_demo_project
from core.project import Project, Status


def test_data_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SKINTRACE_DATA_DIR", str(tmp_path / "x"))
    assert data_dir() == tmp_path / "x"


def test_demo_project_is_made_once_and_is_self_contained(tmp_path):
    folder = ensure_demo_project()
    assert folder.parent == data_dir()
    with Project.open(folder) as project:
        records = project.images()
        names = [r.name for r in records]
        assert "portrait-astronaut.png" in names
        assert sum(n.startswith("face-") for n in names) == 5
        assert all(r.path.is_file() and folder in r.path.parents for r in records)
        painted = [r for r in records if r.status == Status.IN_PROGRESS]
        assert len(painted) == 1
        rough = project.load_rough(painted[0].id)
        assert rough["wrinkle"].any() and rough["pore"].any()
        first_ids = [r.id for r in records]
    # the second call reuses the project
    assert ensure_demo_project() == folder
    with Project.open(folder) as project:
        assert [r.id for r in project.images()] == first_ids
    leftovers = [p for p in data_dir().iterdir() if p.name != folder.name]
    assert leftovers == []


def test_astronaut_crop_shape():
    crop = astronaut_crop(shape=(64, 80))
    assert crop.shape == (64, 80, 3) and crop.dtype.name == "uint8"
