"""Output folders SkinTrace may write: destructive targets are refused before any write.

A command that writes a folder (``export``, ``dataset from-masks``) checks its target
with :func:`check_output_folder` first. Refused, with and without ``--force``:

* the user's home folder, or a folder that contains it (``/``, ``/home``);
* a folder that is, contains or is inside a protected folder: the project being
  exported, an input folder of the command. Inside a project only its ``exports/`` and
  ``models/`` sub-folders may hold outputs;
* a folder inside any other SkinTrace project (a folder up the tree holds
  ``catalog.sqlite``), outside its ``exports/`` and ``models/``;
* with ``--force``, a non-empty folder SkinTrace did not write: ``--force`` replaces only
  folders that carry SkinTrace's marker file (see the caller's ``is_ours``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from core.errors import DatasetError

#: Sub-folders of a project meant for what is made from it (datasets, checkpoints).
OUTPUT_SUBFOLDERS = ("exports", "models")
_CATALOG = "catalog.sqlite"


class UnsafeTargetError(DatasetError):
    """An output folder would overwrite or delete files SkinTrace must not touch."""


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().absolute().resolve()


def _inside(child: Path, parent: Path) -> bool:
    return child != parent and child.is_relative_to(parent)


def _in_outputs(out: Path, project: Path) -> bool:
    """True if ``out`` is strictly below ``project/exports`` or ``project/models``."""
    return any(_inside(out, project / sub) for sub in OUTPUT_SUBFOLDERS)


def _project_above(out: Path) -> Path | None:
    for folder in (out, *out.parents):
        if (folder / _CATALOG).is_file():
            return folder
    return None


def check_output_folder(
    out: str | os.PathLike[str],
    *,
    force: bool,
    is_ours: Callable[[Path], bool],
    protected: Iterable[tuple[str | os.PathLike[str], str]] = (),
    what: str = "output",
) -> None:
    """Refuse ``out`` if writing there could destroy the user's files.

    Parameters
    ----------
    out : path
        The folder about to be created or replaced.
    force : bool
        The user asked to replace a non-empty ``out``.
    is_ours : callable
        True for a folder SkinTrace wrote (it carries the marker file); only such
        folders are replaced with ``force``.
    protected : iterable of (path, label)
        Folders ``out`` must not be, contain or lie in, with words for the message
        (``"the project"``, ``"the image folder"``).
    what : str
        What is written, for the message (``"dataset"``).

    Raises
    ------
    UnsafeTargetError
        One line naming ``out`` and the reason; nothing has been written.
    """
    real = _real(out)
    shown = Path(out)
    home = _real(Path.home())
    if real == home:
        raise UnsafeTargetError(f"{shown} is your home folder; choose a new folder for the {what}")
    if _inside(home, real):
        raise UnsafeTargetError(
            f"{shown} contains your home folder; choose a new folder for the {what}"
        )
    for path, label in protected:
        p = _real(path)
        if real == p:
            raise UnsafeTargetError(f"{shown} is {label}; choose a new folder for the {what}")
        if _inside(p, real):
            raise UnsafeTargetError(
                f"{shown} contains {label} ({p}); choose a new folder for the {what}"
            )
        if _inside(real, p) and not ((p / _CATALOG).is_file() and _in_outputs(real, p)):
            raise UnsafeTargetError(
                f"{shown} is inside {label} ({p}); choose a folder outside it"
                + (" or in its exports/ folder" if (p / _CATALOG).is_file() else "")
            )
    project = _project_above(real)
    if project == real:
        raise UnsafeTargetError(
            f"{shown} is a SkinTrace project; choose a new folder for the {what}"
        )
    if project is not None and not _in_outputs(real, project):
        raise UnsafeTargetError(
            f"{shown} is inside the SkinTrace project {project}; choose a folder outside it "
            "or in its exports/ folder"
        )
    if not os.path.lexists(real):
        return
    if not real.is_dir():
        raise UnsafeTargetError(f"{shown} exists and is not a folder")
    if not any(real.iterdir()):
        return
    if not force:
        raise UnsafeTargetError(f"{shown} is not empty; choose another folder or use --force")
    if not is_ours(real):
        raise UnsafeTargetError(
            f"{shown} is not a folder SkinTrace wrote (no SkinTrace {what} marker); "
            "--force only replaces those; choose another folder"
        )
