"""User preferences (user name, default brush size, class colours) kept in QSettings."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.classes import CLASSES

from .layers import DEFAULT_COLORS
from .resources import default_settings
from .tools import MAX_RADIUS, MIN_RADIUS

MAX_RECENT = 8


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some sandboxes
        return "annotator"


@dataclass(frozen=True)
class Preferences:
    """What the user can change in Edit -> Preferences."""

    user_name: str = field(default_factory=_default_user)
    brush_radius: int = int(default_settings()["brush_radius"])
    colors: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COLORS))

    @classmethod
    def load(cls) -> Preferences:
        s = QSettings()
        default = cls()
        colors: dict[str, str] = {}
        for c in CLASSES:
            value = str(s.value(f"colors/{c}", default.colors[c]))
            colors[c] = value if QColor(value).isValid() else default.colors[c]
        try:
            raw = s.value("brush/radius", default.brush_radius)
            radius = int(raw) if isinstance(raw, int | float | str) else default.brush_radius
        except (TypeError, ValueError):
            radius = default.brush_radius
        return cls(
            user_name=str(s.value("user/name", default.user_name)) or default.user_name,
            brush_radius=min(MAX_RADIUS, max(MIN_RADIUS, radius)),
            colors=colors,
        )

    def save(self) -> None:
        s = QSettings()
        s.setValue("user/name", self.user_name)
        s.setValue("brush/radius", int(self.brush_radius))
        for c in CLASSES:
            s.setValue(f"colors/{c}", self.colors[c])
        s.sync()


def recent_projects() -> list[str]:
    value = QSettings().value("recent/projects", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def add_recent_project(path: str) -> list[str]:
    items = [path, *[p for p in recent_projects() if p != path]][:MAX_RECENT]
    s = QSettings()
    s.setValue("recent/projects", items)
    s.sync()
    return items


class _ColorButton(QPushButton):
    def __init__(self, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color = color
        self.clicked.connect(self._pick)
        self._show()

    def _show(self) -> None:
        self.setText(self.color)
        self.setStyleSheet(f"background-color: {self.color}; color: white; font-weight: bold;")

    def _pick(self) -> None:
        chosen = QColorDialog.getColor(QColor(self.color), self, "Class colour")
        if chosen.isValid():
            self.color = chosen.name().upper()
            self._show()


class PreferencesDialog(QDialog):
    """Edit the preferences; :meth:`preferences` returns the edited values."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        form = QFormLayout(self)
        self.user = QLineEdit(prefs.user_name)
        self.radius = QSpinBox()
        self.radius.setRange(MIN_RADIUS, MAX_RADIUS)
        self.radius.setValue(prefs.brush_radius)
        self.radius.setSuffix(" px")
        form.addRow("User name (status history)", self.user)
        form.addRow("Default brush radius", self.radius)
        self.color_buttons = {c: _ColorButton(prefs.colors[c]) for c in CLASSES}
        for c, button in self.color_buttons.items():
            form.addRow(f"{c.capitalize()} colour", button)
        reset = QPushButton("Colour-blind-safe defaults")
        reset.clicked.connect(self._reset_colors)
        form.addRow("", reset)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _reset_colors(self) -> None:
        for c, button in self.color_buttons.items():
            button.color = DEFAULT_COLORS[c]
            button._show()

    def preferences(self) -> Preferences:
        return Preferences(
            user_name=self.user.text().strip() or _default_user(),
            brush_radius=self.radius.value(),
            colors={c: b.color for c, b in self.color_buttons.items()},
        )
