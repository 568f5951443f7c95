"""What the window remembers per project (QSettings): the image, view, tool and layers.

Closing a project (or the window) stores the open image, the zoom and view centre (or
"fitted"), the tool, class and brush radius, and every layer's visibility and opacity
under a key of the project's folder; opening the project again restores them. Values
that no longer make sense (an image removed since, a damaged entry) are skipped: the
window then opens the first *new* image, fitted, with the defaults.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QSettings

from core.classes import CLASSES, LAYER_NAMES

from .layers import LAYERS
from .tools import TOOLS

if TYPE_CHECKING:
    from .canvas import ImageCanvas
    from .layers import LayersModel
    from .session import AnnotationSession
    from .tools import ToolState


class ViewHost(Protocol):
    """The parts of the window whose state is remembered per project."""

    @property
    def session(self) -> AnnotationSession | None: ...
    @property
    def canvas(self) -> ImageCanvas: ...
    @property
    def layers(self) -> LayersModel: ...
    @property
    def tools(self) -> ToolState: ...


#: The QSettings group of the per-project states.
GROUP = "projects"


@dataclass(frozen=True)
class WindowState:
    """The part of the window restored when a project is opened again."""

    image_id: Any = None
    #: (zoom, centre row, centre col), or None when the image was fitted.
    view: tuple[float, float, float] | None = None
    tool: str = "brush"
    cls: str = CLASSES[0]
    radius: int | None = None
    #: layer name -> (visible, opacity)
    layers: dict[str, tuple[bool, float]] = field(default_factory=dict)


def project_key(root: str | Path) -> str:
    """A QSettings-safe key of a project folder (its resolved path, hashed)."""
    path = str(Path(root).expanduser().resolve())
    return f"{GROUP}/{hashlib.sha1(path.encode()).hexdigest()[:16]}"


def capture(window: ViewHost) -> WindowState | None:
    """The state of ``window``'s open project (None when none is open)."""
    s = window.session
    if s is None:
        return None
    image_id = None if s.current is None else s.current.image_id
    layers: dict[str, tuple[bool, float]] = {}
    for name in LAYERS:
        state = window.layers.state(name)
        layers[name] = (state.visible, state.opacity)
    return WindowState(
        image_id=image_id,
        view=window.canvas.view_state() if image_id is not None else None,
        tool=window.tools.tool,
        cls=window.tools.cls,
        radius=window.tools.radius,
        layers=layers,
    )


def save(window: ViewHost) -> None:
    """Store ``window``'s state under its project's key."""
    state = capture(window)
    if state is None or window.session is None:
        return
    data = {
        "image_id": state.image_id,
        "view": list(state.view) if state.view is not None else None,
        "tool": state.tool,
        "cls": state.cls,
        "radius": state.radius,
        "layers": {k: list(v) for k, v in state.layers.items()},
    }
    QSettings().setValue(project_key(window.session.project.root), json.dumps(data))


def load(root: str | Path) -> WindowState | None:
    """The stored state of the project in ``root``; None if there is none or it is unreadable."""
    raw = QSettings().value(project_key(root), None)
    if not raw:
        return None
    try:
        data = json.loads(str(raw))
        view = data.get("view")
        layers = {
            str(k): (bool(v[0]), float(v[1]))
            for k, v in dict(data.get("layers") or {}).items()
            if k in LAYERS
        }
        return WindowState(
            image_id=data.get("image_id"),
            view=(float(view[0]), float(view[1]), float(view[2])) if view else None,
            tool=data.get("tool") if data.get("tool") in TOOLS else "brush",
            cls=data.get("cls") if data.get("cls") in LAYER_NAMES else CLASSES[0],
            radius=int(data["radius"]) if data.get("radius") is not None else None,
            layers=layers,
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None  # a damaged entry: start with the defaults


def apply_tools_and_layers(window: ViewHost, state: WindowState) -> None:
    """Restore tool, class, radius and layer states (the image and view are the window's)."""
    window.tools.set_tool(state.tool)  # type: ignore[arg-type]
    window.tools.set_class(state.cls)
    if state.radius is not None:
        window.tools.set_radius(state.radius)
    for name, (visible, opacity) in state.layers.items():
        window.layers.set_visible(name, visible)
        window.layers.set_opacity(name, opacity)
