"""Atomic file writes: temp file in the same folder, flush, fsync, ``os.replace``.

A full disk (``ENOSPC``) or an exhausted quota (``EDQUOT``) while writing raises
:class:`~core.errors.DiskFullError` naming the file; the temp file is removed and the
previous file is left as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TypeGuard

from core.errors import DiskFullError

#: ``errno`` values that mean "no room left", whatever the file system calls it.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def is_disk_full(exc: BaseException) -> TypeGuard[OSError]:
    """True if ``exc`` is an OSError saying the disk or the user's quota is full."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it and put it back
    os.umask(mask)
    return mask


def default_mode(*, folder: bool = False) -> int:
    """The permissions ``open()`` (0666) or ``mkdir`` (0777) would give under the umask."""
    return (0o777 if folder else 0o666) & ~_current_umask()


def make_temp_dir(parent: str | os.PathLike[str], *, prefix: str, suffix: str = "") -> Path:
    """``tempfile.mkdtemp`` in ``parent``, with the permissions ``mkdir`` would give.

    Folders built under a temp name and renamed into place (datasets, checkpoints)
    would otherwise stay 0700, private to their writer.
    """
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    os.chmod(tmp, default_mode(folder=True))
    return tmp


def previous_folder(target: Path) -> Path:
    """Where :func:`replace_folder` puts the old ``target`` once the new one is in place.

    In the fallback swap (no ``RENAME_EXCHANGE``) the old folder waits here *before* the
    new one is renamed in, so a kill between the two renames leaves ``target`` missing and
    this folder complete: :func:`restore_folder` (and checkpoint readers) use it.
    """
    return target.with_name(f".{target.name}.previous")


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
#: errno values of ``renameat2`` that mean "this kernel or file system cannot exchange".
_NO_EXCHANGE_ERRNOS = frozenset(
    {errno.EINVAL, errno.ENOSYS, getattr(errno, "ENOTSUP", errno.EINVAL), errno.EPERM}
)


def _load_renameat2() -> Any:
    """``renameat2`` from the C library, or None (not Linux, or glibc older than 2.28)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


#: ``renameat2`` when the platform has it; tests set it to None to exercise the fallback.
_renameat2: Any = _load_renameat2()


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one atomic step; False where that is not possible.

    Raises
    ------
    OSError
        For any failure other than "exchange not supported here".
    """
    if _renameat2 is None:
        return False
    ret = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if ret == 0:
        return True
    err = ctypes.get_errno()
    if err in _NO_EXCHANGE_ERRNOS:
        return False
    raise OSError(err, os.strerror(err), str(b))


def _rename(src: Path, dst: Path) -> None:
    os.rename(src, dst)


