"""Small widgets on their own: tools, layers, parameters, preferences, shortcuts, image list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QWidget

from app.gui.image_list import ImageList
from app.gui.layers import LayersModel
from app.gui.layers_panel import LayersPanel
from app.gui.params_panel import ParamsPanel
from app.gui.preferences import (
    Preferences,
    PreferencesDialog,
    add_recent_project,
    recent_projects,
)
from app.gui.shortcuts import ActionRegistry, ShortcutsDialog, shortcut_rows
from app.gui.tools import MAX_RADIUS, MIN_RADIUS, ToolState
from app.gui.tools_panel import ToolsPanel
from core.gt.engine import GTParams


def test_tool_state_switches_and_clamps(qapp):
    t = ToolState(radius=5)
    t.next_class()
    assert t.cls == "pore"
    t.next_class()
    assert t.cls == "wrinkle"
    sizes = [t.radius]
    for _ in range(60):
        t.grow()
        sizes.append(t.radius)
    assert sizes == sorted(sizes) and sizes[-1] == MAX_RADIUS
    for _ in range(80):
        t.shrink()
    assert t.radius == MIN_RADIUS
    with pytest.raises(ValueError, match="unknown tool"):
        t.set_tool("spray")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown class"):
        t.set_class("freckle")


def test_tools_panel_follows_and_edits_state(qtbot):
    t = ToolState(radius=7)
    layers = LayersModel()
    cleared = []
    panel = ToolsPanel(t, layers, lambda: cleared.append(t.cls))
    qtbot.addWidget(panel)
    t.set_tool("eraser")
    assert panel.tool_buttons["eraser"].isChecked()
    qtbot.mouseClick(panel.tool_buttons["lasso"], Qt.MouseButton.LeftButton)
    assert t.tool == "lasso"
    panel.class_buttons["pore"].click()
    assert t.cls == "pore"
    panel.spin.setValue(12)
    assert t.radius == 12 and panel.slider.value() == 12
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert cleared == ["pore"]


def test_layers_panel_round_trip(qtbot):
    layers = LayersModel()
    panel = LayersPanel(layers)
    qtbot.addWidget(panel)
    panel.checks["texture"].setChecked(True)
    assert layers.state("texture").visible
    panel.sliders["gt"].setValue(40)
    assert layers.state("gt").opacity == pytest.approx(0.4)
    layers.set_visible("rough", False)
    assert not panel.checks["rough"].isChecked()
    maps = {"wrinkle": np.ones((3, 3), np.uint8)}
    with qtbot.waitSignal(layers.predictionChanged):
        layers.set_prediction(maps)
    assert layers.prediction()["wrinkle"].dtype == np.uint8


def test_params_panel_debounces_and_scopes(qtbot):
    panel = ParamsPanel()
    qtbot.addWidget(panel)
    params = GTParams(pore_threshold=8.0)  # a fixed number: its slider is live
    panel.show_params(params, image_id=7, has_override=False)
    emitted = []
    panel.paramsEdited.connect(lambda p, scope: emitted.append((p, scope)))
    panel.rows["sigma"].spin.setValue(params.sigma + 1)
    panel.rows["sigma"].spin.setValue(params.sigma + 2)
    assert emitted == []  # debounced
    qtbot.waitUntil(lambda: len(emitted) == 1, timeout=2000)
    new, scope = emitted[0]
    assert new.sigma == pytest.approx(params.sigma + 2) and scope is None
    assert not panel.reset_button.isEnabled()
    panel.scope.setCurrentIndex(1)
    panel.rows["pore_threshold"].slider.setValue(panel.rows["pore_threshold"].slider.value() + 3)
    panel.flush()
    assert emitted[-1][1] == 7
    assert emitted[-1][0].pore_threshold != params.pore_threshold
    # the panel says at once that this image now has its own parameters
    assert panel.reset_button.isEnabled() and "own parameters" in panel.override_label.text()


def test_params_panel_shows_the_chosen_thresholds_and_keeps_a_fixed_number(qtbot):
    panel = ParamsPanel()
    qtbot.addWidget(panel)
    panel.show_params(GTParams(), image_id=3, has_override=False)
    panel.show_chosen({"wrinkle_threshold": 12.5, "pore_threshold": 4.01})
    row = panel.rows["pore_threshold"]
    assert row.auto is not None and row.auto.isChecked() and not row.spin.isEnabled()
    assert row.spin.value() == pytest.approx(4.01, abs=0.05)
    assert "Pore" in panel.chosen_label.text() or "Th" in panel.chosen_label.text()
    assert "4.01" in panel.chosen_label.text() and "12.50" in panel.chosen_label.text()
    assert panel.rows["sigma"].auto is None  # only thresholds can be calibrated
    emitted = []
    panel.paramsEdited.connect(lambda p, scope: emitted.append((p, scope)))
    row.auto.click()  # untick: keep the number
    panel.flush()
    new, scope = emitted[-1]
    assert scope is None and new.pore_threshold == pytest.approx(4.0, abs=0.05)
    assert new.wrinkle_threshold is None and row.spin.isEnabled()
    # a fixed value shown later (another image) keeps Auto off; back to Auto emits None
    panel.show_params(new, image_id=4, has_override=False)
    assert not row.auto.isChecked() and row.spin.value() == pytest.approx(new.pore_threshold)
    row.auto.setChecked(True)
    panel.flush()
    assert emitted[-1][0].pore_threshold is None


def test_window_shows_the_open_images_chosen_thresholds(window, qtbot):
    doc = window.canvas.document
    row = window.params_panel.rows["pore_threshold"]
    assert doc.params.is_auto("pore")
    assert row.spin.value() == pytest.approx(doc.chosen_threshold("pore"), abs=0.05)
    assert f"{doc.chosen_threshold('pore'):.2f}" in window.params_panel.chosen_label.text()


def test_preferences_persist_in_qsettings(qtbot):
    prefs = Preferences(
        user_name="ana", brush_radius=11, colors={"wrinkle": "#E69F00", "pore": "#0072B2"}
    )
    prefs.save()
    loaded = Preferences.load()
    assert loaded == prefs
    dialog = PreferencesDialog(loaded)
    qtbot.addWidget(dialog)
    dialog.user.setText("ben")
    dialog._reset_colors()
    edited = dialog.preferences()
    assert edited.user_name == "ben" and edited.colors["wrinkle"] == "#D55E00"
    add_recent_project("/a")
    add_recent_project("/b")
    add_recent_project("/a")
    assert recent_projects() == ["/a", "/b"]


def test_shortcuts_dialog_lists_every_registered_shortcut(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    reg = ActionRegistry(owner)
    reg.add("a", "&Alpha", lambda: None, "Ctrl+K")
    reg.add("b", "Beta", lambda: None, ["Ctrl+Shift+Z", "Ctrl+Y"])
    reg.add("c", "No key", lambda: None)
    with pytest.raises(ValueError, match="twice"):
        reg.add("a", "again", lambda: None)
    rows = shortcut_rows(reg.actions())
    assert [r[0] for r in rows] == ["Alpha", "Beta"]
    dialog = ShortcutsDialog(reg.actions())
    qtbot.addWidget(dialog)
    texts = {
        dialog.table.item(i, 0).text(): dialog.table.item(i, 1).text()
        for i in range(dialog.table.rowCount())
    }
    native = QKeySequence("Ctrl+Y").toString(QKeySequence.SequenceFormat.NativeText)
    assert native in texts["Beta"]


@dataclass(frozen=True)
class _Rec:
    id: int
    name: str
    status: str
    path: Path
    rows: int = 4
    cols: int = 4


def test_image_list_filter_search_and_navigation(qtbot, tmp_path):
    from core.imageio import save_png

    path = tmp_path / "img.png"
    save_png(path, np.full((20, 30, 3), 200, np.uint8))
    records = [
        _Rec(1, "alpha.png", "submitted", path),
        _Rec(2, "beta.png", "new", path),
        _Rec(3, "gamma.png", "in_progress", path),
        _Rec(4, "delta.png", "accepted", path),
        _Rec(5, "beta-2.png", "rejected", tmp_path / "missing.png"),
    ]
    widget = ImageList()
    qtbot.addWidget(widget)
    widget.set_records(records)
    assert widget.visible_ids() == [1, 2, 3, 4, 5]
    assert widget.next_unfinished(2) == 3
    assert widget.next_unfinished(3) == 5
    assert widget.next_unfinished(5) == 2  # wraps around
    assert widget.neighbour(1, -1) is None and widget.neighbour(1, 1) == 2
    widget.search.setText("BETA")
    assert widget.visible_ids() == [2, 5]
    widget.search.setText("")
    widget.filter.setCurrentIndex(widget.filter.findData("unfinished"))
    assert widget.visible_ids() == [2, 3, 5]
    assert widget.neighbour(3, 1) == 5 and widget.neighbour(3, -1) == 2  # hidden ones skipped
    assert widget.neighbour(5, 1) is None
    assert widget.neighbour(4, 1) == 2 and widget.neighbour(4, -1) == 5  # 4 is not shown
    widget.model.apply_state(2, "submitted")  # as the session does after a write
    assert widget.visible_ids() == [3, 5]
    widget.filter.setCurrentIndex(widget.filter.findData("accepted"))
    assert widget.visible_ids() == [4]
    # thumbnails come from a worker; the missing file keeps its placeholder
    qtbot.waitUntil(lambda: widget.model.has_thumbnail(1), timeout=5000)
    assert not widget.model.has_thumbnail(5)
    activated = []
    widget.imageActivated.connect(activated.append)
    widget.filter.setCurrentIndex(0)
    index = widget.proxy.index(2, 0)
    rect = widget.view.visualRect(index)
    qtbot.mouseClick(widget.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert activated == [3]
