"""The active tool, class and brush size (shared by the canvas and the tools panel)."""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import QObject, Signal

from core.classes import CLASSES, LAYER_NAMES

ToolName = Literal["brush", "eraser", "lasso", "pore", "polyline"]
TOOLS: tuple[ToolName, ...] = ("brush", "eraser", "lasso", "pore", "polyline")

MIN_RADIUS = 1
MAX_RADIUS = 200


class ToolState(QObject):
    """Which tool paints which class with which brush radius (image pixels), and whether
    wrinkle brush strokes snap to the dark centreline under them."""

    changed = Signal()

    def __init__(self, *, radius: int = 6, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tool: ToolName = "brush"
        self._cls: str = CLASSES[0]
        self._radius = self._clamp(radius)
        self._snap = False

    @staticmethod
    def _clamp(radius: float) -> int:
        return int(min(MAX_RADIUS, max(MIN_RADIUS, round(radius))))

    @property
    def tool(self) -> ToolName:
        return self._tool

    @property
    def cls(self) -> str:
        return self._cls

    @property
    def radius(self) -> int:
        return self._radius

    @property
    def snap(self) -> bool:
        """Brush strokes of the wrinkle class follow the dark ridge (centreline snapping)."""
        return self._snap

    def set_snap(self, on: bool) -> None:
        if bool(on) != self._snap:
            self._snap = bool(on)
            self.changed.emit()

    def toggle_snap(self) -> None:
        self.set_snap(not self._snap)

    def set_tool(self, tool: ToolName) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; expected one of {', '.join(TOOLS)}")
        if tool == "pore":
            self._cls = "pore"  # the pore picker only ever adds pores
        if tool != self._tool:
            self._tool = tool
            self.changed.emit()

    def set_class(self, cls: str) -> None:
        """Paint ``cls``: a class, or ``"exclude"`` (the exclusion mask)."""
        if cls not in LAYER_NAMES:
            raise ValueError(f"unknown class {cls!r}; expected one of {', '.join(LAYER_NAMES)}")
        if cls != self._cls:
            self._cls = cls
            self.changed.emit()

    def next_class(self) -> None:
        i = CLASSES.index(self._cls) if self._cls in CLASSES else -1
        self.set_class(CLASSES[(i + 1) % len(CLASSES)])

    def set_radius(self, radius: float) -> None:
        radius = self._clamp(radius)
        if radius != self._radius:
            self._radius = radius
            self.changed.emit()

    def grow(self) -> None:
        """Bigger brush: +1 px when small, about +15 % when large."""
        self.set_radius(max(self._radius + 1, self._radius * 1.15))

    def shrink(self) -> None:
        self.set_radius(min(self._radius - 1, self._radius / 1.15))
