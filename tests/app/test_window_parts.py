"""The typed window: every part is declared and built, features get parts, not the window."""

from __future__ import annotations

import typing

import grimp
from PySide6.QtWidgets import QDockWidget

from app.gui.main_window import MainWindow
from app.gui.parts import WindowNotifier


def test_every_declared_part_is_built_with_its_declared_type(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    hints = typing.get_type_hints(MainWindow)
    assert {"prelabels", "review", "training", "faces", "damage", "menus", "docks"} <= set(hints)
    for name, hint in hints.items():
        if typing.get_origin(hint) is typing.ClassVar:
            continue
        assert isinstance(getattr(w, name), hint), name


def test_docks_and_menus_are_bundled_in_order(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    keys = ("images", "tools", "layers", "params", "training", "models", "review", "history")
    for key in (*keys, "faces", "agreement"):
        dock = w.docks[key]
        assert dock.objectName() == f"dock_{key}"
        assert w.findChild(QDockWidget, f"dock_{key}") is dock
        assert dock.toggleViewAction() in w.menus.panels.actions()
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&View", "&Image", "&Tools", "&Model", "&Help"]
    assert w.registry["retrain"] in w.menus.model.actions()
    assert w.registry["repair_image"] in w.menus.image.actions()


def test_parts_talk_through_the_window_notifier(qtbot, monkeypatch):
    w = MainWindow()
    qtbot.addWidget(w)
    assert isinstance(w.notifier, WindowNotifier)
    for part in (w.prelabels, w.training, w.review, w.faces, w.damage):
        assert part.notifier is w.notifier
    w.notifier.report("the disk is full")
    assert w.messages == ["the disk is full"]
    assert w.status.currentMessage() == "the disk is full"
    monkeypatch.setattr(w.notifier, "ask", lambda q: q.startswith("Yes"))
    assert w.ask("Yes?") and not w.ask("No?")


def test_no_gui_module_but_the_app_imports_the_window():
    graph = grimp.build_graph("app", include_external_packages=False)
    importers = graph.find_modules_that_directly_import("app.gui.main_window")
    assert importers == {"app.gui.app"}
