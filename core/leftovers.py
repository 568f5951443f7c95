"""Find and remove what killed runs left behind: temp files, partial folders, swaps.

Every write that can be interrupted leaves a recognisable name:

* :func:`core.atomic.atomic_open` writes ``.<name>.<pid>-XXXX.tmp`` next to the file;
* :func:`core.model.checkpoint.save_checkpoint` builds ``.<name>.<pid>-XXXX.tmp/``;
* :func:`core.dataset.write_dataset` builds ``<name>.partial-<pid>-XXXX/``;
* :func:`core.atomic.replace_folder` parks the old folder at
  :func:`core.atomic.previous_folder` while it swaps.

The ``<pid>`` is the writing process: an entry whose process still runs on this
machine is never touched, so a cleanup can run while another export or training is
writing next to it. Names without a pid (older SkinTrace versions, or the mask store's
own temps under the project's writer lock) count as left over only where the caller
says no other writer can be active (``unowned=True``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.atomic import previous_folder

_TEMP = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+\.tmp$")
_PARTIAL = re.compile(r"^(?P<name>.+)\.partial-(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Cleanup:
    """What a cleanup removed (or put back), with the bytes freed."""

    removed: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()
    bytes_freed: int = 0

    def __add__(self, other: Cleanup) -> Cleanup:
        return Cleanup(
            self.removed + other.removed,
            self.restored + other.restored,
            self.bytes_freed + other.bytes_freed,
        )

    def __bool__(self) -> bool:
        return bool(self.removed or self.restored)

    def lines(self) -> list[str]:
        """One line per thing done, for a log or the CLI."""
        out = [f"removed {p}" for p in self.removed]
        out += [f"restored {p} (a killed run had left it unfinished)" for p in self.restored]
        return out

    def summary(self) -> str:
        """``"removed 3 leftover(s) of killed runs (12.5 MB)"`` or ``"nothing left over"``."""
        if not self:
            return "nothing left over"
        parts = []
        if self.removed:
            mb = self.bytes_freed / 1e6
            parts.append(f"removed {len(self.removed)} leftover(s) of killed runs ({mb:.1f} MB)")
        if self.restored:
            parts.append(f"restored {len(self.restored)} file(s) or folder(s) a killed run left")
        return "; ".join(parts)


def writer_alive(pid: int) -> bool:
    """True if process ``pid`` runs on this machine (or cannot be checked: be careful)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process
    return True


def temp_owner(name: str) -> tuple[bool, int | None]:
    """``(is_temp, pid)`` for an entry name: is it a SkinTrace temp, and whose?"""
    m = _TEMP.match(name) or _PARTIAL.match(name)
    if m is None:
        return False, None
    pid = m.group("pid")
    return True, int(pid) if pid else None


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(OSError):
            return path.lstat().st_size
        return 0
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / f).lstat().st_size
    return total


def _remove(path: Path, *, dry_run: bool = False) -> int:
    size = _size(path)
    if dry_run:
        return size
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return 0
    return size


def _is_leftover(name: str, *, unowned: bool) -> bool:
    is_temp, pid = temp_owner(name)
    if not is_temp:
        return False
    return unowned if pid is None else not writer_alive(pid)


def clean_folder(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = False,
    unowned: bool = False,
    swaps: bool = False,
    dry_run: bool = False,
) -> Cleanup:
    """Remove the temp files and partial folders of dead writers in ``folder``.

    Parameters
    ----------
    folder : path
        Looked at if it exists; nothing happens otherwise.
    recursive : bool
        Also look inside sub-folders (a project's ``models/`` or ``exports/``).
    unowned : bool
        Treat temps that carry no pid as left over; only where no other writer can be
        active (the caller holds the project's writer lock).
    swaps : bool
        Also settle every ``.<name>.previous`` folder (:func:`replace_folder_leftovers`);
        only in folders SkinTrace owns (a project's, a training output), since a user's
        own folder may hold such names.
    dry_run : bool
        Only report what would be removed (and its size).
    """
    root = Path(folder)
    if not root.is_dir():
        return Cleanup()
    removed: list[str] = []
    restored: list[str] = []
    freed = 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in [*filenames, *dirnames]:
            path = here / name
            if _is_leftover(name, unowned=unowned):
                freed += _remove(path, dry_run=dry_run)
                removed.append(str(path))
            elif swaps and name.startswith(".") and name.endswith(".previous") and path.is_dir():
                target = here / name[1 : -len(".previous")]
                result = replace_folder_leftovers(target, dry_run=dry_run)
                freed += result.bytes_freed
                removed += result.removed
                restored += result.restored
        gone = set(removed)
        keep = [d for d in dirnames if str(here / d) not in gone and (here / d).is_dir()]
        dirnames[:] = keep if recursive else []
    return Cleanup(tuple(removed), tuple(restored), freed)


def replace_folder_leftovers(target: str | os.PathLike[str], *, dry_run: bool = False) -> Cleanup:
    """Settle an interrupted :func:`core.atomic.replace_folder` of ``target``.

    The one place that knows the swap's names. If ``target`` exists, the old copy at
    :func:`~core.atomic.previous_folder` is no longer needed and is removed; if the run
    died between the two renames, the old complete folder is put back as ``target``.
    """
    target = Path(target)
    prev = previous_folder(target)
    if not prev.is_dir():
        return Cleanup()
    if target.exists():
        size = _remove(prev, dry_run=dry_run)
        return Cleanup(removed=(str(prev),), bytes_freed=size)
    if dry_run:
        return Cleanup(restored=(str(target),))
    try:
        os.replace(prev, target)
    except OSError:
        return Cleanup()
    return Cleanup(restored=(str(target),))


def temp_name_prefix(name: str) -> str:
    """``.<name>.<pid>-``: the prefix of a temp entry this process makes for ``name``."""
    return f".{name}.{os.getpid()}-"


def partial_prefix(name: str) -> str:
    """``<name>.partial-<pid>-``: the prefix of a dataset folder being written."""
    return f"{name}.partial-{os.getpid()}-"


__all__ = [
    "Cleanup",
    "clean_folder",
    "partial_prefix",
    "replace_folder_leftovers",
    "temp_name_prefix",
    "temp_owner",
    "writer_alive",
]