def _fsync_dir(folder: Path) -> None:
    """Make the names in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on folders
            os.fsync(fd)
    finally:
        os.close(fd)


def restore_folder(target: str | os.PathLike[str]) -> str | None:
    """Finish what a killed :func:`replace_folder` left at ``target``.

    * ``target`` missing and :func:`previous_folder` present (killed between the two
      renames of the fallback swap): the old folder is renamed back to ``target``.
    * both present (killed after the swap, before the old one was deleted): the old
      folder is deleted.

    Returns
    -------
    str or None
        ``"restored"``, ``"removed"`` or None when there was nothing to do.
    """
    target = Path(target)
    prev = previous_folder(target)
    if not prev.is_dir() or prev.is_symlink():
        return None
    if not os.path.lexists(target):
        _rename(prev, target)
        _fsync_dir(target.parent)
        return "restored"
    shutil.rmtree(prev)
    return "removed"


def replace_folder(tmp: Path, target: Path) -> None:
    """Move the complete folder ``tmp`` to ``target``, replacing a folder there.

    There is no moment at which neither version is at ``target``:

    1. :func:`restore_folder` first finishes a swap an earlier run was killed in;
       ``tmp`` and its parent are fsynced.
    2. ``target`` absent: ``rename(tmp, target)``.
    3. ``target`` present, Linux with ``renameat2(RENAME_EXCHANGE)``: the two names
       are exchanged in one atomic step; the old folder (now at ``tmp``) is renamed to
       :func:`previous_folder` and deleted.
    4. Otherwise (other systems, file systems without exchange): ``target`` is renamed to
       :func:`previous_folder`, ``tmp`` to ``target``, and the old folder deleted. A
       failure between the two renames puts the old folder back.

    **What a kill can leave** (SIGKILL, power loss), and who cleans it up:

    * before the swap: ``tmp`` (the caller's temp name, e.g. ``OUT.partial-XXXX`` for
      datasets, ``.NAME.XXXX.tmp`` for checkpoints) beside an unchanged ``target``.
      Such folders are never in use once their writer is gone; delete them.
    * during a fallback swap: no ``target``, the complete old folder at
      ``.NAME.previous``. :func:`restore_folder` renames it back (every
      ``replace_folder`` on that target calls it first; checkpoint readers read it).
    * after the swap: the new ``target`` and a complete or half-deleted
      ``.NAME.previous``, or (exchange path) the old folder still at the ``tmp`` name.
      :func:`restore_folder` deletes ``.NAME.previous``; the ``tmp`` name is deleted as
      in the first case.

    So a repair tool finds leftovers as the siblings of ``target`` named
    ``.NAME.previous`` (call :func:`restore_folder`) and the writer's temp names.

    Parameters
    ----------
    tmp : Path
        A complete folder in the same folder as ``target`` (same file system).
    target : Path
        Where it goes.
    """
    tmp, target = Path(tmp), Path(target)
    parent = target.parent
    restore_folder(target)
    _fsync_dir(tmp)
    if not os.path.lexists(target):
        _rename(tmp, target)
        _fsync_dir(parent)
        return
    prev = previous_folder(target)
    if _exchange(tmp, target):
        _fsync_dir(parent)
        _rename(tmp, prev)  # the old folder, under the one name restore_folder knows
    else:
        _rename(target, prev)
        try:
            _rename(tmp, target)
        except BaseException:
            # Not a kill (that runs no code): put the old folder back where it was.
            if not os.path.lexists(target):
                with contextlib.suppress(OSError):
                    _rename(prev, target)
            raise
    _fsync_dir(parent)
    shutil.rmtree(prev, ignore_errors=True)


def _target_mode(target: Path) -> int:
    """Permissions for the replacement: the old file's, else what ``open()`` would give.

    ``mkstemp`` makes the temp file 0600; left as is, every replaced file would become
    private to its writer (a shared dataset or project unreadable by colleagues).
    """
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return default_mode()


def disk_full_error(
    path: str | os.PathLike[str],
    exc: OSError,
    *,
    what: str = "",
    kept: str = "the previous version is unchanged",
) -> DiskFullError:
    """A :class:`DiskFullError` for ``exc`` raised while writing ``path``.

    ``what`` says what was being written (``"the rough masks of image 3"``) and
    ``kept`` what survived; the message always names the path and asks to free space.
    """
    subject = f"{what} to {path}" if what else str(path)
    # A DiskFullError's strerror is already a whole message: quoting it would say
    # everything twice. Its errno still names the cause.
    inner = isinstance(exc, DiskFullError) or not exc.strerror
    reason = os.strerror(exc.errno or errno.ENOSPC) if inner else exc.strerror
    return DiskFullError(
        exc.errno or errno.ENOSPC,
        f"disk full: cannot write {subject} ({reason}); free some space and try again, {kept}",
        str(path),
    )


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    If the block raises, the temporary file is removed and ``path`` is untouched,
    so readers always see either the old complete file or the new complete file.
    A full disk raises :class:`~core.errors.DiskFullError` naming ``path``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports 'w' and 'wb', not {mode!r}")
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # The pid in the name tells a later cleanup whether the writer still runs
        # (core.leftovers); a killed writer's temp is removed by its next run. The
        # target's name is cut short: a 250-byte file name must still fit.
        short = os.fsencode(target.name)[:100].decode("utf-8", "ignore") or "f"
        prefix = f".{short}.{os.getpid()}-"
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(target, exc) from exc
        raise
    try:
        os.chmod(tmp, _target_mode(target))
        fh: IO[Any]
        if mode == "w":
            fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        else:
            fh = os.fdopen(fd, "wb")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_disk_full(exc) and not isinstance(exc, DiskFullError):
            raise disk_full_error(target, exc) from exc
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as fh:
        fh.write(text)
