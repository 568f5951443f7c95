"""Exceptions with messages a user can act on."""

from __future__ import annotations

import os


def shown_path(path: str | os.PathLike[str]) -> str:
    """``path`` as text safe in a one-line message: bytes that are not UTF-8 become
    ``\\xNN`` escapes, control characters (a newline in a file name) their escapes."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    if any(ch < " " or ch == "\x7f" for ch in text):
        text = text.encode("unicode_escape").decode("ascii")
    return text


class SkinTraceError(Exception):
    """Base class for every error SkinTrace reports to a user (one-line message)."""


class ImageLoadError(SkinTraceError, ValueError):
    """An image file cannot be read: missing, corrupt, truncated, too large or not an image."""


class SettingError(SkinTraceError, ValueError):
    """An option is out of range or unknown (epochs, batch size, device, split, ...).

    Also a :class:`ValueError`, as Python code calling the API expects for bad arguments.
    """


class ProjectError(SkinTraceError):
    """A project folder or catalog cannot be used as asked."""


class ProjectLockedError(ProjectError):
    """The project is open for writing in another process (it can still be opened read-only)."""


class ProjectNotWritableError(ProjectError):
    """The project folder cannot be written (permissions, a read-only medium); read-only works."""


class DatasetError(SkinTraceError):
    """A GT dataset folder or manifest is invalid."""


class CheckpointError(SkinTraceError):
    """A model checkpoint is missing, corrupt or incompatible."""


class DiskFullError(SkinTraceError, OSError):
    """The disk or the user's quota is full; the write was undone and older files kept.

    Also an :class:`OSError` (``errno`` ENOSPC or EDQUOT, ``filename`` the path), so
    code that handles OS errors still sees it; ``str()`` is the one-line message.
    """

    def __str__(self) -> str:
        return str(self.strerror) if self.strerror else super().__str__()


class Cancelled(SkinTraceError):
    """Long work was cancelled by the user."""
