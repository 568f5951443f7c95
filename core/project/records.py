"""Value types of the project catalog: image records, history entries, UTC stamps.

Split out of :mod:`core.project.catalog` to keep it short; import them from either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import ProjectError
from core.project.status import Status


def utc_now() -> str:
    """The current UTC time as stored in the catalog, e.g. ``2026-11-25T12:00:00.000Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ImageRecord:
    """One image of a project, as listed by :meth:`Project.images`."""

    id: int
    name: str
    #: Absolute path of the image file (it may be missing; see ``missing_images``).
    path: Path
    status: Status
    content_hash: str
    rows: int
    cols: int
    size_bytes: int
    copied: bool
    has_params_override: bool
    updated: str


@dataclass(frozen=True)
class HistoryEntry:
    """One status change of one image."""

    image_id: int
    from_status: Status | None
    to_status: Status
    user: str
    time: str
    comment: str


class StaleSaveError(ProjectError):
    """A save based on masks someone else has saved over since they were loaded."""

    def __init__(self, image_id: int, cls: str, *, user: str, saved_utc: str) -> None:
        self.image_id, self.cls, self.user, self.saved_utc = image_id, cls, user, saved_utc
        when = saved_utc[11:16] + " UTC" if len(saved_utc) >= 16 else saved_utc
        super().__init__(
            f"image {image_id} ({cls}) was saved by {user} at {when} after you opened it; "
            "your changes were not saved: reopen the image and paint them again"
        )
