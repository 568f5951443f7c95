"""`skintrace` (demo) and `skintrace open PROJECT` start the window on the right project."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from app.cli import main
from app.gui.main_window import MainWindow
from core.demo.projects import data_dir

from .helpers import make_project


def _capture_exec(monkeypatch, seen):
    def fake_exec(self=None):
        windows = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        ]
        assert len(windows) == 1
        window = windows[0]
        seen.append((window.isVisible(), window.session.project.root, window.session.read_only))
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)


def test_open_command_opens_the_project(qapp, tmp_path, monkeypatch):
    project = make_project(tmp_path, count=1)
    seen: list = []
    _capture_exec(monkeypatch, seen)
    assert main(["open", str(project), "--read-only"]) == 0
    assert seen == [(True, project.absolute(), True)]


def test_no_command_opens_the_demo(qapp, monkeypatch):
    seen: list = []
    _capture_exec(monkeypatch, seen)
    assert main([]) == 0
    assert seen[0][0] and seen[0][1] == data_dir() / "demo-project"


def test_open_rejects_a_folder_that_is_not_a_project(qapp, tmp_path, capsys):
    assert main(["open", str(tmp_path)]) == 1
    assert "not a SkinTrace project" in capsys.readouterr().err


def test_paths_open_the_window_on_a_project_of_those_images(qapp, tmp_path, monkeypatch, capsys):
    from core.demo.projects import PROJECTS_DIR
    from core.demo.synthetic import make_face
    from core.imageio import save_png

    from .helpers import SHAPE

    images = tmp_path / "shoot"
    images.mkdir()
    for i in range(2):
        save_png(images / f"face-{i}.png", make_face(20 + i, shape=SHAPE).image)
    seen: list = []
    _capture_exec(monkeypatch, seen)
    assert main([str(images)]) == 0
    root = seen[0][1]
    assert seen[0][0] and root.parent == data_dir() / PROJECTS_DIR and not seen[0][2]
    out = capsys.readouterr().out
    assert f"project created: {root} (2 image(s))" in out
    # the same command again: the same project, with the image added since
    save_png(images / "face-2.png", make_face(22, shape=SHAPE).image)
    assert main([str(images)]) == 0
    assert seen[1][1] == root
    assert f"project reopened: {root} (3 image(s))" in capsys.readouterr().out


def test_a_project_path_opens_that_project(qapp, tmp_path, monkeypatch):
    project = make_project(tmp_path, count=1)
    seen: list = []
    _capture_exec(monkeypatch, seen)
    assert main([str(project)]) == 0
    assert seen == [(True, project.resolve(), False)]
