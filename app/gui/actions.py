"""The window's menus and shortcuts, all registered through one ActionRegistry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMenuBar,
    QPlainTextEdit,
    QTextEdit,
)

from .parts import Menus

if TYPE_CHECKING:
    from collections.abc import Callable

    from .canvas import ImageCanvas
    from .layers import LayersModel
    from .parts import Notifier
    from .project_dialogs import ProjectActions
    from .shortcuts import ActionRegistry
    from .tools import ToolState


class Commands(Protocol):
    """What the menus call: the window's commands and the parts the actions act on."""

    @property
    def registry(self) -> ActionRegistry: ...
    @property
    def project_actions(self) -> ProjectActions: ...
    @property
    def canvas(self) -> ImageCanvas: ...
    @property
    def layers(self) -> LayersModel: ...
    @property
    def tools(self) -> ToolState: ...
    @property
    def notifier(self) -> Notifier: ...

    def menuBar(self) -> QMenuBar: ...  # noqa: N802
    def close(self) -> bool: ...
    def flush_async(self) -> None: ...
    def undo(self) -> None: ...
    def redo(self) -> None: ...
    def clear_class(self) -> None: ...
    def edit_preferences(self) -> None: ...
    def previous_image(self) -> None: ...
    def next_image(self) -> None: ...
    def next_unfinished(self) -> None: ...
    def submit(self) -> None: ...
    def show_shortcuts(self) -> object: ...
    def show_about(self) -> None: ...


#: Where Tab must keep its usual meaning (next field) rather than switch the class.
_FIELDS = (QAbstractSpinBox, QComboBox, QLineEdit, QPlainTextEdit, QTextEdit)


def _tab(switch: Callable[[], None]) -> None:
    """Tab switches the class, except in a form field, where it moves to the next field."""
    focus = QApplication.focusWidget()
    if isinstance(focus, _FIELDS):
        focus.focusNextChild()  # what Tab does when no shortcut takes it
        return
    switch()


def _show_view(w: Commands, name: str | None) -> None:
    """Show the image layer as ``name`` (None: the next view) and say which it is."""
    from core.gt.views import VIEW_TITLES

    stack = w.canvas.stack
    if name is None:
        stack.cycle_image_view()
    else:
        stack.set_image_view(name)
    w.notifier.show(f"image view: {VIEW_TITLES[stack.image_view]} (display only)", 3000)


