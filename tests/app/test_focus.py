"""Keyboard focus, the mouse wheel and the GT parameters panel (real keys, clicks, wheels)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QLabel,
    QScrollBar,
    QWidget,
)

from app.gui.params_panel import SPECS


def wheel_on(widget: QWidget, notches: int) -> None:
    """A real wheel event over the middle of ``widget`` (sent where the pointer is)."""
    pos = QPointF(widget.rect().center())
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def value(widget: QWidget):
    if isinstance(widget, QComboBox):
        return widget.currentIndex()
    return widget.value()


def type_number(qtbot, spin: QAbstractSpinBox, text: str) -> None:
    """Click into the number box, replace its text, as a user does."""
    QTest.mouseClick(spin, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    spin.selectAll()
    QTest.keyClicks(spin, text)


def test_enter_in_a_gt_parameter_gives_the_keys_back_to_the_canvas(qtbot, window):
    w = window
    sigma = w.params_panel.rows["sigma"].spin
    type_number(qtbot, sigma, "10")
    QTest.keyClick(sigma, Qt.Key.Key_Return)
    assert sigma.value() == 10.0
    qtbot.waitUntil(w.canvas.hasFocus, timeout=2000)
    for k, check in (
        (Qt.Key.Key_E, lambda: w.tools.tool == "eraser"),
        (Qt.Key.Key_L, lambda: w.tools.tool == "lasso"),
        (Qt.Key.Key_P, lambda: w.tools.cls == "pore"),
        (Qt.Key.Key_B, lambda: w.tools.tool == "brush"),
        (Qt.Key.Key_W, lambda: w.tools.cls == "wrinkle"),
    ):
        QTest.keyClick(QApplication.focusWidget(), k)
        assert check(), k
    radius = w.tools.radius
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_BracketRight)
    assert w.tools.radius > radius
    w.params_panel.flush()
    assert w.canvas.document.params.sigma == 10.0


def test_escape_too_and_letters_pass_through_a_focused_number_box(qtbot, window):
    w = window
    spin = w.params_panel.rows["pore_gain"].spin  # (the thresholds may be on "Auto")
    type_number(qtbot, spin, "7")
    # still typing a number: a letter is no digit, so the tool shortcut takes it
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_E)
    assert w.tools.tool == "eraser" and spin.hasFocus()
    QTest.keyClicks(QApplication.focusWidget(), ".5")
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_P)
    assert w.tools.cls == "pore"
    assert spin.lineEdit().text().startswith("7.5")  # digits still go into the box
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    qtbot.waitUntil(w.canvas.hasFocus, timeout=2000)
    QTest.keyClick(w.canvas, Qt.Key.Key_B)
    assert w.tools.tool == "brush"
    # a text field keeps its letters: typing a search does not switch tools
    search = w.image_list.search
    QTest.mouseClick(search, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(search.hasFocus, timeout=2000)
    QTest.keyClicks(search, "le")
    assert search.text() == "le" and w.tools.tool == "brush"


def guarded_controls(w) -> list[QWidget]:
    found = []
    for dock in w.findChildren(QDockWidget):
        for cls in (QAbstractSpinBox, QAbstractSlider, QComboBox):
            found += [
                c for c in dock.findChildren(cls) if c.isEnabled() and not isinstance(c, QScrollBar)
            ]
    return found


def test_the_wheel_changes_no_setting_in_any_dock_unless_it_has_focus(qtbot, window):
    w = window
    controls = guarded_controls(w)
    names = {c.objectName() or type(c).__name__ for c in controls}
    assert len(controls) >= 8, names
    # the training dock's "Retrain after" is among them (the one seen changing)
    assert w.training_panel.after in controls
    w.canvas.setFocus()
    before = [value(c) for c in controls]
    for c in controls:
        for notches in (1, 1, 1, -1, 1):
            wheel_on(c, notches)
    assert [value(c) for c in controls] == before
    for c in controls:
        assert c.focusPolicy() == Qt.FocusPolicy.StrongFocus, c
    # a control the user clicked into still takes the wheel
    after = w.training_panel.after
    QTest.mouseClick(after, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(after.hasFocus, timeout=2000)
    start = after.value()
    wheel_on(after, 1)
    assert after.value() == start + after.singleStep()


def test_use_project_default_shows_the_default_values_at_once(qtbot, window, monkeypatch):
    import app.gui.session

    # as with a large photo, the maps are recomputed in the background
    monkeypatch.setattr(app.gui.session, "LARGE_IMAGE_PIXELS", 100)
    w = window
    panel = w.params_panel
    default = w.session.project.params(None)
    panel.scope.setCurrentIndex(panel.scope.findData("image"))
    sigma = panel.rows["sigma"].spin
    type_number(qtbot, sigma, "25")
    QTest.keyClick(sigma, Qt.Key.Key_Return)
    panel.flush()
    image_id = w.session.current.image_id
    assert w.session.has_override(image_id)
    assert "own parameters" in panel.override_label.text()
    QTest.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    assert "project default" in panel.override_label.text()
    assert sigma.value() == default.sigma != 25.0
    assert panel.scope.currentData() == "project"
    assert w.session.flush(10.0)
    assert w.session.project.params(image_id) == default
    qtbot.waitUntil(lambda: w.canvas.document.params == default, timeout=10000)
    assert sigma.value() == default.sigma


def test_gt_parameters_have_human_labels_and_equations_in_tooltips(qtbot, window):
    panel = window.params_panel
    labels = {
        lbl.text(): lbl.toolTip() for lbl in panel.findChildren(QLabel) if lbl.buddy() is not None
    }
    assert "Wrinkle scale σ" in labels and "Pore threshold" in labels
    assert not any("Eq." in text or text.startswith("Th") for text in labels)
    assert "Eq. 1" in labels["Wrinkle scale σ"] and "Eq. 2" in labels["Pore threshold"]
    for name, row in panel.rows.items():
        assert row.spin.toolTip() == row.slider.toolTip() == SPECS[name].tip


def test_every_control_of_the_window_has_a_tooltip(qtbot, window):
    from PySide6.QtWidgets import QAbstractButton, QLineEdit

    w = window
    missing = []
    for dock in w.findChildren(QDockWidget):
        for cls in (QAbstractSpinBox, QAbstractSlider, QComboBox, QAbstractButton, QLineEdit):
            for c in dock.findChildren(cls):
                if isinstance(c, QScrollBar) or c.objectName().startswith("qt_"):
                    continue  # scroll bars, the dock's float / close buttons
                if isinstance(c.parent(), QAbstractSpinBox | QComboBox | QLineEdit):
                    continue  # parts of a spin box, combo box or line edit
                if not c.toolTip():
                    text = c.text() if hasattr(c, "text") else ""
                    missing.append(f"{dock.windowTitle()}: {type(c).__name__} {text!r}")
    assert not missing, "\n".join(missing)
