"""Where each workstation finds a team project's images: a per-machine root mapping.

A team catalog stores image paths relative to the project's image root (the share),
and each workstation mounts the share where it likes. This machine's roots are a small
JSON file, ``team_roots.json`` in SkinTrace's config folder (``$SKINTRACE_CONFIG_DIR``,
else ``$XDG_CONFIG_HOME/skintrace``, else ``~/.config/skintrace``)::

    {"roots": {"<project id>": "/mnt/skin-share/study-7"}}

The project id is the catalog's ``meta.project_id`` (a UUID made when the team project
is created), so renaming the database or its host does not lose the mapping. The same
content hash the importer keys on lets ``relink`` find files again under a new root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.atomic import atomic_write_text
from core.bounded import loads_bounded
from core.errors import ProjectError

ROOTS_FILE = "team_roots.json"


def config_dir() -> Path:
    """SkinTrace's per-user config folder (not created here)."""
    explicit = os.environ.get("SKINTRACE_CONFIG_DIR", "").strip()
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "skintrace"


def _load(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ProjectError(f"{path} cannot be read ({exc.strerror})") from None
    data = loads_bounded(text, what=str(path), error=ProjectError)
    roots = data.get("roots") if isinstance(data, dict) else None
    if not isinstance(roots, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in roots.items()
    ):
        raise ProjectError(f"{path} is not a SkinTrace roots file; fix or delete it")
    return dict(roots)


def image_root(project_id: str) -> Path | None:
    """This machine's image root for a team project, or None if none is set."""
    root = _load(config_dir() / ROOTS_FILE).get(project_id)
    return Path(root) if root else None


def set_image_root(project_id: str, root: str | os.PathLike[str]) -> Path:
    """Remember ``root`` (made absolute) as this machine's image root for the project."""
    path = config_dir() / ROOTS_FILE
    roots = _load(path)
    absolute = Path(root).expanduser().absolute()
    roots[project_id] = str(absolute)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"roots": roots}, indent=2, sort_keys=True) + "\n")
    return absolute
