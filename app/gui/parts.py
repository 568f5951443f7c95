"""The window's declared parts: the notifier, the menus and docks bundles, and the frame.

:class:`~app.gui.main_window.MainWindow` builds its core parts first (canvas, layers,
tools, image list, status bar, action registry, :class:`Menus`), bundles them in a
:class:`Frame`, and hands that frame to each feature module's ``install`` (pre-labels,
retraining, review, faces, ...), which builds its controller from the few parts it needs
(a :class:`Notifier` rather than the window) and returns it; the window keeps every part
as a typed attribute. Nothing here imports the window, so no module of :mod:`app.gui`
needs to (an import-linter contract keeps the package acyclic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QMessageBox, QWidget

from .fit import FitScrollArea

if TYPE_CHECKING:
    from .canvas import ImageCanvas
    from .image_list import ImageList
    from .layers import LayersModel
    from .shortcuts import ActionRegistry
    from .status_bar import StatusBar
    from .tools import ToolState


class Notifier(Protocol):
    """How a controller talks to the user: status-bar messages, problems and questions."""

    def show(self, text: str, ms: int = 0) -> None:
        """Show ``text`` in the status bar for ``ms`` milliseconds (0: until replaced)."""

    def report(self, message: str) -> None:
        """Show a one-line problem without blocking; the window keeps working."""

    def note(self, message: str) -> None:
        """Record ``message`` with the problems and show it in the status bar (no box)."""

    def ask(self, question: str) -> bool:
        """Ask a yes/no ``question`` (modal); True for yes."""


class WindowNotifier:
    """The window's :class:`Notifier`: its status bar and message boxes over ``parent``."""

    def __init__(self, parent: QWidget, status: StatusBar) -> None:
        self.parent = parent
        self.status = status
        #: Every problem shown to the user, oldest first (tests read it).
        self.messages: list[str] = []

    def show(self, text: str, ms: int = 0) -> None:
        self.status.showMessage(text, ms)

    def report(self, message: str) -> None:
        self.messages.append(message)
        self.status.showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, "SkinTrace", message, parent=self.parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def note(self, message: str) -> None:
        self.messages.append(message)
        self.status.showMessage(message, 10000)

    def ask(self, question: str) -> bool:
        answer = QMessageBox.question(self.parent, "SkinTrace", question)
        return answer == QMessageBox.StandardButton.Yes


@dataclass(frozen=True)
class Menus:
    """The window's menus, in menu-bar order (built by :func:`app.gui.actions.build_actions`)."""

    file: QMenu
    recent: QMenu  # File → Open recent
    edit: QMenu
    view: QMenu
    panels: QMenu  # View → Panels: one entry per dock
    image: QMenu
    tools: QMenu
    model: QMenu
    help: QMenu


@dataclass
class Docks:
    """The window's dock panels by key (``dock_<key>`` is each dock's object name)."""

    by_key: dict[str, QDockWidget] = field(default_factory=dict)

    def __getitem__(self, key: str) -> QDockWidget:
        return self.by_key[key]

    def __contains__(self, key: object) -> bool:
        return key in self.by_key


def add_dock(
    window: QMainWindow,
    menus: Menus,
    docks: Docks,
    title: str,
    widget: QWidget,
    area: Qt.DockWidgetArea,
    key: str,
) -> QDockWidget:
    """Add a dock panel to ``window`` (also listed in View → Panels)."""
    if key in docks:
        raise ValueError(f"dock {key!r} is added twice")
    dock = QDockWidget(title, window)
    dock.setObjectName(f"dock_{key}")
    dock.setWidget(widget)
    window.addDockWidget(area, dock)
    menus.panels.addAction(dock.toggleViewAction())
    docks.by_key[key] = dock
    return dock


@dataclass(frozen=True)
class Frame:
    """The core parts a feature module mounts into (menus, actions, docks) and reads from.

    Feature modules build their controllers from the parts they need, never from the
    window itself; ``session_changed`` is the window's ``sessionChanged`` signal.
    """

    window: QMainWindow  # parent of docks and dialogs
    registry: ActionRegistry
    menus: Menus
    docks: Docks
    notifier: Notifier
    status: StatusBar
    canvas: ImageCanvas
    layers: LayersModel
    tools: ToolState
    image_list: ImageList
    session_changed: SignalInstance

    def add_tabbed_dock(
        self,
        title: str,
        widget: QWidget,
        key: str,
        *,
        beside: str,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
    ) -> QDockWidget:
        """Add a dock tabbed with the existing dock ``beside`` (keeps the window size).

        The widget sits in a vertical scroll area, so a short window never has to grow for
        it; the dock is as wide as the widget needs (no horizontal scroll bar, no cut
        buttons).
        """
        scroll = FitScrollArea(widget)  # as wide as the panel needs: nothing cut off
        dock = add_dock(self.window, self.menus, self.docks, title, scroll, area, key)
        other = self.docks.by_key.get(beside)
        if other is not None:
            self.window.tabifyDockWidget(other, dock)
            other.raise_()
        return dock


__all__ = ["Docks", "Frame", "Menus", "Notifier", "WindowNotifier", "add_dock"]
