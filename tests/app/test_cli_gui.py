"""`skintrace` (demo) and `skintrace open PROJECT` start the window on the right project."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from app.cli import main
from app.gui.main_window import MainWindow
from core.demo import data_dir

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
