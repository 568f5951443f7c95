"""Tools dock: tool, active class, brush radius, clear class."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.classes import CLASSES, EXCLUDE

from .layer_stack import EXCLUDE_COLOR
from .layers import LayersModel
from .resources import icon
from .tools import MAX_RADIUS, MIN_RADIUS, TOOLS, ToolState

TOOL_TITLES = {
    "brush": "Brush (B)",
    "eraser": "Eraser (E)",
    "lasso": "Lasso fill (L)",
    "pore": "Pore picker (O): click a pore, Shift+drag a box for every pore above the threshold",
    "polyline": "Polyline (Shift+L): click points along a wrinkle, Enter paints them snapped",
}
TOOL_NAMES = {"pore": "Pore", "polyline": "Polyline"}


class ToolsPanel(QWidget):
    """Mirrors a :class:`ToolState` and edits it; ``on_clear`` clears the active class."""

    def __init__(
        self,
        tools: ToolState,
        layers: LayersModel,
        on_clear: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tools = tools
        self.layers = layers
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        self.tool_buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        group = QButtonGroup(self)
        for name in TOOLS:
            b = QPushButton(TOOL_NAMES.get(name, TOOL_TITLES[name].split(" (")[0]))
            b.setToolTip(TOOL_TITLES[name])
            b.setCheckable(True)
            b.setIcon(icon(name))
            b.clicked.connect(lambda _c=False, n=name: tools.set_tool(n))
            group.addButton(b)
            row.addWidget(b)
            self.tool_buttons[name] = b
        layout.addLayout(row)

        form = QFormLayout()
        cls_row = QHBoxLayout()
        self.class_buttons: dict[str, QRadioButton] = {}
        for cls in (*CLASSES, EXCLUDE):
            rb = QRadioButton("Exclude" if cls == EXCLUDE else cls.capitalize())
            if cls == EXCLUDE:
                rb.setToolTip(
                    "Exclusion mask (X): hair, beard, glasses; removed from both classes' GT"
                )
            else:
                rb.setToolTip(f"Paint {cls} rough masks ({cls[0].upper()}; Tab switches the class)")
            rb.clicked.connect(lambda _c=False, c=cls: tools.set_class(c))
            cls_row.addWidget(rb)
            self.class_buttons[cls] = rb
        form.addRow("Class (Tab)", cls_row)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(MIN_RADIUS, 60)
        self.spin = QSpinBox()
        self.spin.setRange(MIN_RADIUS, MAX_RADIUS)
        self.spin.setSuffix(" px")
        for w in (self.slider, self.spin):
            w.setToolTip("Brush and eraser radius in image pixels ([ smaller, ] bigger)")
        self.slider.valueChanged.connect(tools.set_radius)
        self.spin.valueChanged.connect(tools.set_radius)
        size_row = QHBoxLayout()
        size_row.addWidget(self.slider, 1)
        size_row.addWidget(self.spin)
        form.addRow("Radius ([ ])", size_row)
        self.snap_box = QCheckBox("Snap to wrinkle centreline (S)")
        self.snap_box.setToolTip(
            "Wrinkle brush strokes follow the dark ridge near the pointer and take its width "
            "(the polyline tool always snaps)"
        )
        self.snap_box.toggled.connect(tools.set_snap)
        form.addRow("", self.snap_box)
        layout.addLayout(form)

        self.clear_button = QPushButton("Clear class")
        self.clear_button.setToolTip("Erase the active class on this image (undoable)")
        self.clear_button.clicked.connect(on_clear)
        layout.addWidget(self.clear_button)
        layout.addStretch(1)

        tools.changed.connect(self.sync)
        layers.colorsChanged.connect(self.sync)
        self.sync()

    def sync(self) -> None:
        t = self.tools
        self.tool_buttons[t.tool].setChecked(True)
        for cls, rb in self.class_buttons.items():
            rb.setChecked(cls == t.cls)
            color = EXCLUDE_COLOR if cls == EXCLUDE else self.layers.color(cls)
            rb.setStyleSheet(f"QRadioButton {{ color: {color}; font-weight: bold; }}")
        for w in (self.slider, self.spin):
            w.blockSignals(True)
            w.setValue(t.radius)
            w.blockSignals(False)
        self.snap_box.blockSignals(True)
        self.snap_box.setChecked(t.snap)
        self.snap_box.blockSignals(False)
