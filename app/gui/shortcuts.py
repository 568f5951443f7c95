"""Registered actions and the Help -> Shortcuts dialog generated from them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

KeySpec = str | QKeySequence.StandardKey | Sequence[str]


class ActionRegistry:
    """Creates the window's QActions; every shortcut the user has is one of these."""

    def __init__(self, owner: QWidget) -> None:
        self.owner = owner
        self._actions: dict[str, QAction] = {}

    def add(
        self,
        key: str,
        text: str,
        slot: Callable[..., object],
        shortcut: KeySpec | None = None,
        *,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        """Create action ``key`` (unique), wire ``slot`` and add it to the owner widget."""
        if key in self._actions:
            raise ValueError(f"action {key!r} is registered twice")
        action = QAction(text, self.owner)
        action.setObjectName(key)
        if shortcut is not None:
            if isinstance(shortcut, QKeySequence.StandardKey):
                action.setShortcuts(shortcut)
            elif isinstance(shortcut, str):
                action.setShortcut(QKeySequence(shortcut))
            else:
                action.setShortcuts([QKeySequence(s) for s in shortcut])
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _checked=False: slot())
        self.owner.addAction(action)
        self._actions[key] = action
        return action

    def __getitem__(self, key: str) -> QAction:
        return self._actions[key]

    def __contains__(self, key: object) -> bool:
        return key in self._actions

    def actions(self) -> list[QAction]:
        return list(self._actions.values())


def shortcut_rows(actions: Sequence[QAction]) -> list[tuple[str, str]]:
    """(action text, shortcuts) for every action that has a shortcut."""
    rows = []
    for action in actions:
        keys = [
            s.toString(QKeySequence.SequenceFormat.NativeText)
            for s in action.shortcuts()
            if not s.isEmpty()
        ]
        if keys:
            rows.append((action.text().replace("&", ""), ", ".join(keys)))
    return rows


class ShortcutsDialog(QDialog):
    """Lists every registered shortcut (so the list cannot drift from the actions)."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 620)
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, (text, keys) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(text))
            self.table.setItem(i, 1, QTableWidgetItem(keys))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        extra = QTableWidgetItem  # mouse gestures are not actions; list them too
        for text, keys in (
            ("Pan", "Space + drag, middle button drag"),
            ("Zoom about the cursor", "Mouse wheel"),
            ("Lasso: erase instead of fill", "Alt + release"),
            ("Lasso: drop the outline being drawn", "Esc"),
            ("Pore picker: every pore in a box above the threshold", "Shift + drag"),
            ("Polyline: paint / drop last point / cancel", "Enter, Backspace, Esc"),
        ):
            i = self.table.rowCount()
            self.table.insertRow(i)
            self.table.setItem(i, 0, extra(text))
            self.table.setItem(i, 1, extra(keys))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
