"""Atomic file writes: temp file in the same folder, flush, fsync, ``os.replace``.

A full disk (``ENOSPC``) or an exhausted quota (``EDQUOT``) while writing raises
:class:`~core.errors.DiskFullError` naming the file; the temp file is removed and the
previous file is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
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
    """Where :func:`replace_folder` keeps the old ``target`` while it swaps folders."""
    return target.with_name(f".{target.name}.previous")


def replace_folder(tmp: Path, target: Path) -> None:
    """Move the complete folder ``tmp`` to ``target``, replacing a folder there.

    The old folder waits at :func:`previous_folder` until the new one is in place, so a
    crash in between leaves a complete version on disk (readers may fall back to it).
    """
    prev = previous_folder(target)
    if prev.exists():
        shutil.rmtree(prev)
    if target.exists():
        os.replace(target, prev)
    os.replace(tmp, target)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(prev)


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
        # (core.leftovers); a killed writer's temp is removed by its next run.
        prefix = f".{target.name}.{os.getpid()}-"
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
