"""The writer lock: one writing SkinTrace per project, any number of readers.

``fcntl.flock`` on ``<project>/.skintrace.lock``. The kernel drops the lock when the
holding process exits or is killed, so a crash never leaves a stale lock. The file
holds ``user@host pid N`` of the holder for the message the second writer sees.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
from pathlib import Path

from core.errors import ProjectLockedError, ProjectNotWritableError

LOCK_NAME = ".skintrace.lock"


def current_user() -> str:
    """The user name for history: ``$SKINTRACE_USER``, else the login name."""
    name = os.environ.get("SKINTRACE_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class WriterLock:
    """An exclusive, non-blocking advisory lock on a project folder."""

    def __init__(self, folder: Path, *, user: str) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ProjectNotWritableError(
                f"{folder} cannot be opened for writing ({exc.strerror}); open it read-only?"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(fd)
            os.close(fd)
            raise ProjectLockedError(
                f"{folder} is open in another SkinTrace ({holder}); open it read-only?"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        info = {"user": user, "host": socket.gethostname(), "pid": os.getpid()}
        # Who holds the lock is only shown to others; a full disk must not stop the open.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)

    def __del__(self) -> None:
        self.release()

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor releases the flock


def _describe(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"{info['user']}@{info['host']} pid {info['pid']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
