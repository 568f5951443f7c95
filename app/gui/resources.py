"""Access to resources/: default settings, style sheet and SVG icons."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

from PySide6.QtGui import QIcon


def _find_resources() -> Path:
    """resources/ of a source checkout, an installed wheel, or a PyInstaller bundle."""
    candidates = [
        Path(__file__).resolve().parents[2] / "resources",  # source checkout / editable install
        Path(sys.prefix) / "share" / "skintrace" / "resources",  # wheel (data-files)
        Path(getattr(sys, "_MEIPASS", sys.prefix)) / "resources",  # PyInstaller bundle
    ]
    for path in candidates:
        if (path / "default_settings.json").is_file():
            return path
    return candidates[0]


RESOURCES = _find_resources()

_FALLBACK: dict[str, Any] = {
    "brush_radius": 6,
    "colors": {"wrinkle": "#D55E00", "pore": "#56B4E9"},
    "autosave_ms": 2000,
    "layers": {
        "image": {"visible": True, "opacity": 1.0},
        "rough": {"visible": True, "opacity": 0.35},
        "texture": {"visible": False, "opacity": 0.6},
        "gt": {"visible": True, "opacity": 0.9},
        "prediction": {"visible": True, "opacity": 0.6},
    },
}


@functools.cache
def default_settings() -> dict[str, Any]:
    """resources/default_settings.json merged over built-in fallbacks."""
    settings = json.loads(json.dumps(_FALLBACK))
    path = RESOURCES / "default_settings.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return settings
    for key, value in loaded.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key].update(value)
        else:
            settings[key] = value
    return settings


def style_sheet() -> str:
    path = RESOURCES / "style.qss"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def icon(name: str) -> QIcon:
    """An icon from resources/icons/NAME.svg (empty icon if missing)."""
    path = RESOURCES / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