def build_actions(w: Commands) -> Menus:
    """Create every action of ``w`` and its menus (File, Edit, View, Image, Tools, Model, Help).

    The Model menu starts empty: the model-assisted parts add their actions to it.
    """
    reg = w.registry
    files = w.project_actions
    bar = w.menuBar()

    m = file_ = bar.addMenu("&File")
    m.addAction(reg.add("new_project", "&New project…", files.new_project, "Ctrl+Shift+N"))
    m.addAction(reg.add("open_project", "&Open project…", files.open_project, "Ctrl+O"))
    recent = m.addMenu("Open &recent")
    recent.aboutToShow.connect(files.fill_recent_menu)
    m.addAction(reg.add("import_images", "&Import images…", files.import_images, "Ctrl+I"))
    m.addSeparator()
    m.addAction(reg.add("save", "&Save now", w.flush_async, "Ctrl+S"))
    m.addSeparator()
    m.addAction(reg.add("quit", "&Quit", w.close, "Ctrl+Q"))

    m = edit = bar.addMenu("&Edit")
    m.addAction(reg.add("undo", "&Undo stroke", w.undo, "Ctrl+Z"))
    m.addAction(reg.add("redo", "&Redo stroke", w.redo, ["Ctrl+Shift+Z", "Ctrl+Y"]))
    m.addSeparator()
    m.addAction(reg.add("clear_class", "&Clear active class", w.clear_class, "Shift+Del"))
    m.addSeparator()
    m.addAction(reg.add("preferences", "&Preferences…", w.edit_preferences, "Ctrl+,"))

    m = view = bar.addMenu("&View")
    c = w.canvas
    m.addAction(reg.add("fit", "&Fit image", c.fit, "F"))
    m.addAction(reg.add("actual_size", "&1:1", c.actual_size, "1"))
    m.addAction(reg.add("zoom_in", "Zoom &in", c.zoom_in, ["+", "="]))
    m.addAction(reg.add("zoom_out", "Zoom &out", c.zoom_out, "-"))
    m.addSeparator()
    for key, name, title, shortcut in (
        ("toggle_rough", "rough", "Show rough masks", "R"),
        ("toggle_gt", "gt", "Show ground truth", "G"),
        ("toggle_texture", "texture", "Show texture map", "T"),
        ("toggle_prediction", "prediction", "Show prediction", "Shift+P"),
    ):
        m.addAction(reg.add(key, title, lambda n=name: w.layers.toggle(n), shortcut))
    views = m.addMenu("Image &view")
    from core.gt.views import VIEW_TITLES

    for name, title in VIEW_TITLES.items():
        views.addAction(reg.add(f"view_{name}", title, lambda n=name: _show_view(w, n)))
    m.addAction(reg.add("cycle_view", "Next image view", lambda: _show_view(w, None), "V"))
    panels = m.addMenu("&Panels")

    m = image = bar.addMenu("&Image")
    m.addAction(reg.add("previous", "&Previous image", w.previous_image, "PgUp"))
    m.addAction(reg.add("next", "&Next image", w.next_image, "PgDown"))
    m.addAction(reg.add("next_unfinished", "Next &unfinished", w.next_unfinished, "N"))
    m.addSeparator()
    m.addAction(reg.add("submit", "&Submit and open next", w.submit, ["Ctrl+Return", "Ctrl+Enter"]))

    m = tools = bar.addMenu("&Tools")
    t = w.tools
    m.addAction(reg.add("tool_brush", "&Brush", lambda: t.set_tool("brush"), "B"))
    m.addAction(reg.add("tool_eraser", "&Eraser", lambda: t.set_tool("eraser"), "E"))
    m.addAction(reg.add("tool_lasso", "&Lasso fill", lambda: t.set_tool("lasso"), "L"))
    m.addAction(reg.add("tool_pore", "P&ore picker", lambda: t.set_tool("pore"), "O"))
    m.addAction(
        reg.add("tool_polyline", "Pol&yline (snapped)", lambda: t.set_tool("polyline"), "Shift+L")
    )
    m.addAction(reg.add("toggle_snap", "Snap brush to wrinkle &centreline", t.toggle_snap, "S"))
    m.addSeparator()
    m.addAction(reg.add("class_wrinkle", "&Wrinkle class", lambda: t.set_class("wrinkle"), "W"))
    m.addAction(reg.add("class_pore", "&Pore class", lambda: t.set_class("pore"), "P"))
    m.addAction(reg.add("class_next", "Switch &class", lambda: _tab(t.next_class), "Tab"))
    m.addAction(
        reg.add(
            "class_exclude", "E&xclusion mask (hair, glasses)", lambda: t.set_class("exclude"), "X"
        )
    )
    m.addSeparator()
    m.addAction(reg.add("brush_bigger", "Bigger brush", t.grow, "]"))
    m.addAction(reg.add("brush_smaller", "Smaller brush", t.shrink, "["))

    model = bar.addMenu("&Model")

    m = help_ = bar.addMenu("&Help")
    m.addAction(reg.add("shortcuts", "&Keyboard shortcuts", w.show_shortcuts, "F1"))
    m.addAction(reg.add("about", "&About SkinTrace", w.show_about))
    return Menus(
        file=file_,
        recent=recent,
        edit=edit,
        view=view,
        panels=panels,
        image=image,
        tools=tools,
        model=model,
        help=help_,
    )
