"""Project storage: SQLite catalog, masks on disk, status workflow, import, export.

See docs/projects.md for the folder layout, the status workflow and what happens
when two SkinTrace processes open the same project.
"""

from core.project.catalog import Project
from core.project.lock import current_user
from core.project.masks import MaskFileError
from core.project.models import ModelRecord
from core.project.records import HistoryEntry, ImageRecord
from core.project.status import TRANSITIONS, Status

__all__ = [
    "TRANSITIONS",
    "HistoryEntry",
    "ImageRecord",
    "MaskFileError",
    "ModelRecord",
    "Project",
    "Status",
    "current_user",
]
